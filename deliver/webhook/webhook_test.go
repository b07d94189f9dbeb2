package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/webhook"
	"github.com/logdelivery/logdelivery/deliver/webhook/webhooktest"
	"github.com/logdelivery/logdelivery/egress"
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
		out[i] = deliver.Record{Time: now.Add(time.Duration(i) * time.Second), Message: fmt.Sprintf("event %d", i),
			Labels: map[string]string{"app.kubernetes.io/name": "payments"}}
	}
	return out
}

func delivery(recs []deliver.Record, settings map[string]any) *deliver.Delivery {
	return &deliver.Delivery{
		Object: deliver.Object{Bucket: "central", Key: "prod-east-1/acme/payments/payments-0/1796032800.json.gz"},
		Key:    keyparse.Key{Cluster: "prod-east-1", Namespace: "acme", Tenant: "acme", Application: "payments", Pod: "payments-0"},
		Config: tenant.DeliveryConfig{TenantID: "acme", Type: webhook.KindName, Settings: settings},
		Records: func(context.Context) (deliver.RecordReader, error) {
			return &sliceReader{recs: recs}, nil
		},
	}
}

func newDeliverer(t *testing.T, rcv *webhooktest.Receiver, optFns ...func(*webhook.Options)) *webhook.Deliverer {
	d, err := webhook.New(append([]func(*webhook.Options){fast(rcv, t)}, optFns...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestFormats(t *testing.T) {
	for _, c := range []struct {
		format string
		gzip   bool
		ct     string
	}{{"", false, "application/x-ndjson"}, {"ndjson", true, "application/x-ndjson"}, {"json", false, "application/json"}, {"json", true, "application/json"}} {
		t.Run(fmt.Sprint(c.format, c.gzip), func(t *testing.T) {
			rcv := webhooktest.NewReceiver(webhooktest.Options{})
			defer rcv.Close()
			settings := map[string]any{"url": rcv.URL + "/logs?source=logdelivery", "gzip": c.gzip, "include_labels": true}
			if c.format != "" {
				settings["format"] = c.format
			}
			rcpt, err := newDeliverer(t, rcv).Deliver(context.Background(), delivery(records(250), settings))
			require.NoError(t, err)
			assert.Equal(t, int64(250), rcpt.Events)
			assert.Equal(t, 3, rcpt.Calls)
			assert.Equal(t, rcv.URL, rcpt.Location, "scheme and host only")
			events := rcv.Events()
			require.Len(t, events, 250)
			assert.Equal(t, map[string]any{"@timestamp": "2026-11-30T10:00:00.000000000Z", "message": "event 0", "cluster": "prod-east-1",
				"application": "payments", "kubernetes": map[string]any{"namespace": "acme", "pod": "payments-0",
					"labels": map[string]any{"app.kubernetes.io/name": "payments"}}}, events[0], "label names as they are")
			for _, r := range rcv.Requests() {
				assert.Equal(t, c.ct, r.Header.Get("Content-Type"))
				if c.gzip {
					assert.Equal(t, "gzip", r.Header.Get("Content-Encoding"))
				}
				assert.Empty(t, r.Header.Get(webhook.SignatureHeader), "no key, no signature")
			}
		})
	}
}

func TestSignedAndAuthenticated(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "acme"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "acme", "key"), []byte("whsec_2f9c1a7e4b6d8e0f\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "acme", "token"), []byte("t0ken"), 0o600))
	files, err := credentials.NewFileSecrets(dir)
	require.NoError(t, err)
	defer files.Close()

	clock := now
	rcv := webhooktest.NewReceiver(webhooktest.Options{SigningKey: []byte("whsec_2f9c1a7e4b6d8e0f"), BearerToken: "t0ken", Now: func() time.Time { return clock }})
	defer rcv.Close()
	d := newDeliverer(t, rcv, func(o *webhook.Options) {
		o.Secrets = files
		o.Now = func() time.Time { return clock }
	})
	settings := map[string]any{"url": rcv.URL, "gzip": true, "signing_key": "file:acme/key", "bearer_token": "file:acme/token",
		"headers": map[string]any{"X-Team": "payments"}}
	rcpt, err := d.Deliver(context.Background(), delivery(records(150), settings))
	require.NoError(t, err, "the receiver verified every signature")
	assert.Equal(t, int64(150), rcpt.Events)
	reqs := rcv.Requests()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		assert.Equal(t, "t=1796032800", r.Header.Get(webhook.SignatureHeader)[:12])
		assert.Equal(t, "payments", r.Header.Get("X-Team"))
		assert.Len(t, r.Header.Get(webhook.IdempotencyKeyHeader), 32)
	}
	assert.NotEqual(t, reqs[0].Header.Get(webhook.IdempotencyKeyHeader), reqs[1].Header.Get(webhook.IdempotencyKeyHeader), "each batch its own key")

	// The same object delivered again: the same keys, which the receiver
	// drops.
	_, err = d.Deliver(context.Background(), delivery(records(150), settings))
	require.NoError(t, err)
	assert.Equal(t, 150, rcv.Count(), "a redelivery is recognised")
	again := rcv.Requests()[2:]
	require.Len(t, again, 2)
	assert.True(t, again[0].Duplicate)
	assert.Equal(t, reqs[0].Header.Get(webhook.IdempotencyKeyHeader), again[0].Header.Get(webhook.IdempotencyKeyHeader))

	// A signature the receiver finds stale is refused, permanently.
	rcv2 := webhooktest.NewReceiver(webhooktest.Options{SigningKey: []byte("whsec_2f9c1a7e4b6d8e0f"), Now: func() time.Time { return clock.Add(time.Hour) }})
	defer rcv2.Close()
	d2 := newDeliverer(t, rcv2, func(o *webhook.Options) {
		o.Secrets = files
		o.Now = func() time.Time { return clock }
	})
	_, err = d2.Deliver(context.Background(), delivery(records(1), map[string]any{"url": rcv2.URL, "signing_key": "file:acme/key"}))
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorContains(t, err, "401 Unauthorized: signature: stale timestamp")

	// Another tenant's key is refused by the secrets.
	_, err = d.Deliver(context.Background(), delivery(records(1), map[string]any{"url": rcv.URL, "signing_key": "file:globex/key"}))
	assert.ErrorIs(t, err, credentials.ErrSecretRefused)
	assert.True(t, fault.IsPermanent(err))
	assert.NotContains(t, fmt.Sprint(err), "whsec")
}

func TestEachAttemptIsSignedAfresh(t *testing.T) {
	rcv := webhooktest.NewReceiver(webhooktest.Options{SigningKey: []byte("k3y"), Now: func() time.Time { return now }})
	defer rcv.Close()
	rcv.SetHook(func(r webhooktest.Request) *webhooktest.Fault {
		if r.N == 1 {
			return &webhooktest.Fault{Status: 503}
		}
		return nil
	})
	tick := now
	d := newDeliverer(t, rcv, func(o *webhook.Options) {
		o.Now = func() time.Time { tick = tick.Add(time.Second); return tick } // called by one sender at a time
	})
	rcpt, err := d.Deliver(context.Background(), delivery(records(10), map[string]any{"url": rcv.URL, "signing_key": "file:key"}))
	require.NoError(t, err)
	assert.Equal(t, 2, rcpt.Calls)
	reqs := rcv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "t=1796032801", reqs[0].Header.Get(webhook.SignatureHeader)[:12])
	assert.Equal(t, "t=1796032802", reqs[1].Header.Get(webhook.SignatureHeader)[:12], "the retry has a signature of its own")
}

func TestStatuses(t *testing.T) {
	for status, retryable := range map[int]bool{400: false, 401: false, 403: false, 404: false, 410: false, 413: false, 422: false,
		408: true, 429: true, 500: true, 502: true, 503: true, 504: true} {
		rcv := webhooktest.NewReceiver(webhooktest.Options{Hook: func(webhooktest.Request) *webhooktest.Fault { return &webhooktest.Fault{Status: status} }})
		rcpt, err := newDeliverer(t, rcv).Deliver(context.Background(), delivery(records(1), map[string]any{"url": rcv.URL}))
		require.Error(t, err)
		assert.Equal(t, retryable, fault.IsRetryable(err), "%d: %v", status, err)
		if retryable {
			assert.Equal(t, 3, rcpt.Calls, "%d is retried", status)
		} else {
			assert.Equal(t, 1, rcpt.Calls, "%d is not retried", status)
		}
		rcv.Close()
	}
}

func TestRedirectsAreRefused(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("https://elsewhere.example.com/", http.StatusTemporaryRedirect))
	defer srv.Close()
	d, err := webhook.New(func(o *webhook.Options) { o.Policy = loopback(t, srv.URL) })
	require.NoError(t, err)
	rcpt, err := d.Deliver(context.Background(), delivery(records(1), map[string]any{"url": srv.URL}))
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorIs(t, err, egress.ErrRedirect)
	assert.Equal(t, 1, rcpt.Calls)
}

func TestErrorsNameTheHostOnly(t *testing.T) {
	rcv := webhooktest.NewReceiver(webhooktest.Options{Hook: func(webhooktest.Request) *webhooktest.Fault { return &webhooktest.Fault{Status: 400} }})
	defer rcv.Close()
	_, err := newDeliverer(t, rcv).Deliver(context.Background(), delivery(records(1), map[string]any{"url": rcv.URL + "/services/T0/B0/s3cr3t?token=hunter2"}))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t")
	assert.NotContains(t, err.Error(), "hunter2")
	var de *webhook.DeliveryError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, rcv.URL, de.Endpoint)
}

func TestSettingsValidation(t *testing.T) {
	reg, err := deliver.NewRegistry([]deliver.Kind{webhook.Kind()})
	require.NoError(t, err)
	validate := func(settings map[string]any) string {
		return fmt.Sprint(reg.Validate(tenant.DeliveryConfig{TenantID: "acme", Type: webhook.KindName, Settings: settings}))
	}
	assert.Equal(t, "<nil>", validate(map[string]any{"url": "https://hooks.example.com/a?b=c", "format": "json", "gzip": true,
		"signing_key": "file:acme/key", "headers": map[string]any{"X-Team": "a"}}))
	for want, bad := range map[string]map[string]any{
		`settings.format: must be "ndjson" or "json"`:                                                {"url": "https://hooks.example.com", "format": "xml"},
		"settings.headers.Idempotency-Key: is set by the deliverer and cannot be overridden":         {"url": "https://hooks.example.com", "headers": map[string]any{"Idempotency-Key": "x"}},
		"settings.headers.X-LogDelivery-Signature: is set by the deliverer and cannot be overridden": {"url": "https://hooks.example.com", "headers": map[string]any{"X-LogDelivery-Signature": "x"}},
		"settings.headers.Host: is set by the deliverer and cannot be overridden":                    {"url": "https://hooks.example.com", "headers": map[string]any{"Host": "internal"}},
		"settings.headers.Upgrade: is a hop-by-hop header, which destinations may not set":           {"url": "https://hooks.example.com", "headers": map[string]any{"Upgrade": "h2c"}},
		"settings.url: URL refused: the http scheme is not allowed (use https)":                      {"url": "http://hooks.example.com"},
		`settings.url: host "localhost": localhost names are not allowed`:                            {"url": "https://localhost/"},
		"settings.signing_key: invalid secret reference":                                             {"url": "https://hooks.example.com", "signing_key": "raw-key"},
	} {
		assert.Contains(t, validate(bad), want, "%v", bad)
	}
}
