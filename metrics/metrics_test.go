package metrics_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	require.Len(t, docs, 3, "s3 and s3:archive are one kind")
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

	assert.EqualValues(t, 1, docs["acme/s3"]["Failed"])
	assert.EqualValues(t, 0, docs["acme/s3"]["FailedRetryable"])
	assert.EqualValues(t, 1, docs["acme/s3"]["Skipped"], "s3:archive counts under kind s3")
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
logdelivery_deliveries_total{outcome="skipped",tenant="acme",type="s3"} 1
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

// manyNames returns, for tenants acme and umbrella, one delivered result
// per destination name in types: what a tenant can create through the
// config API, one config at a time.
func manyNames(types ...string) []logdelivery.Result {
	var rs []logdelivery.Result
	for _, tenantID := range []string{"acme", "umbrella"} {
		for _, typ := range types {
			rs = append(rs, logdelivery.Result{Key: keyparse.Key{Tenant: tenantID}, Destination: typ,
				Outcome: logdelivery.Delivered, Object: logdelivery.Object{Time: t0},
				Started: t0.Add(time.Second), Duration: time.Millisecond,
				Receipt: deliver.Receipt{Events: 1, Bytes: 1}})
		}
	}
	return rs
}

func names(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

// Tenants choose their configs' names: series are per (tenant, kind), so
// a tenant creating configs cannot create series.
func TestSeriesPerTenantAndKind(t *testing.T) {
	rs := manyNames(append(names("s3:archive-", 50), names("cloudwatch:app-", 50)...)...)

	reg := prometheus.NewPedanticRegistry()
	p, err := metrics.NewPrometheus(reg)
	require.NoError(t, err)
	var buf bytes.Buffer
	e := metrics.NewEMF(&buf)
	for _, r := range rs {
		p.ObserveResult(context.Background(), r)
		e.ObserveResult(context.Background(), r)
	}

	// 2 tenants × 2 kinds.
	for name, want := range map[string]int{
		"logdelivery_deliveries_total":          4,
		"logdelivery_events_total":              4,
		"logdelivery_bytes_total":               4,
		"logdelivery_latency_seconds":           2, // per kind
		"logdelivery_delivery_duration_seconds": 2,
	} {
		n, err := testutil.GatherAndCount(reg, name)
		require.NoError(t, err)
		assert.Equal(t, want, n, name)
	}
	expected := `
# HELP logdelivery_deliveries_total Results of (object, destination) pairs by outcome.
# TYPE logdelivery_deliveries_total counter
logdelivery_deliveries_total{outcome="delivered",tenant="acme",type="cloudwatch"} 50
logdelivery_deliveries_total{outcome="delivered",tenant="acme",type="s3"} 50
logdelivery_deliveries_total{outcome="delivered",tenant="umbrella",type="cloudwatch"} 50
logdelivery_deliveries_total{outcome="delivered",tenant="umbrella",type="s3"} 50
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected), "logdelivery_deliveries_total"))

	require.NoError(t, e.Flush())
	docs := map[string]int64{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var doc map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &doc))
		delivered, _ := doc["Delivered"].(float64)
		docs[doc["Tenant"].(string)+"/"+doc["DeliveryType"].(string)] += int64(delivered)
	}
	assert.Equal(t, map[string]int64{"acme/s3": 50, "acme/cloudwatch": 50, "umbrella/s3": 50, "umbrella/cloudwatch": 50}, docs,
		"one EMF document (one set of dimension values) per tenant and kind")
}

// The config API accepts kinds no deliverer is registered for (their
// deliveries fail, or are skipped while disabled): they count under kind
// "other", so the kinds label is bounded by the kinds known to metrics.
func TestUnknownKindsCountAsOther(t *testing.T) {
	rs := manyNames(names("custom", 50)...)
	rs = append(rs, logdelivery.Result{Key: keyparse.Key{Tenant: "acme"}, Destination: "nope:x", Outcome: logdelivery.Skipped, Reason: logdelivery.ReasonDisabled})

	reg := prometheus.NewPedanticRegistry()
	p, err := metrics.NewPrometheus(reg)
	require.NoError(t, err)
	var buf bytes.Buffer
	e := metrics.NewEMF(&buf)
	for _, r := range rs {
		p.ObserveResult(context.Background(), r)
		e.ObserveResult(context.Background(), r)
	}
	expected := `
# HELP logdelivery_deliveries_total Results of (object, destination) pairs by outcome.
# TYPE logdelivery_deliveries_total counter
logdelivery_deliveries_total{outcome="delivered",tenant="acme",type="other"} 50
logdelivery_deliveries_total{outcome="delivered",tenant="umbrella",type="other"} 50
logdelivery_deliveries_total{outcome="skipped",tenant="acme",type="other"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected), "logdelivery_deliveries_total"))
	require.NoError(t, e.Flush())
	assert.Equal(t, 2, strings.Count(buf.String(), "\n"), "one EMF document per tenant")
	assert.Equal(t, 2, strings.Count(buf.String(), `"DeliveryType":"other"`))
}

func TestKindsOption(t *testing.T) {
	rs := manyNames("custom:a", "custom:b", "s3", "cloudwatch")
	reg := prometheus.NewPedanticRegistry()
	p, err := metrics.NewPrometheus(reg, func(o *metrics.PrometheusOptions) { o.Kinds = []string{"s3", "custom"} })
	require.NoError(t, err)
	var buf bytes.Buffer
	e := metrics.NewEMF(&buf, func(o *metrics.EMFOptions) { o.Kinds = []string{"s3", "custom"} })
	for _, r := range rs {
		p.ObserveResult(context.Background(), r)
		e.ObserveResult(context.Background(), r)
	}
	expected := `
# HELP logdelivery_deliveries_total Results of (object, destination) pairs by outcome.
# TYPE logdelivery_deliveries_total counter
logdelivery_deliveries_total{outcome="delivered",tenant="acme",type="custom"} 2
logdelivery_deliveries_total{outcome="delivered",tenant="acme",type="other"} 1
logdelivery_deliveries_total{outcome="delivered",tenant="acme",type="s3"} 1
logdelivery_deliveries_total{outcome="delivered",tenant="umbrella",type="custom"} 2
logdelivery_deliveries_total{outcome="delivered",tenant="umbrella",type="other"} 1
logdelivery_deliveries_total{outcome="delivered",tenant="umbrella",type="s3"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected), "logdelivery_deliveries_total"))
	require.NoError(t, e.Flush())
	for _, kind := range []string{"custom", "other", "s3"} {
		assert.Equal(t, 2, strings.Count(buf.String(), `"DeliveryType":"`+kind+`"`), kind)
	}
}
