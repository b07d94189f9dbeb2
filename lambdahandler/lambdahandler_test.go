package lambdahandler_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
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
	h, err := lambdahandler.New(d, func(o *lambdahandler.Options) {
		o.Reserve = 2 * time.Second
		o.Flusher = f
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	require.NoError(t, err)

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
	assert.Equal(t, []string{"m-flaky", "m-denied", "m-malformed", "m-slow"}, ids,
		"the messages needing a retry, and the permanent failures for the redrive policy")
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
	h, err := lambdahandler.New(d)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	assert.Equal(t, int32(1), rec.closed.Load())
}

// failureQueue records the messages parked in it, or refuses them.
type failureQueue struct {
	mu   sync.Mutex
	sent []*sqs.SendMessageInput
	err  error
}

func (q *failureQueue) SendMessage(ctx context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.err != nil {
		return nil, q.err
	}
	q.sent = append(q.sent, in)
	return &sqs.SendMessageOutput{MessageId: aws.String("parked")}, nil
}

func deniedDispatcher(t *testing.T) *logdelivery.Dispatcher {
	t.Helper()
	store, err := memstore.New(nil)
	require.NoError(t, err)
	for _, id := range []string{"ok", "denied", "flaky"} {
		_, err := store.Create(context.Background(), storetest.S3(id))
		require.NoError(t, err)
	}
	rec := &delivertest.Recorder{Func: func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		switch d.Key.Tenant {
		case "denied":
			return deliver.Receipt{}, fault.Permanent(errors.New("AccessDenied"))
		case "flaky":
			return deliver.Receipt{}, fault.Retryable(errors.New("SlowDown"))
		}
		return deliver.Receipt{Objects: 1}, nil
	}}
	d, err := logdelivery.NewDispatcher(store, kindsOf(t, s3.Kind().With(rec)))
	require.NoError(t, err)
	return d
}

var mixedEvent = events.SQSEvent{Records: []events.SQSMessage{
	{MessageId: "m-ok", Body: body("c/ok/app/pod/f.gz")},
	{MessageId: "m-denied", Body: body("c/denied/app/pod/f.gz")},
	{MessageId: "m-malformed", Body: "{"},
	{MessageId: "m-flaky", Body: body("c/flaky/app/pod/f.gz")},
}}

func failureIDs(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// With a failure queue, permanent failures are parked there with their
// reasons and not reported, so that Lambda deletes them from the source.
func TestPermanentFailuresAreParked(t *testing.T) {
	q := &failureQueue{}
	h, err := lambdahandler.New(deniedDispatcher(t), func(o *lambdahandler.Options) {
		o.FailureQueue = q
		o.FailureQueueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/failures"
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := h.Handle(ctx, mixedEvent)
	require.NoError(t, err)
	assert.Equal(t, []string{"m-flaky"}, failureIDs(resp), "only the retryable failure is reported")

	require.Len(t, q.sent, 2)
	byID := map[string]*sqs.SendMessageInput{}
	for _, in := range q.sent {
		assert.Equal(t, "https://sqs.us-east-1.amazonaws.com/123456789012/failures", aws.ToString(in.QueueUrl))
		byID[aws.ToString(in.MessageAttributes["logdelivery-message-id"].StringValue)] = in
	}
	require.Contains(t, byID, "m-denied")
	require.Contains(t, byID, "m-malformed")
	assert.Equal(t, body("c/denied/app/pod/f.gz"), aws.ToString(byID["m-denied"].MessageBody), "parked unchanged, ready for a replay")
	assert.Contains(t, aws.ToString(byID["m-denied"].MessageAttributes["logdelivery-failure"].StringValue), "AccessDenied")
	assert.Equal(t, "denied/s3", aws.ToString(byID["m-denied"].MessageAttributes["logdelivery-failed-destinations"].StringValue))
	assert.Equal(t, "{", aws.ToString(byID["m-malformed"].MessageBody))
}

// A failure queue that refuses the message leaves it reported: Lambda
// keeps it in the source queue.
func TestUnreachableFailureQueueReportsTheMessage(t *testing.T) {
	q := &failureQueue{err: errors.New("AWS.SimpleQueueService.NonExistentQueue")}
	h, err := lambdahandler.New(deniedDispatcher(t), func(o *lambdahandler.Options) {
		o.FailureQueue = q
		o.FailureQueueURL = "failures"
	})
	require.NoError(t, err)
	resp, err := h.Handle(context.Background(), mixedEvent)
	require.NoError(t, err)
	assert.Equal(t, []string{"m-denied", "m-malformed", "m-flaky"}, failureIDs(resp))
}

// DeletePermanentFailures lets Lambda delete permanent failures, as the
// reference processor does.
func TestDeletePermanentFailures(t *testing.T) {
	h, err := lambdahandler.New(deniedDispatcher(t), func(o *lambdahandler.Options) { o.DeletePermanentFailures = true })
	require.NoError(t, err)
	resp, err := h.Handle(context.Background(), mixedEvent)
	require.NoError(t, err)
	assert.Equal(t, []string{"m-flaky"}, failureIDs(resp))
}

func TestNewRejectsInvalidOptions(t *testing.T) {
	d := deniedDispatcher(t)
	for name, opt := range map[string]func(*lambdahandler.Options){
		"negative reserve":  func(o *lambdahandler.Options) { o.Reserve = -time.Second },
		"queue without url": func(o *lambdahandler.Options) { o.FailureQueue = &failureQueue{} },
		"url without queue": func(o *lambdahandler.Options) { o.FailureQueueURL = "failures" },
		"park and delete": func(o *lambdahandler.Options) {
			o.FailureQueue, o.FailureQueueURL, o.DeletePermanentFailures = &failureQueue{}, "failures", true
		},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := lambdahandler.New(d, opt)
			require.Error(t, err)
			assert.Nil(t, h)
			assert.Contains(t, err.Error(), "Options.")
		})
	}
	_, err := lambdahandler.New(nil)
	assert.Error(t, err)
}
