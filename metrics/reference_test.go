package metrics_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/metrics"
)

// emfDocs reads EMF lines, keyed by namespace, Tenant and the first
// metric's name prefix.
func referenceDocs(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var docs []map[string]any
	sc := bufio.NewScanner(buf)
	for sc.Scan() {
		var doc map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &doc))
		def := doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		if def["Namespace"] == metrics.ReferenceNamespace {
			docs = append(docs, doc)
		}
	}
	return docs
}

// The reference's metrics (container/internal/aws/metrics.go:
// PushCloudWatchDeliveryMetrics, PushCloudWatchLatencyMetrics,
// PushS3DeliveryMetrics, PushS3LatencyMetrics, called from
// container/internal/processor/processor.go deliverLogs): namespace
// HCPLF/LogForwarding, dimension Tenant, LogCount/{method}/{label}, Count.
func TestReferenceEMF(t *testing.T) {
	var buf bytes.Buffer
	e := metrics.NewEMF(&buf, func(o *metrics.EMFOptions) {
		o.Now = func() time.Time { return t0 }
		o.Reference = true
	})
	for _, r := range results() {
		e.ObserveResult(context.Background(), r)
	}
	globex := keyparse.Key{Tenant: "globex"}
	e.ObserveResult(context.Background(), logdelivery.Result{Key: globex, Destination: "s3:archive", Outcome: logdelivery.Delivered,
		Object: logdelivery.Object{Time: t0}, Started: t0, Duration: 1500 * time.Millisecond, Receipt: deliver.Receipt{Objects: 1}})
	e.ObserveResult(context.Background(), logdelivery.Result{Key: globex, Destination: "cloudwatch", Outcome: logdelivery.Delivered,
		Receipt: deliver.Receipt{Events: 7}})
	e.ObserveResult(context.Background(), logdelivery.Result{Key: globex, Destination: "loki", Outcome: logdelivery.Delivered})
	require.NoError(t, e.Flush())

	docs := referenceDocs(t, &buf)
	require.Len(t, docs, 4, "acme and globex, cloudwatch and s3; not loki, not the bad key")
	byKey := map[string]map[string]any{}
	for _, d := range docs {
		def := d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		assert.Equal(t, []any{[]any{"Tenant"}}, def["Dimensions"])
		for _, m := range def["Metrics"].([]any) {
			mm := m.(map[string]any)
			assert.Equal(t, "Count", mm["Unit"], "the reference sends every metric as Count")
			assert.Contains(t, d, mm["Name"])
		}
		assert.NotContains(t, d, "DeliveryType")
		_, isS3 := d["LogCount/s3/successful_delivery"]
		_, isS3Failed := d["LogCount/s3/failed_delivery"]
		kind := "cloudwatch"
		if isS3 || isS3Failed {
			kind = "s3"
		}
		byKey[d["Tenant"].(string)+"/"+kind] = d
	}
	cw := byKey["acme/cloudwatch"]
	assert.Equal(t, []any{100.0, 0.0}, cw["LogCount/cloudwatch/successful_events"], "one value per delivery")
	assert.Equal(t, []any{5.0, 1.0}, cw["LogCount/cloudwatch/failed_events"], "rejected and dropped events; a failed delivery counts 1")
	assert.Equal(t, []any{1.0, 1.0}, cw["LogCount/cloudwatch/failed_delivery"], "a delivery with failed events is a failed delivery")
	assert.NotContains(t, cw, "LogCount/cloudwatch/successful_delivery")
	assert.Equal(t, 2500.0, cw["LogCount/cloudwatch/delivery_latency"])

	assert.Equal(t, 1.0, byKey["acme/s3"]["LogCount/s3/failed_delivery"])
	assert.NotContains(t, byKey["acme/s3"], "LogCount/s3/delivery_latency", "no latency for a failure")
	assert.Equal(t, 1.0, byKey["globex/s3"]["LogCount/s3/successful_delivery"], "s3:archive counts as s3")
	assert.Equal(t, 1500.0, byKey["globex/s3"]["LogCount/s3/delivery_latency"])
	assert.Equal(t, 1.0, byKey["globex/cloudwatch"]["LogCount/cloudwatch/successful_delivery"])

	buf.Reset()
	require.NoError(t, e.Flush())
	assert.Empty(t, buf.String())
}

func TestReferenceEMFSplitsValues(t *testing.T) {
	var buf bytes.Buffer
	e := metrics.NewReferenceEMF(&buf)
	for range 150 {
		e.ObserveResult(context.Background(), logdelivery.Result{Key: keyparse.Key{Tenant: "acme"}, Destination: "s3", Outcome: logdelivery.Delivered})
	}
	require.NoError(t, e.Flush())
	docs := referenceDocs(t, &buf)
	require.Len(t, docs, 2)
	assert.Len(t, docs[0]["LogCount/s3/successful_delivery"], 100)
	assert.Len(t, docs[1]["LogCount/s3/successful_delivery"], 50)
}
