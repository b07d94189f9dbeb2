package metrics_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/metrics"
)

var t0 = time.Date(2025, 8, 30, 11, 0, 0, 0, time.UTC)

func results() []logdelivery.Result {
	acme := keyparse.Key{Tenant: "acme", Application: "api"}
	return []logdelivery.Result{
		{Key: acme, Destination: "cloudwatch", Outcome: logdelivery.Delivered, Object: logdelivery.Object{Time: t0},
			Started: t0.Add(2 * time.Second), Duration: 500 * time.Millisecond,
			Receipt: deliver.Receipt{Events: 100, Rejected: 2, Dropped: 3, Truncated: 1, Bytes: 4096}},
		{Key: acme, Destination: "cloudwatch", Outcome: logdelivery.Failed, Err: errors.New("throttled")},
		{Key: acme, Destination: "s3", Outcome: logdelivery.Failed, Err: fault.Permanent(errors.New("NoSuchBucket"))},
		{Key: acme, Destination: "s3:archive", Outcome: logdelivery.Skipped, Reason: logdelivery.ReasonFiltered},
		{Outcome: logdelivery.Failed, Err: fault.Permanent(errors.New("bad key"))},
	}
}

func TestEMF(t *testing.T) {
	var buf bytes.Buffer
	e := metrics.NewEMF(&buf, func(o *metrics.EMFOptions) { o.Now = func() time.Time { return t0 } })
	obs := metrics.Multi(e)
	for _, r := range results() {
		obs.ObserveResult(context.Background(), r)
	}
	require.NoError(t, e.Flush())

	docs := map[string]map[string]any{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var doc map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &doc))
		docs[doc["Tenant"].(string)+"/"+doc["DeliveryType"].(string)] = doc
	}
	require.Len(t, docs, 4)
	cw := docs["acme/cloudwatch"]
	assert.EqualValues(t, 1, cw["Delivered"])
	assert.EqualValues(t, 1, cw["Failed"])
	assert.EqualValues(t, 1, cw["FailedRetryable"])
	assert.EqualValues(t, 100, cw["EventsDelivered"])
	assert.EqualValues(t, 2, cw["EventsRejected"])
	assert.EqualValues(t, 3, cw["EventsDropped"])
	assert.EqualValues(t, 4096, cw["Bytes"])
	assert.Equal(t, []any{2500.0}, cw["Latency"], "object time to end of delivery, in ms")

	aws := cw["_aws"].(map[string]any)
	assert.EqualValues(t, t0.UnixMilli(), aws["Timestamp"])
	def := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	assert.Equal(t, "LogDelivery", def["Namespace"])
	names := map[string]bool{}
	for _, m := range def["Metrics"].([]any) {
		names[m.(map[string]any)["Name"].(string)] = true
	}
	for name := range names {
		assert.Contains(t, cw, name, "every declared metric has a value")
	}

	assert.EqualValues(t, 0, docs["acme/s3"]["FailedRetryable"])
	assert.EqualValues(t, 1, docs["acme/s3:archive"]["Skipped"])
	assert.EqualValues(t, 1, docs["unknown/none"]["Failed"])

	buf.Reset()
	require.NoError(t, e.Flush())
	assert.Empty(t, buf.String(), "Flush resets the aggregates")
}

func TestEMFSplitsLatencies(t *testing.T) {
	var buf bytes.Buffer
	e := metrics.NewEMF(&buf)
	r := results()[0]
	for range 250 {
		e.ObserveResult(context.Background(), r)
	}
	require.NoError(t, e.Flush())
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 3, "at most 100 values per EMF metric")
	total := 0
	for i, l := range lines {
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &doc))
		total += len(doc["Latency"].([]any))
		_, hasCount := doc["Delivered"]
		assert.Equal(t, i == 0, hasCount, "counts are written once")
	}
	assert.Equal(t, 250, total)
}

func TestPrometheus(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	p, err := metrics.NewPrometheus(reg)
	require.NoError(t, err)
	for _, r := range results() {
		p.ObserveResult(context.Background(), r)
	}
	expected := `
# HELP logdelivery_deliveries_total Results of (object, destination) pairs by outcome.
# TYPE logdelivery_deliveries_total counter
logdelivery_deliveries_total{outcome="delivered",tenant="acme",type="cloudwatch"} 1
logdelivery_deliveries_total{outcome="failed",tenant="acme",type="cloudwatch"} 1
logdelivery_deliveries_total{outcome="failed",tenant="acme",type="s3"} 1
logdelivery_deliveries_total{outcome="failed",tenant="unknown",type="none"} 1
logdelivery_deliveries_total{outcome="skipped",tenant="acme",type="s3:archive"} 1
# HELP logdelivery_events_total Log events by what became of them.
# TYPE logdelivery_events_total counter
logdelivery_events_total{result="delivered",tenant="acme",type="cloudwatch"} 100
logdelivery_events_total{result="dropped",tenant="acme",type="cloudwatch"} 3
logdelivery_events_total{result="rejected",tenant="acme",type="cloudwatch"} 2
logdelivery_events_total{result="truncated",tenant="acme",type="cloudwatch"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected), "logdelivery_deliveries_total", "logdelivery_events_total"))
	assert.Equal(t, 1, testutil.CollectAndCount(p.Latency(), "logdelivery_latency_seconds"))

	_, err = metrics.NewPrometheus(reg)
	assert.Error(t, err, "registering twice is an error, not a panic")
}
