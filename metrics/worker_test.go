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
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/metrics"
	"github.com/logdelivery/logdelivery/sqsworker"
)

func TestWorker(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	w, err := metrics.NewWorker(reg)
	require.NoError(t, err)

	obj := func(key string, age time.Duration) logdelivery.Object {
		return logdelivery.Object{Bucket: "central", Key: key, Time: t0.Add(-age)}
	}
	acme := keyparse.Key{Tenant: "acme"}
	w.Received(5)
	w.ReceiveFailed()
	// Delivered to two destinations: one object, one lag.
	w.Processed(logdelivery.MessageResult{ID: "m1", Results: logdelivery.Results{
		{Object: obj("a", 3*time.Second), Key: acme, Destination: "cloudwatch", Outcome: logdelivery.Delivered},
		{Object: obj("a", 3*time.Second), Key: acme, Destination: "s3", Outcome: logdelivery.Delivered},
	}}, t0, sqsworker.Deleted)
	// A retryable failure: retried.
	w.Processed(logdelivery.MessageResult{ID: "m2", Results: logdelivery.Results{
		{Object: obj("b", 100*time.Second), Key: acme, Destination: "s3", Outcome: logdelivery.Failed, Err: errors.New("throttled")},
	}}, t0, sqsworker.Released)
	// Permanent failures: parked, kept for the redrive policy, dropped.
	w.Processed(logdelivery.MessageResult{ID: "m3", Results: logdelivery.Results{
		{Object: obj("c", time.Second), Key: acme, Destination: "s3", Outcome: logdelivery.Failed, Err: fault.Permanent(errors.New("NoSuchBucket"))},
	}}, t0, sqsworker.Parked)
	w.Processed(logdelivery.MessageResult{ID: "m4", Err: fault.Permanent(errors.New("not a notification"))}, t0, sqsworker.Kept)
	w.Processed(logdelivery.MessageResult{ID: "m5", Err: fault.Permanent(errors.New("not a notification"))}, t0, sqsworker.Dropped)

	expected := `
# HELP logdelivery_worker_messages_deleted_total Messages deleted from the queue: delivered, parked or dropped.
# TYPE logdelivery_worker_messages_deleted_total counter
logdelivery_worker_messages_deleted_total 3
# HELP logdelivery_worker_messages_failed_total Messages that failed permanently (malformed, or at some destination), by what became of them: parked, kept or dropped.
# TYPE logdelivery_worker_messages_failed_total counter
logdelivery_worker_messages_failed_total{settlement="dropped"} 1
logdelivery_worker_messages_failed_total{settlement="kept"} 1
logdelivery_worker_messages_failed_total{settlement="parked"} 1
# HELP logdelivery_worker_messages_in_flight Messages received and not yet processed.
# TYPE logdelivery_worker_messages_in_flight gauge
logdelivery_worker_messages_in_flight 0
# HELP logdelivery_worker_messages_received_total Messages received from the queue.
# TYPE logdelivery_worker_messages_received_total counter
logdelivery_worker_messages_received_total 5
# HELP logdelivery_worker_messages_retried_total Messages made visible again for a retry.
# TYPE logdelivery_worker_messages_retried_total counter
logdelivery_worker_messages_retried_total 1
# HELP logdelivery_worker_receive_errors_total Failed receives.
# TYPE logdelivery_worker_receive_errors_total counter
logdelivery_worker_receive_errors_total 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected),
		"logdelivery_worker_messages_failed_total", "logdelivery_worker_messages_deleted_total",
		"logdelivery_worker_messages_in_flight", "logdelivery_worker_messages_received_total",
		"logdelivery_worker_messages_retried_total", "logdelivery_worker_receive_errors_total"))

	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "logdelivery_worker_object_lag_seconds" {
			h := f.GetMetric()[0].GetHistogram()
			assert.EqualValues(t, 3, h.GetSampleCount(), "one lag per object, not per destination")
			assert.InDelta(t, 104, h.GetSampleSum(), 1e-9, "3s + 100s + 1s")
			return
		}
	}
	t.Fatal("no lag histogram")
}

func TestLastDelivery(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	p, err := metrics.NewPrometheus(reg)
	require.NoError(t, err)
	for _, r := range results() {
		p.ObserveResult(context.Background(), r)
	}
	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "logdelivery_last_delivery_timestamp_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels["tenant"]+"/"+labels["type"]] = m.GetGauge().GetValue()
		}
	}
	end := t0.Add(2500 * time.Millisecond) // started + duration
	assert.Equal(t, map[string]float64{"acme/cloudwatch": float64(end.UnixNano()) / 1e9}, got,
		"only delivered results set it: the failed s3 destination has none")
}

func TestEMFLag(t *testing.T) {
	var buf bytes.Buffer
	e := metrics.NewEMF(&buf, func(o *metrics.EMFOptions) { o.Now = func() time.Time { return t0 } })
	for _, r := range results() {
		e.ObserveResult(context.Background(), r)
	}
	failed := results()[1]
	failed.Object.Time, failed.Started = t0, t0.Add(7*time.Second)
	e.ObserveResult(context.Background(), failed)
	require.NoError(t, e.Flush())
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var doc map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &doc))
		if doc["Tenant"] == "acme" && doc["DeliveryType"] == "cloudwatch" {
			assert.Equal(t, []any{2000.0, 7000.0}, doc["Lag"], "object time to the start of each attempted delivery, in ms")
			return
		}
	}
	t.Fatal("no acme/cloudwatch document")
}
