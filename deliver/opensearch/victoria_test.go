package opensearch_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/opensearch"
	"github.com/logdelivery/logdelivery/internal/victoriatest"
)

// A real round trip through VictoriaLogs' Elasticsearch bulk endpoint: the
// tenant is VictoriaLogs' numeric AccountID, sent as a static header of the
// settings with the fields VictoriaLogs reads the message and the time
// from; what arrived is queried back.
func TestVictoriaLogsRoundTrip(t *testing.T) {
	vl := victoriatest.Start(t)
	d, err := opensearch.New(func(o *opensearch.Options) {
		o.Policy = loopback(t, vl.URL)
		o.MaxRequestDocuments = 300 // several requests
	})
	require.NoError(t, err)
	defer d.Close()

	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	recs := make([]deliver.Record, 1000)
	for i := range recs {
		recs[i] = deliver.Record{Time: start.Add(time.Duration(i)*time.Millisecond + 123456), Message: fmt.Sprintf(`event %d "quoted" ünïcode`, i),
			Stream: "stdout", Container: "app", Labels: map[string]string{"app.kubernetes.io/name": "payments"}}
	}
	del := delivery(recs, map[string]any{
		"url":            vl.URL + "/insert/elasticsearch",
		"include_labels": true,
		"headers": map[string]any{
			"AccountID":        "7",
			"VL-Msg-Field":     "message",
			"VL-Time-Field":    "@timestamp",
			"VL-Stream-Fields": "kubernetes.namespace,kubernetes.pod",
		},
	})
	rcpt, err := d.Deliver(context.Background(), del)
	require.NoError(t, err)
	assert.Equal(t, int64(1000), rcpt.Events)
	assert.Equal(t, 4, rcpt.Calls)

	vl.Flush(t)
	var got []map[string]string
	deadline := time.Now().Add(15 * time.Second)
	for {
		got = vl.Query(t, 7, "*")
		if len(got) >= 1000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Len(t, got, 1000, "every document arrived once")
	slices.SortFunc(got, func(a, b map[string]string) int {
		ta, _ := time.Parse(time.RFC3339Nano, a["_time"])
		tb, _ := time.Parse(time.RFC3339Nano, b["_time"])
		return ta.Compare(tb)
	})
	for i, e := range got {
		assert.Equal(t, recs[i].Message, e["_msg"])
		ts, err := time.Parse(time.RFC3339Nano, e["_time"])
		require.NoError(t, err)
		assert.True(t, recs[i].Time.Equal(ts), "the record's time to the nanosecond: %v, want %v", ts, recs[i].Time)
		assert.Equal(t, `{kubernetes.namespace="acme",kubernetes.pod="payments-0"}`, e["_stream"])
		assert.Equal(t, "payments", e["kubernetes.labels.app_kubernetes_io/name"])
		assert.Equal(t, "prod-east-1", e["cluster"])
		assert.Equal(t, "stdout", e["stream"])
	}
	assert.Empty(t, vl.Query(t, 8, "*"), "another AccountID sees none of it")
}
