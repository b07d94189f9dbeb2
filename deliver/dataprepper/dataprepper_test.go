package dataprepper_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/dataprepper"
	"github.com/logdelivery/logdelivery/deliver/dataprepper/datapreppertest"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

var now = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// sliceReader is a RecordReader over records.
type sliceReader struct {
	recs []deliver.Record
	i    int
}

func (r *sliceReader) Next() (deliver.Record, error) {
	if r.i >= len(r.recs) {
		return deliver.Record{}, io.EOF
	}
	r.i++
	return r.recs[r.i-1], nil
}
func (r *sliceReader) Stats() deliver.DecodeStats { return deliver.DecodeStats{Records: int64(r.i)} }
func (r *sliceReader) Close() error               { return nil }

func records(n int) []deliver.Record {
	out := make([]deliver.Record, n)
	for i := range out {
		out[i] = deliver.Record{Time: now.Add(time.Duration(i) * time.Second), Message: fmt.Sprintf("event %d", i), Host: "node-1",
			Labels: map[string]string{"app.kubernetes.io/name": "payments"}}
	}
	return out
}

func delivery(recs []deliver.Record, settings map[string]any) *deliver.Delivery {
	return &deliver.Delivery{
		Object: deliver.Object{Bucket: "central", Key: "prod-east-1/acme/payments/payments-0/1764496800.json.gz"},
		Key:    keyparse.Key{Cluster: "prod-east-1", Namespace: "acme", Tenant: "acme", Application: "payments", Pod: "payments-0"},
		Config: tenant.DeliveryConfig{TenantID: "acme", Type: dataprepper.KindName, Settings: settings},
		Records: func(context.Context) (deliver.RecordReader, error) {
			return &sliceReader{recs: recs}, nil
		},
	}
}

func newDeliverer(t *testing.T, srv *datapreppertest.Server, optFns ...func(*dataprepper.Options)) *dataprepper.Deliverer {
	d, err := dataprepper.New(append([]func(*dataprepper.Options){fast(srv, t)}, optFns...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestDeliversEvents(t *testing.T) {
	srv := datapreppertest.NewServer(datapreppertest.Options{})
	defer srv.Close()
	d := newDeliverer(t, srv)
	rcpt, err := d.Deliver(context.Background(), delivery(records(250), map[string]any{"url": srv.URL, "include_host": true, "include_labels": true}))
	require.NoError(t, err)
	assert.Equal(t, int64(250), rcpt.Events)
	assert.Equal(t, 3, rcpt.Calls)
	assert.Equal(t, srv.URL+"/log/ingest", rcpt.Location, "the source's default path")
	events := srv.Events()
	require.Len(t, events, 250)
	assert.Equal(t, map[string]any{
		"@timestamp": "2026-11-30T10:00:00.000000000Z", "message": "event 0", "cluster": "prod-east-1", "application": "payments",
		"kubernetes": map[string]any{"namespace": "acme", "pod": "payments-0", "host": "node-1",
			"labels": map[string]any{"app_kubernetes_io/name": "payments"}},
	}, events[0])
}

func TestPath(t *testing.T) {
	srv := datapreppertest.NewServer(datapreppertest.Options{Path: "/acme/logs"})
	defer srv.Close()
	d := newDeliverer(t, srv)
	rcpt, err := d.Deliver(context.Background(), delivery(records(3), map[string]any{"url": srv.URL + "/acme/logs"}))
	require.NoError(t, err)
	assert.Equal(t, int64(3), rcpt.Events)

	_, err = d.Deliver(context.Background(), delivery(records(3), map[string]any{"url": srv.URL}))
	assert.True(t, fault.IsPermanent(err), "404 from the default path: %v", err)
}

// A full buffer answers backpressure until the pipeline drains it; the
// deliverer waits and sends again, and every event arrives once.
func TestBackpressure(t *testing.T) {
	for _, status := range []int{408, 429, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := datapreppertest.NewServer(datapreppertest.Options{BufferCapacity: 150, BackpressureStatus: status})
			defer srv.Close()
			// The pipeline drains the buffer once it refused a request:
			// every request after the first finds it full once.
			done := make(chan struct{})
			defer close(done)
			go func() {
				for seen := 0; ; {
					select {
					case <-done:
						return
					case <-time.After(time.Millisecond):
					}
					if n := srv.Backpressure(); n > seen {
						seen = n
						srv.Drain()
					}
				}
			}()
			d := newDeliverer(t, srv, func(o *dataprepper.Options) {
				o.MaxAttempts = 10
				o.RetryBase, o.RetryMax = 10*time.Millisecond, 40*time.Millisecond
			})
			rcpt, err := d.Deliver(context.Background(), delivery(records(1000), map[string]any{"url": srv.URL}))
			require.NoError(t, err)
			assert.Equal(t, int64(1000), rcpt.Events)
			assert.Equal(t, 1000, srv.Count(), "every event once")
			assert.GreaterOrEqual(t, srv.Backpressure(), 9, "the buffer was full for every request after the first")
			assert.Equal(t, srv.Requests(), rcpt.Calls)
			assert.Equal(t, 10+srv.Backpressure(), rcpt.Calls)
		})
	}
}

func TestBackpressureOutlastsTheAttempts(t *testing.T) {
	srv := datapreppertest.NewServer(datapreppertest.Options{BufferCapacity: 150}) // never drained
	defer srv.Close()
	d := newDeliverer(t, srv)
	rcpt, err := d.Deliver(context.Background(), delivery(records(1000), map[string]any{"url": srv.URL}))
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err))
	var de *dataprepper.DeliveryError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, int64(100), de.Delivered)
	assert.Equal(t, int64(100), rcpt.Events)
	assert.ErrorContains(t, err, "gave up after 3 attempts: POST 127.0.0.1")
	assert.ErrorContains(t, err, "408 Request Timeout: Buffer is full")
}

func TestBasicAuthentication(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "acme"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "acme", "dp"), []byte("pw"), 0o600))
	secrets, err := credentials.NewFileSecrets(dir)
	require.NoError(t, err)
	defer secrets.Close()
	srv := datapreppertest.NewServer(datapreppertest.Options{Username: "ld", Password: "pw"})
	defer srv.Close()
	settings := map[string]any{"url": srv.URL, "username": "ld", "password": "file:acme/dp"}
	rcpt, err := newDeliverer(t, srv, func(o *dataprepper.Options) { o.Secrets = secrets }).Deliver(context.Background(), delivery(records(3), settings))
	require.NoError(t, err)
	assert.Equal(t, int64(3), rcpt.Events)

	_, err = newDeliverer(t, srv).Deliver(context.Background(), delivery(records(3), map[string]any{"url": srv.URL}))
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorContains(t, err, "401")
	_, err = newDeliverer(t, srv).Deliver(context.Background(), delivery(records(3), settings))
	assert.True(t, fault.IsPermanent(err), "no Secrets: %v", err)
}

func TestSettingsValidation(t *testing.T) {
	reg, err := deliver.NewRegistry([]deliver.Kind{dataprepper.Kind()})
	require.NoError(t, err)
	validate := func(settings map[string]any) string {
		return fmt.Sprint(reg.Validate(tenant.DeliveryConfig{TenantID: "acme", Type: dataprepper.KindName, Settings: settings}))
	}
	assert.Equal(t, "<nil>", validate(map[string]any{"url": "https://ingest.example.com/acme/logs", "max_request_bytes": 1 << 20}))
	assert.Contains(t, validate(map[string]any{"url": "https://ingest.example.com:2021"}), "port 2021 is not allowed")
	assert.Contains(t, validate(map[string]any{"url": "https://ingest.example.com", "username": "u"}), "settings.password: is required with username")
	assert.Contains(t, validate(map[string]any{"url": "https://169.254.169.254/"}), "a cloud instance metadata address")
	assert.Contains(t, validate(map[string]any{"url": "https://ingest.example.com", "headers": map[string]any{}}), `settings.headers: is not a setting of kind "dataprepper"`)
}

func TestNewRefusesInvalidOptions(t *testing.T) {
	for name, fn := range map[string]func(*dataprepper.Options){
		"request bytes": func(o *dataprepper.Options) { o.MaxRequestBytes = 10 },
		"negative":      func(o *dataprepper.Options) { o.MaxRequestEvents = -1 },
		"policy":        func(o *dataprepper.Options) { o.Policy.AllowHosts = []string{"not a host"} },
	} {
		_, err := dataprepper.New(fn)
		assert.Error(t, err, name)
	}
}
