package lambdahandler_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/lambdahandler"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func body(key string) string {
	return fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"central"},"object":{"key":%q,"size":1}}}]}`, key)
}

type flusher struct{ n int }

func (f *flusher) Flush() error { f.n++; return nil }

func TestBatchItemFailures(t *testing.T) {
	store, err := memstore.New(nil)
	require.NoError(t, err)
	for _, id := range []string{"ok", "flaky", "denied", "slow"} {
		_, err := store.Create(context.Background(), storetest.S3(id))
		require.NoError(t, err)
	}
	rec := &delivertest.Recorder{Func: func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		switch d.Key.Tenant {
		case "flaky":
			return deliver.Receipt{}, fault.Retryable(errors.New("SlowDown"))
		case "denied":
			return deliver.Receipt{}, fault.Permanent(errors.New("AccessDenied"))
		case "slow":
			<-ctx.Done() // outlives the invocation: cut short by the reserve
			return deliver.Receipt{}, ctx.Err()
		}
		return deliver.Receipt{Objects: 1}, nil
	}}
	d, err := logdelivery.NewDispatcher(store, kindsOf(t, s3.Kind().With(rec)))
	require.NoError(t, err)
	var logs bytes.Buffer
	f := &flusher{}
	h := lambdahandler.New(d, func(o *lambdahandler.Options) {
		o.Reserve = 2 * time.Second
		o.Flusher = f
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m-ok", Body: body("c/ok/app/pod/f.gz")},
		{MessageId: "m-flaky", Body: body("c/flaky/app/pod/f.gz")},
		{MessageId: "m-denied", Body: body("c/denied/app/pod/f.gz")},
		{MessageId: "m-malformed", Body: "{"},
		{MessageId: "m-test", Body: `{"Service":"Amazon S3","Event":"s3:TestEvent"}`},
		{MessageId: "m-slow", Body: body("c/slow/app/pod/f.gz")},
	}})
	require.NoError(t, err, "Handle never fails the whole batch")
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	assert.Equal(t, []string{"m-flaky", "m-slow"}, ids, "exactly the messages needing a retry")
	assert.Greater(t, time.Until(mustDeadline(t, ctx)), time.Second, "answered with the reserve left")
	assert.Equal(t, 1, f.n, "metrics flushed once per invocation")
	assert.Contains(t, logs.String(), "m-denied")
	assert.Contains(t, logs.String(), "m-malformed")
}

func mustDeadline(t *testing.T, ctx context.Context) time.Time {
	dl, ok := ctx.Deadline()
	require.True(t, ok)
	return dl
}

func kindsOf(t *testing.T, kinds ...deliver.Kind) *deliver.Registry {
	t.Helper()
	r, err := deliver.NewRegistry(kinds)
	require.NoError(t, err)
	return r
}

type closingRecorder struct {
	delivertest.Recorder
	closed atomic.Int32
}

func (c *closingRecorder) Close() error { c.closed.Add(1); return nil }

func TestCloseClosesTheDispatcher(t *testing.T) {
	store, err := memstore.New(nil)
	require.NoError(t, err)
	rec := &closingRecorder{}
	d, err := logdelivery.NewDispatcher(store, kindsOf(t, s3.Kind().With(rec)))
	require.NoError(t, err)
	h := lambdahandler.New(d)
	require.NoError(t, h.Close())
	assert.Equal(t, int32(1), rec.closed.Load())
}
