package sqsworker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/sqsworker"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

const wait = 20 * time.Second

func body(key string) string {
	return fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"central"},"object":{"key":%q,"size":1}}}]}`, key)
}

// fakeSQS is an in-memory queue with fault injection. Messages are handed
// out once; the test inspects what was deleted and how visibility changed.
type fakeSQS struct {
	mu            sync.Mutex
	queue         []types.Message
	receiveErrs   int // fail this many receives first
	receives      int
	deleted       map[string]bool
	deleteFailsOn map[string]int // receipt handle → failures left (not sender's fault)
	visibility    map[string][]int32
	changed       chan string // receipt handle of each visibility change
	// deleteGate, when set, holds every DeleteMessageBatch call until it
	// is closed (or the call's context ends); deletesBlocked counts the
	// calls waiting on it.
	deleteGate     chan struct{}
	deletesBlocked int
	// receiveCount, when set, is each message's ApproximateReceiveCount,
	// returned when the receive asks for it (as SQS does).
	receiveCount string
	// sent records SendMessage calls (parked messages); sendErr, when
	// set, fails them.
	sent    []*sqs.SendMessageInput
	sendErr error
}

func newFake(bodies ...string) *fakeSQS {
	f := &fakeSQS{deleted: map[string]bool{}, deleteFailsOn: map[string]int{}, visibility: map[string][]int32{}, changed: make(chan string, 1000)}
	for i, b := range bodies {
		id := "m" + strconv.Itoa(i)
		f.queue = append(f.queue, types.Message{MessageId: aws.String(id), ReceiptHandle: aws.String("rh-" + id), Body: aws.String(b)})
	}
	return f
}

func (f *fakeSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	f.receives++
	if f.receiveErrs > 0 {
		f.receiveErrs--
		f.mu.Unlock()
		return nil, errors.New("connection refused")
	}
	n := min(int(in.MaxNumberOfMessages), len(f.queue))
	out := slices.Clone(f.queue[:n])
	f.queue = f.queue[n:]
	if f.receiveCount != "" && slices.Contains(in.MessageSystemAttributeNames, types.MessageSystemAttributeNameApproximateReceiveCount) {
		for i := range out {
			out[i].Attributes = map[string]string{string(types.MessageSystemAttributeNameApproximateReceiveCount): f.receiveCount}
		}
	}
	f.mu.Unlock()
	if n == 0 {
		select { // long polling on an empty queue
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return &sqs.ReceiveMessageOutput{Messages: out}, nil
}

func (f *fakeSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	if gate := f.deleteGate; gate != nil {
		f.deletesBlocked++
		f.mu.Unlock()
		select {
		case <-gate:
		case <-ctx.Done():
		}
		f.mu.Lock()
		f.deletesBlocked--
		if err := ctx.Err(); err != nil {
			f.mu.Unlock()
			return nil, err
		}
	}
	defer f.mu.Unlock()
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		rh := aws.ToString(e.ReceiptHandle)
		if f.deleteFailsOn[rh] > 0 {
			f.deleteFailsOn[rh]--
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError")})
			continue
		}
		f.deleted[rh] = true
	}
	return out, nil
}

func (f *fakeSQS) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range in.Entries {
		rh := aws.ToString(e.ReceiptHandle)
		f.visibility[rh] = append(f.visibility[rh], e.VisibilityTimeout)
		f.changed <- rh
	}
	return &sqs.ChangeMessageVisibilityBatchOutput{}, nil
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	if aws.ToString(in.QueueUrl) == "" || aws.ToString(in.MessageBody) == "" {
		return nil, errors.New("InvalidParameterValue: QueueUrl and MessageBody are required")
	}
	for name, a := range in.MessageAttributes {
		if aws.ToString(a.StringValue) == "" || len(name) > 256 {
			return nil, fmt.Errorf("InvalidParameterValue: attribute %s must not be empty", name)
		}
	}
	f.sent = append(f.sent, in)
	return &sqs.SendMessageOutput{MessageId: aws.String(fmt.Sprintf("parked-%d", len(f.sent)))}, nil
}

func (f *fakeSQS) parked() []*sqs.SendMessageInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

func (f *fakeSQS) isDeleted(rh string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deleted[rh]
}

func (f *fakeSQS) countDeleted() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.deleted)
}

func (f *fakeSQS) blockedDeletes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deletesBlocked
}

func (f *fakeSQS) left() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queue)
}

func (f *fakeSQS) visibilities(rh string) []int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int32(nil), f.visibility[rh]...)
}

func dispatcher(t *testing.T, fn func(context.Context, *deliver.Delivery) (deliver.Receipt, error)) *logdelivery.Dispatcher {
	t.Helper()
	store, err := memstore.New(nil)
	require.NoError(t, err)
	for _, id := range []string{"ok", "flaky", "denied", "slow"} {
		_, err := store.Create(context.Background(), storetest.S3(id))
		require.NoError(t, err)
	}
	d, err := logdelivery.NewDispatcher(store, kindsOf(t, s3.Kind().With(&delivertest.Recorder{Func: fn})))
	require.NoError(t, err)
	return d
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func start(t *testing.T, w *sqsworker.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(wait):
			t.Fatal("Run did not return after shutdown")
		}
	}
}

func TestSettlesEveryMessage(t *testing.T) {
	fake := newFake(body("c/ok/a/p/1.gz"), body("c/flaky/a/p/1.gz"), body("c/denied/a/p/1.gz"), "{malformed", `{"Event":"s3:TestEvent"}`)
	fake.deleteFailsOn["rh-m0"] = 1 // the first delete of m0 fails transiently
	d := dispatcher(t, func(_ context.Context, dl *deliver.Delivery) (deliver.Receipt, error) {
		switch dl.Key.Tenant {
		case "flaky":
			return deliver.Receipt{}, errors.New("throttled")
		case "denied":
			return deliver.Receipt{}, fault.Permanent(errors.New("AccessDenied"))
		}
		return deliver.Receipt{Objects: 1}, nil
	})
	w, err := sqsworker.New(fake, "q", d, func(o *sqsworker.Options) { o.RetryDelay = 45 * time.Second })
	require.NoError(t, err)
	stop := start(t, w)
	eventually(t, "finished messages deleted", func() bool {
		return fake.isDeleted("rh-m0") && fake.isDeleted("rh-m4")
	})
	eventually(t, "the other messages delayed", func() bool {
		return len(fake.visibilities("rh-m1")) > 0 && len(fake.visibilities("rh-m2")) > 0 && len(fake.visibilities("rh-m3")) > 0
	})
	assert.NoError(t, w.Healthy())
	stop()
	assert.False(t, fake.isDeleted("rh-m1"), "a message needing a retry is not deleted")
	assert.Equal(t, []int32{45}, fake.visibilities("rh-m1"), "it comes back after RetryDelay")
	for _, rh := range []string{"rh-m2", "rh-m3"} {
		assert.False(t, fake.isDeleted(rh), "a permanent failure is kept for the redrive policy by default")
		assert.Equal(t, []int32{45}, fake.visibilities(rh))
	}
	assert.Empty(t, fake.parked(), "no failure queue configured")
	assert.Error(t, w.Healthy(), "not healthy once stopped")
}

func TestHeartbeatKeepsSlowMessagesInvisible(t *testing.T) {
	fake := newFake(body("c/slow/a/p/1.gz"))
	release := make(chan struct{})
	d := dispatcher(t, func(ctx context.Context, _ *deliver.Delivery) (deliver.Receipt, error) {
		<-release
		return deliver.Receipt{Objects: 1}, nil
	})
	w, err := sqsworker.New(fake, "q", d, func(o *sqsworker.Options) {
		o.VisibilityTimeout = 30 * time.Second
		o.HeartbeatInterval = 10 * time.Millisecond
	})
	require.NoError(t, err)
	stop := start(t, w)
	for range 3 {
		select {
		case <-fake.changed:
		case <-time.After(wait):
			t.Fatal("no heartbeat while the message was being processed")
		}
	}
	assert.Equal(t, int32(30), fake.visibilities("rh-m0")[0], "heartbeats renew the full visibility timeout")
	close(release)
	eventually(t, "the message deleted", func() bool { return fake.isDeleted("rh-m0") })
	stop()
}

func TestShutdownReleasesUnfinishedMessages(t *testing.T) {
	fake := newFake(body("c/slow/a/p/1.gz"), body("c/ok/a/p/1.gz"))
	started := make(chan struct{}, 2)
	d := dispatcher(t, func(ctx context.Context, dl *deliver.Delivery) (deliver.Receipt, error) {
		if dl.Key.Tenant == "slow" {
			started <- struct{}{}
			<-ctx.Done() // never finishes on its own
			return deliver.Receipt{}, ctx.Err()
		}
		return deliver.Receipt{Objects: 1}, nil
	})
	w, err := sqsworker.New(fake, "q", d, func(o *sqsworker.Options) {
		o.ShutdownTimeout = 50 * time.Millisecond
		o.VisibilityTimeout = 2 * time.Hour // no heartbeat during the test
		o.HeartbeatInterval = time.Hour
	})
	require.NoError(t, err)
	stop := start(t, w)
	select {
	case <-started:
	case <-time.After(wait):
		t.Fatal("slow delivery never started")
	}
	eventually(t, "the fast message deleted", func() bool { return fake.isDeleted("rh-m1") })
	stop() // returns within the shutdown timeout, not when the delivery ends
	assert.False(t, fake.isDeleted("rh-m0"))
	assert.Equal(t, []int32{0}, fake.visibilities("rh-m0"), "released for another worker at once")
}

func TestReceiveErrorsBackOff(t *testing.T) {
	fake := newFake(body("c/ok/a/p/1.gz"))
	fake.receiveErrs = 3
	w, err := sqsworker.New(fake, "q", dispatcher(t, nil), func(o *sqsworker.Options) { o.MaxReceiveBackoff = 50 * time.Millisecond })
	require.NoError(t, err)
	stop := start(t, w)
	eventually(t, "the message processed after receive errors", func() bool { return fake.isDeleted("rh-m0") })
	stop()
}

func TestNewValidates(t *testing.T) {
	_, err := sqsworker.New(nil, "q", nil)
	assert.Error(t, err)
}

func TestHungDeliveryIsBounded(t *testing.T) {
	fake := newFake(body("c/slow/a/p/1.gz"), body("c/ok/a/p/1.gz"))
	d := dispatcher(t, func(ctx context.Context, dl *deliver.Delivery) (deliver.Receipt, error) {
		if dl.Key.Tenant == "slow" {
			<-ctx.Done() // hangs until the worker's bound cuts it
			return deliver.Receipt{}, ctx.Err()
		}
		return deliver.Receipt{Objects: 1}, nil
	})
	w, err := sqsworker.New(fake, "q", d, func(o *sqsworker.Options) {
		o.MaxProcessingTime = 50 * time.Millisecond
		o.RetryDelay = 30 * time.Second
		o.MaxInFlight = 1 // the hung message holds the only slot until the bound
	})
	require.NoError(t, err)
	stop := start(t, w)
	eventually(t, "the hung message given back for a later retry", func() bool {
		return slices.Equal(fake.visibilities("rh-m0"), []int32{30})
	})
	eventually(t, "the next message processed once the slot is free", func() bool { return fake.isDeleted("rh-m1") })
	stop()
	assert.False(t, fake.isDeleted("rh-m0"))
}

func TestNewRejectsInvalidOptions(t *testing.T) {
	d := dispatcher(t, nil)
	for _, tc := range []struct {
		name string
		opt  func(*sqsworker.Options)
		want []string // in the error: the field and the accepted range
	}{
		{"visibility not whole seconds", func(o *sqsworker.Options) { o.VisibilityTimeout = 500 * time.Millisecond }, []string{"VisibilityTimeout", "whole seconds", "1s", "12h"}},
		{"visibility above 12h", func(o *sqsworker.Options) { o.VisibilityTimeout = 12*time.Hour + time.Second }, []string{"VisibilityTimeout", "12h"}},
		{"visibility negative", func(o *sqsworker.Options) { o.VisibilityTimeout = -time.Second }, []string{"VisibilityTimeout"}},
		{"heartbeat not shorter than visibility", func(o *sqsworker.Options) {
			o.VisibilityTimeout = 30 * time.Second
			o.HeartbeatInterval = 30 * time.Second
		}, []string{"HeartbeatInterval", "VisibilityTimeout/2", "15s"}},
		{"heartbeat above half the default visibility", func(o *sqsworker.Options) { o.HeartbeatInterval = time.Hour }, []string{"HeartbeatInterval", "30s"}},
		{"heartbeat negative", func(o *sqsworker.Options) { o.HeartbeatInterval = -time.Second }, []string{"HeartbeatInterval"}},
		{"wait above 20s", func(o *sqsworker.Options) { o.WaitTime = 21 * time.Second }, []string{"WaitTime", "20s"}},
		{"wait not whole seconds", func(o *sqsworker.Options) { o.WaitTime = 1500 * time.Millisecond }, []string{"WaitTime", "whole seconds"}},
		{"wait negative", func(o *sqsworker.Options) { o.WaitTime = -time.Second }, []string{"WaitTime"}},
		{"retry delay not whole seconds", func(o *sqsworker.Options) { o.RetryDelay = 100 * time.Millisecond }, []string{"RetryDelay", "whole seconds", "12h"}},
		{"retry delay above 12h", func(o *sqsworker.Options) { o.RetryDelay = 13 * time.Hour }, []string{"RetryDelay", "12h"}},
		{"retry delay negative", func(o *sqsworker.Options) { o.RetryDelay = -time.Second }, []string{"RetryDelay"}},
		{"max in flight negative", func(o *sqsworker.Options) { o.MaxInFlight = -1 }, []string{"MaxInFlight", "at least 1"}},
		{"max processing time negative", func(o *sqsworker.Options) { o.MaxProcessingTime = -time.Second }, []string{"MaxProcessingTime"}},
		{"shutdown timeout negative", func(o *sqsworker.Options) { o.ShutdownTimeout = -time.Second }, []string{"ShutdownTimeout"}},
		{"receive backoff negative", func(o *sqsworker.Options) { o.MaxReceiveBackoff = -time.Second }, []string{"MaxReceiveBackoff"}},
		{"park and delete", func(o *sqsworker.Options) {
			o.FailureQueueURL = "failures"
			o.DeletePermanentFailures = true
		}, []string{"FailureQueueURL", "DeletePermanentFailures"}},
		{"failure queue is the queue", func(o *sqsworker.Options) { o.FailureQueueURL = "q" }, []string{"FailureQueueURL", "queue itself"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := sqsworker.New(newFake(), "q", d, tc.opt)
			require.Error(t, err, "invalid options are an error, never clamped or replaced")
			assert.Nil(t, w)
			for _, s := range tc.want {
				assert.Contains(t, err.Error(), s)
			}
		})
	}

	t.Run("every invalid field reported", func(t *testing.T) {
		_, err := sqsworker.New(newFake(), "q", d, func(o *sqsworker.Options) {
			o.WaitTime = time.Minute
			o.MaxInFlight = -3
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "WaitTime")
		assert.Contains(t, err.Error(), "MaxInFlight")
	})
}

func TestNewAcceptsLimits(t *testing.T) {
	d := dispatcher(t, nil)
	for _, opt := range []func(*sqsworker.Options){
		func(*sqsworker.Options) {}, // zero means default
		func(o *sqsworker.Options) { o.VisibilityTimeout = time.Second },
		func(o *sqsworker.Options) {
			o.VisibilityTimeout = 12 * time.Hour
			o.HeartbeatInterval = 6 * time.Hour
			o.WaitTime = 20 * time.Second
			o.RetryDelay = 12 * time.Hour
			o.MaxInFlight = 1
			o.MaxProcessingTime = time.Millisecond
			o.ShutdownTimeout = time.Millisecond
			o.MaxReceiveBackoff = time.Millisecond
		},
		func(o *sqsworker.Options) {
			o.VisibilityTimeout = 30 * time.Second
			o.HeartbeatInterval = 15 * time.Second
			o.WaitTime = time.Second
			o.RetryDelay = time.Second
		},
	} {
		_, err := sqsworker.New(newFake(), "q", d, opt)
		assert.NoError(t, err)
	}
}

// A delete call that hangs must not hold the workers: finished messages
// are handed to the deleter without waiting, so their slots free up and
// more messages are received and processed meanwhile. Everything handed
// over is deleted once the call returns, at the latest on shutdown.
func TestSlowDeletesDoNotHoldWorkerSlots(t *testing.T) {
	const n = 25
	var bodies []string
	for i := range n {
		bodies = append(bodies, body(fmt.Sprintf("c/ok/a/p/%d.gz", i)))
	}
	fake := newFake(bodies...)
	gate := make(chan struct{})
	fake.deleteGate = gate
	var mu sync.Mutex
	processed := 0
	d := dispatcher(t, func(context.Context, *deliver.Delivery) (deliver.Receipt, error) {
		mu.Lock()
		processed++
		mu.Unlock()
		return deliver.Receipt{Objects: 1}, nil
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); return processed }
	w, err := sqsworker.New(fake, "q", d, func(o *sqsworker.Options) {
		o.MaxInFlight = 2 // a blocked hand-off would hold every slot after two messages
	})
	require.NoError(t, err)
	released := false
	release := func() {
		if !released {
			released = true
			close(gate)
		}
	}
	stop := start(t, w)
	t.Cleanup(func() { release() }) // lets a failed run shut down

	eventually(t, "a delete call in progress", func() bool { return fake.blockedDeletes() > 0 })
	eventually(t, "every message processed while the delete call hangs", func() bool { return count() == n && fake.left() == 0 })
	assert.Positive(t, fake.blockedDeletes(), "the delete call is still in progress")
	assert.Zero(t, fake.countDeleted(), "nothing deleted yet")

	stopped := make(chan struct{})
	go func() { defer close(stopped); stop() }()
	release()
	<-stopped // stop fails the test if Run does not return
	assert.Equal(t, n, fake.countDeleted(), "everything handed to the deleter is deleted by the time Run returns")
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (log handlers).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for l := range strings.Lines(b.buf.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		out = append(out, m)
	}
	return out
}

// The failure lines of a message say which delivery attempt it was (SQS's
// ApproximateReceiveCount), so that operators can tell a first failure from
// one about to reach the dead-letter queue.
func TestFailuresLogTheReceiveCount(t *testing.T) {
	fake := newFake(body("c/flaky/a/p/1.gz"), body("c/denied/a/p/1.gz"), "{malformed")
	fake.receiveCount = "3"
	d := dispatcher(t, func(_ context.Context, dl *deliver.Delivery) (deliver.Receipt, error) {
		if dl.Key.Tenant == "denied" {
			return deliver.Receipt{}, fault.Permanent(errors.New("AccessDenied"))
		}
		return deliver.Receipt{}, errors.New("throttled")
	})
	var logs syncBuffer
	w, err := sqsworker.New(fake, "q", d, func(o *sqsworker.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	require.NoError(t, err)
	stop := start(t, w)
	eventually(t, "every message settled", func() bool {
		return len(fake.visibilities("rh-m0")) > 0 && len(fake.visibilities("rh-m1")) > 0 && len(fake.visibilities("rh-m2")) > 0
	})
	stop()

	failures := map[string]map[string]any{} // message id → its failure line
	for _, l := range logs.lines(t) {
		if id, ok := l["message_id"].(string); ok && (l["level"] == "WARN" || l["level"] == "ERROR") {
			failures[id] = l
		}
	}
	for _, id := range []string{"m0", "m1", "m2"} {
		require.Contains(t, failures, id, "the failure of %s is logged", id)
		assert.EqualValues(t, 3, failures[id]["receive_count"], "the failure line of %s carries its receive count", id)
	}
}

type closingRecorder struct {
	delivertest.Recorder
	closed atomic.Int32
}

func (c *closingRecorder) Close() error { c.closed.Add(1); return nil }

// Run closes the Dispatcher, and so its deliverers, once everything in
// flight is settled.
func TestRunClosesTheDispatcher(t *testing.T) {
	fake := newFake(body("c/ok/a/p/1.gz"))
	store, err := memstore.New([]tenant.DeliveryConfig{storetest.S3("ok")})
	require.NoError(t, err)
	rec := &closingRecorder{}
	d, err := logdelivery.NewDispatcher(store, kindsOf(t, s3.Kind().With(rec)))
	require.NoError(t, err)
	w, err := sqsworker.New(fake, "q", d)
	require.NoError(t, err)
	stop := start(t, w)
	eventually(t, "the message delivered", func() bool { return len(rec.Deliveries()) == 1 })
	assert.Zero(t, rec.closed.Load(), "not while running")
	stop()
	assert.Equal(t, int32(1), rec.closed.Load())
}

// With a failure queue, permanently failed messages are sent there with
// their reasons and deleted from the source queue; a retryable failure in
// the same message keeps it in the source queue instead.
func TestPermanentFailuresAreParked(t *testing.T) {
	mixed := `{"Records":[` + strings.TrimSuffix(strings.TrimPrefix(body("c/denied/a/p/2.gz"), `{"Records":[`), "]}") + "," +
		strings.TrimSuffix(strings.TrimPrefix(body("c/flaky/a/p/2.gz"), `{"Records":[`), "]}") + "]}"
	fake := newFake(body("c/denied/a/p/1.gz"), "{malformed", body("c/ok/a/p/1.gz"), mixed)
	d := dispatcher(t, func(_ context.Context, dl *deliver.Delivery) (deliver.Receipt, error) {
		switch dl.Key.Tenant {
		case "denied":
			return deliver.Receipt{}, fault.Permanent(errors.New("AccessDenied: not authorized to perform s3:PutObject"))
		case "flaky":
			return deliver.Receipt{}, errors.New("throttled")
		}
		return deliver.Receipt{Objects: 1}, nil
	})
	w, err := sqsworker.New(fake, "q", d, func(o *sqsworker.Options) { o.FailureQueueURL = "failures" })
	require.NoError(t, err)
	stop := start(t, w)
	eventually(t, "messages settled", func() bool {
		return fake.isDeleted("rh-m0") && fake.isDeleted("rh-m1") && fake.isDeleted("rh-m2") && len(fake.visibilities("rh-m3")) > 0
	})
	stop()
	assert.False(t, fake.isDeleted("rh-m3"), "a message with a retryable failure stays for its retry")

	parked := fake.parked()
	require.Len(t, parked, 2, "the denied and the malformed message are parked")
	bodies := map[string]*sqs.SendMessageInput{}
	for _, p := range parked {
		assert.Equal(t, "failures", aws.ToString(p.QueueUrl))
		bodies[aws.ToString(p.MessageBody)] = p
	}
	denied := bodies[body("c/denied/a/p/1.gz")]
	require.NotNil(t, denied, "the body is parked unchanged, ready for a replay")
	assert.Contains(t, aws.ToString(denied.MessageAttributes["logdelivery-failure"].StringValue), "AccessDenied")
	assert.Contains(t, aws.ToString(denied.MessageAttributes["logdelivery-failure"].StringValue), "s3://central/c/denied/a/p/1.gz")
	assert.Equal(t, "denied/s3", aws.ToString(denied.MessageAttributes["logdelivery-failed-destinations"].StringValue))
	assert.Equal(t, "m0", aws.ToString(denied.MessageAttributes["logdelivery-message-id"].StringValue))
	malformed := bodies["{malformed"]
	require.NotNil(t, malformed)
	assert.NotEmpty(t, aws.ToString(malformed.MessageAttributes["logdelivery-failure"].StringValue))
}

// A failure queue that cannot be reached keeps the message in the source
// queue: parking never loses a message.
func TestUnreachableFailureQueueKeepsTheMessage(t *testing.T) {
	fake := newFake(body("c/denied/a/p/1.gz"))
	fake.sendErr = errors.New("AWS.SimpleQueueService.NonExistentQueue")
	d := dispatcher(t, func(context.Context, *deliver.Delivery) (deliver.Receipt, error) {
		return deliver.Receipt{}, fault.Permanent(errors.New("AccessDenied"))
	})
	w, err := sqsworker.New(fake, "q", d, func(o *sqsworker.Options) {
		o.FailureQueueURL = "failures"
		o.RetryDelay = 7 * time.Second
	})
	require.NoError(t, err)
	stop := start(t, w)
	eventually(t, "the message released", func() bool { return len(fake.visibilities("rh-m0")) > 0 })
	stop()
	assert.False(t, fake.isDeleted("rh-m0"))
	assert.Equal(t, []int32{7}, fake.visibilities("rh-m0"))
}

// DeletePermanentFailures restores the reference processor's behaviour:
// permanently failed messages are deleted.
func TestDeletePermanentFailures(t *testing.T) {
	fake := newFake(body("c/denied/a/p/1.gz"), "{malformed")
	d := dispatcher(t, func(context.Context, *deliver.Delivery) (deliver.Receipt, error) {
		return deliver.Receipt{}, fault.Permanent(errors.New("AccessDenied"))
	})
	w, err := sqsworker.New(fake, "q", d, func(o *sqsworker.Options) { o.DeletePermanentFailures = true })
	require.NoError(t, err)
	stop := start(t, w)
	eventually(t, "both deleted", func() bool { return fake.isDeleted("rh-m0") && fake.isDeleted("rh-m1") })
	stop()
	assert.Empty(t, fake.parked())
	assert.Empty(t, fake.visibilities("rh-m0"))
}
