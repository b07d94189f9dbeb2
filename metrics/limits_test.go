package metrics_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/limits"
	"github.com/logdelivery/logdelivery/metrics"
)

func TestLimitsPrometheus(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	l, err := metrics.NewLimits(reg)
	require.NoError(t, err)
	l.Waited("acme", "cloudwatch", 10, 1000, 1500*time.Millisecond)
	l.Waited("acme", "cloudwatch", 0, 0, 500*time.Millisecond) // a concurrency slot
	l.Waited("acme", "kafka", 1, 1, time.Second)
	l.Limited(&limits.LimitedError{Tenant: "acme", Kind: "cloudwatch", Limit: "events_per_second"})
	expected := `
# HELP logdelivery_limited_events_total Log events that waited for their tenant's rate limit.
# TYPE logdelivery_limited_events_total counter
logdelivery_limited_events_total{tenant="acme",type="cloudwatch"} 10
logdelivery_limited_events_total{tenant="acme",type="other"} 1
# HELP logdelivery_limit_wait_seconds_total Time deliveries spent waiting for their tenant's limits.
# TYPE logdelivery_limit_wait_seconds_total counter
logdelivery_limit_wait_seconds_total{tenant="acme",type="cloudwatch"} 2
logdelivery_limit_wait_seconds_total{tenant="acme",type="other"} 1
# HELP logdelivery_limited_deliveries_total Deliveries stopped by a tenant's limit, to be retried after its hint.
# TYPE logdelivery_limited_deliveries_total counter
logdelivery_limited_deliveries_total{limit="events_per_second",tenant="acme",type="cloudwatch"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected),
		"logdelivery_limited_events_total", "logdelivery_limit_wait_seconds_total", "logdelivery_limited_deliveries_total"))
	n, err := testutil.GatherAndCount(reg, "logdelivery_limited_bytes_total")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}

func TestReloadsPrometheus(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	now := time.Unix(1000, 0)
	r, err := metrics.NewReloads(reg, func(o *metrics.ReloadsOptions) { o.Now = func() time.Time { return now } })
	require.NoError(t, err)
	r.Loaded("limits_overrides")
	now = time.Unix(2000, 0)
	r.Reloaded("limits_overrides", nil)
	now = time.Unix(3000, 0)
	r.Reloaded("limits_overrides", errors.New("bad"))
	r.Reloaded("limits_overrides", errors.New("worse"))
	expected := `
# HELP logdelivery_config_reloads_total New versions of watched configuration files, applied or refused.
# TYPE logdelivery_config_reloads_total counter
logdelivery_config_reloads_total{result="applied",source="limits_overrides"} 1
logdelivery_config_reloads_total{result="refused",source="limits_overrides"} 2
# HELP logdelivery_config_last_reload_success_timestamp_seconds When a version of the file was last applied, in seconds since the epoch.
# TYPE logdelivery_config_last_reload_success_timestamp_seconds gauge
logdelivery_config_last_reload_success_timestamp_seconds{source="limits_overrides"} 2000
# HELP logdelivery_config_last_reload_successful 1 while the file's current version is in force, 0 while it is refused (the last good version stays).
# TYPE logdelivery_config_last_reload_successful gauge
logdelivery_config_last_reload_successful{source="limits_overrides"} 0
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected)))
}

func TestEMFLimitsAndReloads(t *testing.T) {
	var buf bytes.Buffer
	e := metrics.NewEMF(&buf, func(o *metrics.EMFOptions) { o.Now = func() time.Time { return time.UnixMilli(42) } })
	e.Waited("acme", "cloudwatch", 10, 1000, 1500*time.Millisecond)
	e.Limited(&limits.LimitedError{Tenant: "acme", Kind: "cloudwatch", Limit: "bytes_per_second"})
	e.Reloaded("tenant_configs", nil)
	e.Reloaded("tenant_configs", errors.New("bad"))
	require.NoError(t, e.Flush())
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &doc))
	assert.Equal(t, "acme", doc["Tenant"])
	assert.EqualValues(t, 10, doc["EventsLimited"])
	assert.EqualValues(t, 1000, doc["BytesLimited"])
	assert.EqualValues(t, 1500, doc["LimitWait"])
	assert.EqualValues(t, 1, doc["DeliveriesLimited"])
	assert.Contains(t, lines[0], `{"Name":"LimitWait","Unit":"Milliseconds"}`, "declared in the document's metrics")
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &doc))
	assert.Equal(t, "tenant_configs", doc["Source"])
	assert.EqualValues(t, 1, doc["ConfigReloadsApplied"])
	assert.EqualValues(t, 1, doc["ConfigReloadsRefused"])

	buf.Reset()
	require.NoError(t, e.Flush())
	assert.Empty(t, buf.String(), "reset by Flush")
}
