package loki_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/loki"
	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
	"github.com/logdelivery/logdelivery/fault"
)

// Records become streams by their label set and entries with their time
// to the nanosecond and their line unchanged, in record order per stream;
// pod labels and host become labels or structured metadata as the
// settings say; the org id is the tenant id.
func TestStreamsAndEntries(t *testing.T) {
	srv := newFake(t, lokitest.Options{})
	dv := newDeliverer(t)
	cfg := config(srv.URL, map[string]any{
		"labels":          map[string]any{"env": "prod", "team": "{namespace}"},
		"label_fields":    map[string]any{"namespace": "namespace", "app": "pod_labels.app.kubernetes.io/name", "cluster": "cluster"},
		"metadata_fields": map[string]any{"pod": "pod", "node": "host", "stream": "stream"},
	})
	web := map[string]string{"app.kubernetes.io/name": "web"}
	var recs []deliver.Record
	for i := range 9 {
		r := deliver.Record{Time: t0.Add(time.Duration(i)*time.Second + time.Duration(i+1)), Message: fmt.Sprintf(" line %d \t\"x\" ", i),
			Stream: "stdout", Pod: fmt.Sprintf("web-%d", i%2), Host: "node-1", Labels: web}
		if i%3 == 2 {
			r.Namespace, r.Labels, r.Pod = "billing", map[string]string{"app.kubernetes.io/name": "ledger"}, "ledger-0"
		}
		recs = append(recs, r)
	}
	rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, cfg, recs))
	require.NoError(t, err)
	assert.Equal(t, deliver.Receipt{Events: 9, Bytes: sumLines(recs), Calls: 1, Location: "loki:acme@" + srv.URL + "/loki/api/v1/push"}, rcpt)

	assert.Equal(t, []string{
		`{app="ledger", cluster="prod-1", env="prod", namespace="billing", team="billing"}`,
		`{app="web", cluster="prod-1", env="prod", namespace="shop", team="shop"}`,
	}, srv.Streams("acme"), "the key's namespace and cluster fill in for the records'")
	got := srv.Entries("acme")
	require.Len(t, got, 9)
	byStream := map[string][]lokitest.Entry{}
	for _, e := range got {
		byStream[e.Labels] = append(byStream[e.Labels], e)
	}
	var want []deliver.Record
	for _, r := range recs {
		if r.Namespace == "" {
			want = append(want, r)
		}
	}
	shop := byStream[`{app="web", cluster="prod-1", env="prod", namespace="shop", team="shop"}`]
	require.Len(t, shop, len(want))
	for i, e := range shop {
		assert.Equal(t, want[i].Message, e.Line, "in record order, the line unchanged")
		assert.True(t, want[i].Time.Equal(e.Time), "nanoseconds kept: %v, want %v", e.Time, want[i].Time)
		assert.Equal(t, map[string]string{"pod": want[i].Pod, "node": "node-1", "stream": "stdout"}, e.Metadata)
	}
	assert.Empty(t, srv.Entries("globex"))
}

func sumLines(recs []deliver.Record) int64 {
	var n int64
	for _, r := range recs {
		n += int64(len(r.Message))
	}
	return n
}

// The operator's org id replaces the tenant id.
func TestOrgID(t *testing.T) {
	srv := newFake(t, lokitest.Options{})
	dv := newDeliverer(t)
	cfg := config(srv.URL, map[string]any{"org_id": "acme-prod"})
	_, err := dv.Deliver(context.Background(), delivery(t, dv, cfg, records(3, "r%d")))
	require.NoError(t, err)
	assert.Equal(t, []string{"acme-prod"}, srv.Tenants())
}

// Batches respect both bounds, each as full as the other allows: the
// calls are the minimum.
func TestBatchBounds(t *testing.T) {
	for _, tc := range []struct {
		name             string
		bytes, entries   int
		records, lineLen int
		calls            int
	}{
		{name: "BytesBound", bytes: 10_000, entries: 10_000, records: 1000, lineLen: 100, calls: 10},
		{name: "EntriesBound", bytes: 1 << 20, entries: 64, records: 1000, lineLen: 100, calls: 16},
		{name: "OneBatch", bytes: 1 << 20, entries: 10_000, records: 1000, lineLen: 100, calls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var calls []lokitest.Call
			srv := newFake(t, lokitest.Options{Hook: func(c lokitest.Call) *lokitest.Fault {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, c)
				return nil
			}})
			dv := newDeliverer(t)
			cfg := config(srv.URL, map[string]any{"batch_bytes": tc.bytes, "batch_entries": tc.entries})
			rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, cfg, records(tc.records, "%0"+fmt.Sprint(tc.lineLen)+"d")))
			require.NoError(t, err)
			assert.Equal(t, int64(tc.records), rcpt.Events)
			assert.Equal(t, tc.calls, rcpt.Calls)
			require.Len(t, calls, tc.calls)
			for _, c := range calls {
				assert.LessOrEqual(t, c.Bytes, tc.bytes)
				assert.LessOrEqual(t, c.Entries, tc.entries)
			}
		})
	}
}

// A new stream that would exceed MaxStreamsPerPush starts a new push.
func TestStreamsPerPush(t *testing.T) {
	srv := newFake(t, lokitest.Options{})
	dv := newDeliverer(t, func(o *loki.Options) { o.MaxStreamsPerPush = 2 })
	cfg := config(srv.URL, map[string]any{"label_fields": map[string]any{"pod": "pod"}})
	recs := records(6, "r%d")
	for i := range recs {
		recs[i].Pod = fmt.Sprintf("p%d", i)
	}
	rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, cfg, recs))
	require.NoError(t, err)
	assert.Equal(t, 3, rcpt.Calls)
	assert.Len(t, srv.Streams("acme"), 6)
}

// Lines over max_line_size are cut on a UTF-8 boundary, or dropped, and
// counted; the fake with Loki's limit accepts what is sent.
func TestOversizeLines(t *testing.T) {
	long := strings.Repeat("é", 3000) // 6000 bytes
	recs := []deliver.Record{{Time: t0, Message: "short"}, {Time: t0, Message: "x" + long}, {Time: t0, Message: "end"}}
	t.Run("Truncate", func(t *testing.T) {
		srv := newFake(t, lokitest.Options{Limits: lokitest.Limits{MaxLineSize: 4096}})
		dv := newDeliverer(t)
		rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, config(srv.URL, map[string]any{"max_line_size": 4096}), recs))
		require.NoError(t, err)
		assert.Equal(t, int64(3), rcpt.Events)
		assert.Equal(t, int64(1), rcpt.Truncated)
		got := srv.Entries("acme")
		require.Len(t, got, 3)
		assert.Equal(t, 4095, len(got[1].Line), "cut before the rune that would cross 4096 bytes")
		assert.True(t, strings.HasPrefix("x"+long, got[1].Line))
		assert.Equal(t, int64(5+4095+3), rcpt.Bytes, "Bytes counts what was sent")
	})
	t.Run("Drop", func(t *testing.T) {
		srv := newFake(t, lokitest.Options{})
		dv := newDeliverer(t)
		rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, config(srv.URL, map[string]any{"max_line_size": 4096, "oversize_lines": "drop"}), recs))
		require.NoError(t, err)
		assert.Equal(t, int64(2), rcpt.Events)
		assert.Equal(t, int64(1), rcpt.Dropped)
		assert.Len(t, srv.Entries("acme"), 2)
	})
}

// 429 and 5xx are retried with backoff until they pass, honouring
// Retry-After.
func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault *lokitest.Fault
		wait  time.Duration
	}{
		{name: "TooManyRequests", fault: lokitest.TooManyRequests(0)},
		{name: "RetryAfter", fault: lokitest.TooManyRequests(time.Second), wait: time.Second},
		{name: "Unavailable", fault: lokitest.Unavailable()},
		{name: "InternalError", fault: &lokitest.Fault{Status: 500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, lokitest.Options{Hook: func(c lokitest.Call) *lokitest.Fault {
				if c.N <= 2 && (tc.wait == 0 || c.N == 1) {
					return tc.fault
				}
				return nil
			}})
			dv := newDeliverer(t)
			start := time.Now()
			rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, config(srv.URL, nil), records(10, "r%d")))
			require.NoError(t, err)
			assert.Equal(t, int64(10), rcpt.Events)
			assert.GreaterOrEqual(t, time.Since(start), tc.wait, "Retry-After is honoured")
			wantCalls := 3
			if tc.wait > 0 {
				wantCalls = 2
			}
			assert.Equal(t, wantCalls, rcpt.Calls, "retries are counted as calls")
		})
	}
}

// A Retry-After beyond the deadline ends the delivery at once with a
// retryable error carrying the hint.
func TestRetryAfterPastDeadline(t *testing.T) {
	srv := newFake(t, lokitest.Options{Hook: func(lokitest.Call) *lokitest.Fault { return lokitest.TooManyRequests(30 * time.Second) }})
	dv := newDeliverer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	rcpt, err := dv.Deliver(ctx, delivery(t, dv, config(srv.URL, nil), records(10, "r%d")))
	require.Error(t, err)
	assert.Less(t, time.Since(start), time.Second, "no waiting for a retry that cannot come in time")
	assert.True(t, fault.IsRetryable(err), "%v", err)
	assert.Equal(t, 30*time.Second, fault.RetryAfter(err))
	assert.Equal(t, 1, rcpt.Calls)
	var de *loki.DeliveryError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, int64(10), de.NotDelivered)
	var se *loki.StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 429, se.Status)
}

// Persistent 5xx: at most MaxAttempts calls, then a retryable error.
func TestGivesUp(t *testing.T) {
	srv := newFake(t, lokitest.Options{Hook: func(lokitest.Call) *lokitest.Fault { return lokitest.Unavailable() }})
	dv := newDeliverer(t)
	rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, config(srv.URL, nil), records(10, "r%d")))
	assert.True(t, fault.IsRetryable(err), "%v", err)
	assert.ErrorContains(t, err, "gave up after 4 attempts")
	assert.Equal(t, 4, rcpt.Calls)
	assert.Zero(t, fault.RetryAfter(err), "no Retry-After, no hint")
}

// A push Loki rejects (400) is counted as rejected, never retried, and the
// delivery goes on with the later batches; the error is permanent and
// says how many were rejected.
func TestRejectedBatch(t *testing.T) {
	srv := newFake(t, lokitest.Options{Hook: func(c lokitest.Call) *lokitest.Fault {
		if c.N == 2 {
			return lokitest.BadRequest("entry for stream has timestamp too old")
		}
		return nil
	}})
	dv := newDeliverer(t)
	rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, config(srv.URL, map[string]any{"batch_entries": 10}), records(30, "r%d")))
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err), "a retry would be rejected again: %v", err)
	assert.ErrorContains(t, err, "timestamp too old")
	assert.Equal(t, int64(20), rcpt.Events)
	assert.Equal(t, int64(10), rcpt.Rejected)
	assert.Equal(t, 3, rcpt.Calls, "the rejected push is not retried")
	assert.Equal(t, int64(20), srv.Total())
	var de *loki.DeliveryError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, int64(10), de.Rejected)
	assert.Equal(t, int64(20), de.Delivered)
}

// Loki's own line limit, lower than the settings': Loki stores the valid
// entries of the push and answers 400; the receipt counts the push as
// rejected, since the answer does not say which entries were stored.
func TestServerLineLimit(t *testing.T) {
	srv := newFake(t, lokitest.Options{Limits: lokitest.Limits{MaxLineSize: 10}})
	dv := newDeliverer(t)
	recs := []deliver.Record{{Time: t0, Message: "short"}, {Time: t0, Message: "a line longer than ten bytes"}}
	rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, config(srv.URL, nil), recs))
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorContains(t, err, "Max entry size '10' bytes exceeded")
	assert.Equal(t, int64(2), rcpt.Rejected)
	assert.Equal(t, int64(1), srv.Total())
}

// Answers that no retry or later batch can fix stop the delivery.
func TestPermanentAnswersStop(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  *lokitest.Fault
		status int
	}{
		{name: "Forbidden", fault: lokitest.Forbidden(), status: 403},
		{name: "NotFound", fault: &lokitest.Fault{Status: 404, Body: "404 page not found"}, status: 404},
		{name: "TooLarge", fault: &lokitest.Fault{Status: 413, Body: "request entity too large"}, status: 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, lokitest.Options{Hook: func(lokitest.Call) *lokitest.Fault { return tc.fault }})
			dv := newDeliverer(t)
			rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, config(srv.URL, map[string]any{"batch_entries": 10}), records(30, "r%d")))
			assert.True(t, fault.IsPermanent(err), "%v", err)
			assert.Equal(t, 1, rcpt.Calls)
			var se *loki.StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.status, se.Status)
			var de *loki.DeliveryError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, int64(10), de.NotDelivered, "the unanswered batch; later records were not read")
		})
	}
}

// An object whose records would create an explosion of streams is
// refused with a permanent error naming the label, and nothing of it is
// pushed.
func TestCardinalityGuard(t *testing.T) {
	srv := newFake(t, lokitest.Options{})
	dv := newDeliverer(t, func(o *loki.Options) { o.MaxStreams = 50 })
	cfg := config(srv.URL, map[string]any{"label_fields": map[string]any{"namespace": "namespace", "request": "pod_labels.request-id"}})
	recs := records(1000, "r%d")
	for i := range recs {
		recs[i].Labels = map[string]string{"request-id": fmt.Sprintf("req-%d", i)}
	}
	rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, cfg, recs))
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorContains(t, err, `more than 50 streams`)
	assert.ErrorContains(t, err, `label "request" alone has 51 distinct values`)
	assert.Zero(t, rcpt.Calls, "nothing pushed")
	assert.Zero(t, srv.Total())
}

// Basic and bearer authentication with secrets resolved by reference.
func TestAuth(t *testing.T) {
	sec := secrets{"acme file:acme/loki-password": "s3cret", "acme file:acme/loki-token": "tok"}
	var got []string
	var mu sync.Mutex
	srv := newFake(t, lokitest.Options{Authorize: func(org, auth string) bool {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, auth)
		return auth == "Basic YWNtZTpzM2NyZXQ=" || auth == "Bearer tok"
	}})
	dv := newDeliverer(t, func(o *loki.Options) { o.Secrets = sec })
	for _, auth := range []map[string]any{
		{"username": "acme", "password_ref": "file:acme/loki-password"},
		{"token_ref": "file:acme/loki-token"},
	} {
		_, err := dv.Deliver(context.Background(), delivery(t, dv, config(srv.URL, map[string]any{"auth": auth}), records(2, "r%d")))
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"Basic YWNtZTpzM2NyZXQ=", "Bearer tok"}, got)

	// A wrong secret: 401, permanent, one call.
	sec["acme file:acme/loki-token"] = "wrong"
	rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, config(srv.URL, map[string]any{"auth": map[string]any{"token_ref": "file:acme/loki-token"}}), records(2, "r%d")))
	assert.True(t, fault.IsPermanent(err))
	assert.Equal(t, 1, rcpt.Calls)
	assert.NotContains(t, err.Error(), "wrong", "secrets are never in messages")

	// A missing secret keeps the resolver's class and names the reference.
	_, err = dv.Deliver(context.Background(), delivery(t, dv, config(srv.URL, map[string]any{"auth": map[string]any{"token_ref": "file:acme/nope"}}), records(2, "r%d")))
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorContains(t, err, "settings.auth.token_ref")
	assert.ErrorContains(t, err, "file:acme/nope")

	// Without a resolver.
	plain := newDeliverer(t)
	_, err = plain.Deliver(context.Background(), delivery(t, plain, config(srv.URL, map[string]any{"auth": map[string]any{"token_ref": "file:acme/loki-token"}}), records(2, "r%d")))
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorContains(t, err, "resolves no secrets")
}

// A deliverer with the strict default policy refuses a loopback URL,
// whether its settings were validated elsewhere or not.
func TestEgressRefusal(t *testing.T) {
	srv := newFake(t, lokitest.Options{})
	strict, err := loki.New()
	require.NoError(t, err)
	dl := delivery(t, newDeliverer(t), config(srv.URL, nil), records(2, "r%d")) // validated with the loopback policy
	_, err = strict.Deliver(context.Background(), dl)
	assert.True(t, fault.IsPermanent(err), "%v", err)
	assert.ErrorContains(t, err, "is not allowed")
	dl.Settings = nil
	_, err = strict.Deliver(context.Background(), dl)
	assert.True(t, fault.IsPermanent(err), "%v", err)
	assert.Zero(t, srv.Pushes(""))
}

// Secrets of a failed delivery are not in its error, nor is the URL's
// userinfo (which validation refuses anyway).
func TestDeliveryErrorMessage(t *testing.T) {
	srv := newFake(t, lokitest.Options{Hook: func(lokitest.Call) *lokitest.Fault { return lokitest.Forbidden() }})
	dv := newDeliverer(t, func(o *loki.Options) { o.Secrets = secrets{"acme file:acme/t": "topsecret"} })
	_, err := dv.Deliver(context.Background(), delivery(t, dv, config(srv.URL, map[string]any{"auth": map[string]any{"token_ref": "file:acme/t"}}), records(2, "r%d")))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "topsecret")
	assert.Contains(t, err.Error(), `as org "acme"`)
	assert.True(t, errors.Is(err, fault.ErrPermanent))
}
