// Package sqsworker runs a logdelivery.Dispatcher as a long-running SQS
// consumer: long polling, a bounded number of messages in flight, a
// visibility heartbeat while messages are being worked on, batch deletes of
// finished messages, backoff on receive errors and a graceful shutdown.
package sqsworker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/semaphore"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/internal/failqueue"
)

// API is the part of the SQS client the worker uses.
type API interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Options configures a Worker. A zero field means its default; a field
// outside its accepted range makes New fail, naming the field and the range:
// nothing is clamped or silently replaced. Durations that SQS takes in whole
// seconds (VisibilityTimeout, WaitTime, RetryDelay) must be whole seconds.
type Options struct {
	// MaxInFlight bounds the messages being processed at once. At least 1.
	// Default: 20.
	MaxInFlight int
	// WaitTime is the long-polling wait of each receive: whole seconds,
	// 1s to 20s (SQS's maximum). Default: 20s. (Short polling is not
	// offered: a worker polling an empty queue would spin.)
	WaitTime time.Duration
	// VisibilityTimeout is requested on receive and renewed by the
	// heartbeat while a message is being processed: whole seconds, 1s to
	// 12h (SQS's range). Default: 60s.
	VisibilityTimeout time.Duration
	// HeartbeatInterval is how often the visibility of messages in flight
	// is renewed. It must be positive and at most VisibilityTimeout/2: a
	// renewal starts up to one interval after the previous one and may take
	// up to one interval itself (its timeout), so a longer interval lets a
	// message become visible to another worker while it is still being
	// processed, and be delivered twice. Default: VisibilityTimeout/3, which
	// also survives one failed renewal.
	HeartbeatInterval time.Duration
	// RetryDelay is the visibility given to a message that needs a retry,
	// so that a throttled destination is not hammered: whole seconds, at
	// most 12h (SQS's maximum visibility). Default: 30s. A message whose
	// retryable failures all carry a retry-after hint (a tenant over its
	// limits, see package limits) gets the hint instead, rounded up to
	// whole seconds.
	RetryDelay time.Duration
	// MaxProcessingTime bounds the processing of one message, so that a
	// destination that hangs cannot hold a worker slot (and keep its message
	// invisible through the heartbeat) forever; deliveries cut short are
	// retryable. Positive. Default: 10 × VisibilityTimeout.
	MaxProcessingTime time.Duration
	// ShutdownTimeout bounds how long messages in flight may keep running
	// once Run's context is done; those not finished by then are released
	// (visibility 0) for another worker. Positive. Default: 30s.
	ShutdownTimeout time.Duration
	// MaxReceiveBackoff caps the jittered exponential backoff after failed
	// receives. Positive. Default: 30s.
	MaxReceiveBackoff time.Duration
	// FailureQueueURL is where messages that failed permanently (a
	// malformed body, or a permanent failure at some destination and no
	// retryable one) are parked: sent there with their reasons as message
	// attributes (logdelivery-failure, logdelivery-failed-destinations),
	// then deleted, so that they can be replayed once fixed (with a ledger,
	// a replay delivers only what is missing). Default: none; such messages
	// are kept, their visibility set to RetryDelay, so that the queue's
	// redrive policy moves them to its dead-letter queue after
	// maxReceiveCount receives. Either way nothing is lost; set
	// DeletePermanentFailures to drop them instead.
	FailureQueueURL string
	// DeletePermanentFailures deletes messages that failed permanently, as
	// the reference processor does: their logs are lost. Default: false.
	DeletePermanentFailures bool
	// Flusher, when set, is flushed after every processed message.
	Flusher interface{ Flush() error }
	// Observer, when set, is told what the worker does with messages, for
	// metrics (metrics.Worker is one). Default: none.
	Observer Observer
	// Logger receives failures, lifecycle events, one Info line per
	// processed message (logdelivery.MessageResult.LogSummary) and the
	// totals when Run returns. The failure lines of a message carry its
	// receive_count (SQS's ApproximateReceiveCount, 1 on the first
	// delivery), to tell a first failure from one nearing the dead-letter
	// queue's maxReceiveCount. Default: discard.
	Logger *slog.Logger
}

// Observer is told what a Worker does with messages. Its methods are called
// concurrently, from the receive loop and from the goroutines processing
// messages, and must not block.
type Observer interface {
	// Received is called after every successful receive with the number
	// of messages it returned, possibly 0. Each of them is then in flight
	// until Processed is called for it.
	Received(n int)
	// ReceiveFailed is called after every failed receive.
	ReceiveFailed()
	// Processed is called once for every received message, when it is
	// settled, with its dispatch result, the time its processing started
	// and what the worker did with it.
	Processed(res logdelivery.MessageResult, started time.Time, s Settlement)
}

// Settlement is what a Worker did with a processed message.
type Settlement int

const (
	// Deleted: nothing in the message needs a retry.
	Deleted Settlement = iota
	// Released: something failed retryably; the message is visible again
	// after RetryDelay, or after its failures' retry-after hint when they
	// all carry one (a tenant over its limits), at once when shutdown cut
	// it short.
	Released
	// Parked: it failed permanently and was sent to the failure queue,
	// then deleted.
	Parked
	// Kept: it failed permanently and is visible again after RetryDelay,
	// for the queue's redrive policy (no failure queue, or it could not
	// be reached).
	Kept
	// Dropped: it failed permanently and was deleted
	// (DeletePermanentFailures); its logs are lost.
	Dropped
)

// String returns the settlement's lower-case name, such as "parked".
func (s Settlement) String() string {
	switch s {
	case Deleted:
		return "deleted"
	case Released:
		return "released"
	case Parked:
		return "parked"
	case Kept:
		return "kept"
	case Dropped:
		return "dropped"
	}
	return fmt.Sprintf("Settlement(%d)", int(s))
}

type nopObserver struct{}

func (nopObserver) Received(int)                                               {}
func (nopObserver) ReceiveFailed()                                             {}
func (nopObserver) Processed(logdelivery.MessageResult, time.Time, Settlement) {}

// Defaults of Options that deployments size themselves by: a pod's
// termination grace period must exceed DefaultShutdownTimeout (plus the
// time its HTTP server takes to stop), and a worker takes up to
// DefaultMaxInFlight messages at once.
const (
	DefaultShutdownTimeout = 30 * time.Second
	DefaultMaxInFlight     = 20
)

// SQS limits on the options.
const (
	maxVisibility = 12 * time.Hour
	maxWaitTime   = 20 * time.Second
)

// validate fills in the defaults of zero fields and reports every field
// out of its range.
func (o *Options) validate() error {
	var errs []error
	bad := func(field string, v any, accepted string) {
		errs = append(errs, fmt.Errorf("sqsworker: Options.%s is %v; accepted: %s", field, v, accepted))
	}
	wholeSeconds := func(d time.Duration) bool { return d%time.Second == 0 }
	// duration applies a default to a zero field and checks it against
	// [lo, hi] (hi 0: no upper bound); whole requires whole seconds.
	duration := func(field string, d *time.Duration, def, lo, hi time.Duration, whole bool, accepted string) {
		if *d == 0 {
			*d = def
		}
		if *d < lo || hi > 0 && *d > hi || whole && !wholeSeconds(*d) {
			bad(field, *d, accepted)
		}
	}

	switch {
	case o.MaxInFlight == 0:
		o.MaxInFlight = DefaultMaxInFlight
	case o.MaxInFlight < 0:
		bad("MaxInFlight", o.MaxInFlight, "at least 1 (0 for the default, 20)")
	}
	duration("WaitTime", &o.WaitTime, maxWaitTime, time.Second, maxWaitTime, true,
		"whole seconds from 1s to 20s (0 for the default, 20s)")
	n := len(errs)
	duration("VisibilityTimeout", &o.VisibilityTimeout, 60*time.Second, time.Second, maxVisibility, true,
		"whole seconds from 1s to 12h (0 for the default, 60s)")
	visibilityOK := len(errs) == n
	duration("RetryDelay", &o.RetryDelay, 30*time.Second, 0, maxVisibility, true,
		"whole seconds from 1s to 12h (0 for the default, 30s)")
	duration("ShutdownTimeout", &o.ShutdownTimeout, DefaultShutdownTimeout, 1, 0, false,
		"positive (0 for the default, 30s)")
	duration("MaxReceiveBackoff", &o.MaxReceiveBackoff, 30*time.Second, 1, 0, false,
		"positive (0 for the default, 30s)")
	// The defaults and bounds of these derive from VisibilityTimeout: with
	// it invalid, only their sign is checked, not to report its error twice.
	if visibilityOK {
		duration("MaxProcessingTime", &o.MaxProcessingTime, 10*o.VisibilityTimeout, 1, 0, false,
			"positive (0 for the default, 10 × VisibilityTimeout)")
		duration("HeartbeatInterval", &o.HeartbeatInterval, o.VisibilityTimeout/3, 1, o.VisibilityTimeout/2, false,
			fmt.Sprintf("positive and at most VisibilityTimeout/2, here %s (0 for the default, VisibilityTimeout/3)", o.VisibilityTimeout/2))
	} else {
		if o.MaxProcessingTime < 0 {
			bad("MaxProcessingTime", o.MaxProcessingTime, "positive (0 for the default, 10 × VisibilityTimeout)")
		}
		if o.HeartbeatInterval < 0 {
			bad("HeartbeatInterval", o.HeartbeatInterval, "positive and at most VisibilityTimeout/2 (0 for the default, VisibilityTimeout/3)")
		}
	}

	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return errors.Join(errs...)
}

// Worker consumes one queue.
type Worker struct {
	client   API
	queueURL string
	d        *logdelivery.Dispatcher
	opts     Options

	// totals is what this worker processed, logged when Run returns.
	totals logdelivery.Totals

	lastReceive atomic.Int64 // unix nanos of the last successful receive
	running     atomic.Bool
	received    atomic.Bool  // some receive of this Run succeeded
	stopping    atomic.Bool  // Run's context is done: no more receives
	receiving   atomic.Int64 // unix nanos the receive in progress started; 0: none
	saturated   atomic.Bool  // every slot is busy: the loop waits for one
	// beating is held while a heartbeat renews visibilities, so that a
	// message's final visibility change is never overwritten by a renewal
	// that started before the message finished.
	beating sync.Mutex
}

// New returns a Worker for the queue at queueURL. It fails when a required
// argument is missing or an option is out of its range (see Options).
func New(client API, queueURL string, d *logdelivery.Dispatcher, optFns ...func(*Options)) (*Worker, error) {
	if client == nil || d == nil || queueURL == "" {
		return nil, errors.New("sqsworker: client, queue URL and dispatcher are required")
	}
	w := &Worker{client: client, queueURL: queueURL, d: d}
	for _, fn := range optFns {
		fn(&w.opts)
	}
	if err := w.opts.validate(); err != nil {
		return nil, err
	}
	switch {
	case w.opts.FailureQueueURL != "" && w.opts.DeletePermanentFailures:
		return nil, errors.New("sqsworker: Options.FailureQueueURL and Options.DeletePermanentFailures exclude each other: park failed messages or delete them")
	case w.opts.FailureQueueURL == queueURL:
		return nil, errors.New("sqsworker: Options.FailureQueueURL is the queue itself; parked messages would come straight back")
	}
	return w, nil
}

// Run receives and processes messages until ctx is done, then stops
// receiving, lets messages in flight finish for up to ShutdownTimeout,
// releases those that did not, closes the Dispatcher (releasing what its
// deliverers hold) and returns nil. A Dispatcher serves one Run.
//
// Each message is dispatched as soon as it is received and settled as soon
// as its own deliveries end: deleted when nothing needs a retry, made
// visible again after RetryDelay otherwise. Messages received together are
// processed concurrently, so a slow tenant never delays another message.
func (w *Worker) Run(ctx context.Context) error {
	w.running.Store(true)
	defer w.running.Store(false)
	w.received.Store(false)
	w.stopping.Store(false)
	w.lastReceive.Store(time.Now().UnixNano())

	// Work in flight outlives ctx by up to ShutdownTimeout.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	settleCtx, cancelSettle := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSettle()

	inflight := &inflightSet{handles: map[string]string{}}
	stopBeats := make(chan struct{})
	beatsDone := make(chan struct{})
	go func() {
		defer close(beatsDone)
		w.heartbeat(stopBeats, inflight)
	}()
	deletes := newDeleter()
	deleterDone := make(chan struct{})
	go func() {
		defer close(deleterDone)
		w.deleteLoop(settleCtx, deletes)
	}()

	slots := semaphore.NewWeighted(int64(w.opts.MaxInFlight))
	var wg sync.WaitGroup
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		if !slots.TryAcquire(1) {
			w.saturated.Store(true)
			err := slots.Acquire(ctx, 1)
			w.saturated.Store(false)
			if err != nil {
				break
			}
		}
		n := int64(1)
		for n < 10 && slots.TryAcquire(1) {
			n++
		}
		w.receiving.Store(time.Now().UnixNano())
		msgs, err := w.receive(ctx, int32(n))
		w.receiving.Store(0)
		if unused := n - int64(len(msgs)); unused > 0 {
			slots.Release(unused)
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.opts.Observer.ReceiveFailed()
			backoff = nextBackoff(backoff, w.opts.MaxReceiveBackoff)
			w.opts.Logger.Warn("receive failed; backing off", "error", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			continue
		}
		backoff = 0
		w.lastReceive.Store(time.Now().UnixNano())
		w.received.Store(true)
		w.opts.Observer.Received(len(msgs))
		for _, m := range msgs {
			inflight.add(m)
			wg.Go(func() {
				defer slots.Release(1)
				w.process(workCtx, settleCtx, m, inflight, deletes)
			})
		}
	}

	w.stopping.Store(true)
	w.opts.Logger.Info("shutting down: waiting for messages in flight", "timeout", w.opts.ShutdownTimeout)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.opts.ShutdownTimeout):
		w.opts.Logger.Warn("shutdown timeout: releasing unfinished messages")
		cancelWork()
		<-done
	}
	close(stopBeats)
	<-beatsDone
	deletes.close()
	<-deleterDone
	if err := w.d.Close(); err != nil {
		w.opts.Logger.Error("closing the dispatcher", "error", err)
	}
	w.opts.Logger.Info("stopped", "totals", &w.totals)
	return nil
}

func (w *Worker) receive(ctx context.Context, n int32) ([]types.Message, error) {
	out, err := w.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(w.queueURL),
		MaxNumberOfMessages:         n,
		WaitTimeSeconds:             int32(w.opts.WaitTime / time.Second),
		VisibilityTimeout:           int32(w.opts.VisibilityTimeout / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("sqsworker: receiving from %s: %w", w.queueURL, err)
	}
	return out.Messages, nil
}

// process dispatches one message and settles it.
func (w *Worker) process(ctx, settleCtx context.Context, m types.Message, inflight *inflightSet, deletes *deleter) {
	id, handle := aws.ToString(m.MessageId), aws.ToString(m.ReceiptHandle)
	ctx, cancel := context.WithTimeout(ctx, w.opts.MaxProcessingTime)
	defer cancel()
	started := time.Now()
	res := w.d.DispatchMessages(ctx, logdelivery.Message{ID: id, Body: []byte(aws.ToString(m.Body))})[0]
	inflight.remove(handle)
	if res.Err != nil || res.Results.Count(logdelivery.Failed) > 0 {
		res.LogFailures(ctx, w.opts.Logger.With(receiveCount(m)...))
	}
	res.LogSummary(ctx, w.opts.Logger, time.Since(started))
	w.totals.Add(res)
	if w.opts.Flusher != nil {
		if err := w.opts.Flusher.Flush(); err != nil {
			w.opts.Logger.Error("flushing metrics", "error", err)
		}
	}
	w.opts.Observer.Processed(res, started, w.settle(ctx, settleCtx, m, res, deletes))
}

// settle deletes, releases or parks a processed message and says which.
func (w *Worker) settle(ctx, settleCtx context.Context, m types.Message, res logdelivery.MessageResult, deletes *deleter) Settlement {
	id, handle := aws.ToString(m.MessageId), aws.ToString(m.ReceiptHandle)
	switch {
	case res.Retry():
		delay := w.retryDelay(res) // RetryDelay, or the failures' retry-after hint
		if errors.Is(ctx.Err(), context.Canceled) {
			delay = 0 // cut short by shutdown: let another worker take over now
		}
		w.release(settleCtx, id, handle, delay)
		return Released
	case !res.Failed():
		deletes.add(msgRef{id: id, handle: handle}) // never blocks
		return Deleted
	case w.opts.DeletePermanentFailures:
		deletes.add(msgRef{id: id, handle: handle})
		return Dropped
	case w.opts.FailureQueueURL != "" && w.park(settleCtx, m, res):
		deletes.add(msgRef{id: id, handle: handle})
		return Parked
	}
	// Kept for the queue's redrive policy (or the failure queue was
	// unreachable): back after RetryDelay, never lost.
	w.release(settleCtx, id, handle, w.opts.RetryDelay)
	return Kept
}

// release makes a message visible again after delay.
func (w *Worker) release(settleCtx context.Context, id, handle string, delay time.Duration) {
	sctx, cancelSettle := context.WithTimeout(settleCtx, 15*time.Second)
	defer cancelSettle()
	// Wait out a renewal in progress: it may still include this message.
	w.beating.Lock()
	w.beating.Unlock()
	w.changeVisibility(sctx, []msgRef{{id: id, handle: handle}}, delay)
}

// park sends a permanently failed message to the failure queue with its
// reasons, and reports whether it was sent (then it may be deleted).
func (w *Worker) park(settleCtx context.Context, m types.Message, res logdelivery.MessageResult) bool {
	ctx, cancel := context.WithTimeout(settleCtx, 15*time.Second)
	defer cancel()
	if err := failqueue.Park(ctx, w.client, w.opts.FailureQueueURL, aws.ToString(m.Body), res); err != nil {
		w.opts.Logger.Error("a permanently failed message is kept for a later receive", "message_id", res.ID, "error", err)
		return false
	}
	w.opts.Logger.Warn("message parked in the failure queue", "message_id", res.ID)
	return true
}

// receiveCount returns the log attribute receive_count: how many times SQS
// has handed out the message (1 on its first delivery), from the
// ApproximateReceiveCount attribute requested on receive. None when SQS did
// not return it.
func receiveCount(m types.Message) []any {
	n, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	if err != nil {
		return nil
	}
	return []any{"receive_count", n}
}

// msgRef is a received message: its id, for logs, and the receipt handle
// of that receipt (the same message received twice has two handles).
type msgRef struct{ id, handle string }

// inflightSet holds the messages being processed, by receipt handle (the
// same message received twice has two handles, both to keep invisible).
type inflightSet struct {
	mu      sync.Mutex
	handles map[string]string // receipt handle → message id
}

func (s *inflightSet) add(m types.Message) {
	s.mu.Lock()
	s.handles[aws.ToString(m.ReceiptHandle)] = aws.ToString(m.MessageId)
	s.mu.Unlock()
}

func (s *inflightSet) remove(handle string) {
	s.mu.Lock()
	delete(s.handles, handle)
	s.mu.Unlock()
}

// snapshot returns the messages in flight, by receipt handle.
func (s *inflightSet) snapshot() []msgRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	refs := make([]msgRef, 0, len(s.handles))
	for _, h := range slices.Sorted(maps.Keys(s.handles)) {
		refs = append(refs, msgRef{id: s.handles[h], handle: h})
	}
	return refs
}

// heartbeat renews the visibility of every message in flight each
// HeartbeatInterval until stop is closed.
func (w *Worker) heartbeat(stop <-chan struct{}, inflight *inflightSet) {
	t := time.NewTicker(w.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			w.beating.Lock()
			if refs := inflight.snapshot(); len(refs) > 0 {
				ctx, cancel := context.WithTimeout(context.Background(), w.opts.HeartbeatInterval)
				w.changeVisibility(ctx, refs, w.opts.VisibilityTimeout)
				cancel()
			}
			w.beating.Unlock()
		}
	}
}

// deleter collects finished messages for deleteLoop. Handing one over
// never blocks, so a slow DeleteMessageBatch call (up to its 15s timeout)
// never holds a worker and its MaxInFlight slot: messages finished
// meanwhile wait in pending, and go in the next batches.
type deleter struct {
	mu      sync.Mutex
	pending []msgRef
	closed  bool
	wake    chan struct{} // capacity 1: "pending changed, or closed"
}

func newDeleter() *deleter { return &deleter{wake: make(chan struct{}, 1)} }

func (d *deleter) add(p msgRef) {
	d.mu.Lock()
	d.pending = append(d.pending, p)
	d.mu.Unlock()
	d.signal()
}

// close tells deleteLoop to delete what is pending and return.
func (d *deleter) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.signal()
}

func (d *deleter) signal() {
	select {
	case d.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

func (d *deleter) state() (n int, closed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pending), d.closed
}

func (d *deleter) take() []msgRef {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.pending
	d.pending = nil
	return p
}

// deleteLoop deletes finished messages in batches of up to ten: a full
// batch at once, a partial one after a short linger (to fill it), and
// everything pending when the deleter is closed, then returns.
func (w *Worker) deleteLoop(ctx context.Context, d *deleter) {
	const linger = 20 * time.Millisecond
	flush := func() {
		for batch := range slices.Chunk(d.take(), 10) {
			dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			w.delete(dctx, batch)
			cancel()
		}
	}
	timer := time.NewTimer(linger)
	timer.Stop()
	for {
		<-d.wake
		if n, closed := d.state(); n > 0 && n < 10 && !closed {
			timer.Reset(linger)
		lingering:
			for {
				select {
				case <-timer.C:
					break lingering
				case <-d.wake:
					if n, closed := d.state(); n >= 10 || closed {
						timer.Stop()
						break lingering
					}
				}
			}
		}
		flush()
		if _, closed := d.state(); closed {
			// Run closes the deleter once every worker has returned, so
			// nothing comes after what this takes.
			flush()
			return
		}
	}
}

// delete deletes messages (by receipt handle: a message received twice has
// two) in batches of ten, retrying entries that failed for a reason other
// than the sender's fault once.
func (w *Worker) delete(ctx context.Context, msgs []msgRef) {
	for chunk := range slices.Chunk(msgs, 10) {
		pending := chunk
		for attempt := 0; attempt < 2 && len(pending) > 0; attempt++ {
			entries := make([]types.DeleteMessageBatchRequestEntry, len(pending))
			for i, m := range pending {
				entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.handle)}
			}
			out, err := w.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(w.queueURL), Entries: entries})
			if err != nil {
				w.opts.Logger.Error("deleting messages failed; they will be redelivered", "messages", len(pending), "error", err)
				break
			}
			var again []msgRef
			for _, f := range out.Failed {
				i, _ := strconv.Atoi(aws.ToString(f.Id))
				if i < 0 || i >= len(pending) {
					continue
				}
				w.opts.Logger.Warn("deleting a message failed", "message_id", pending[i].id, "code", aws.ToString(f.Code), "sender_fault", f.SenderFault)
				if !f.SenderFault {
					again = append(again, pending[i])
				}
			}
			pending = again
		}
	}
}

// changeVisibility sets the visibility timeout of messages, in batches of
// ten. Failures are logged: at worst a message becomes visible earlier or
// later than intended.
func (w *Worker) changeVisibility(ctx context.Context, msgs []msgRef, d time.Duration) {
	for chunk := range slices.Chunk(msgs, 10) {
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.handle), VisibilityTimeout: int32(d / time.Second),
			}
		}
		out, err := w.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(w.queueURL), Entries: entries})
		if err != nil {
			ids := make([]string, len(chunk))
			for i, m := range chunk {
				ids[i] = m.id
			}
			w.opts.Logger.Warn("changing message visibility failed", "message_ids", ids, "error", err)
			continue
		}
		for _, f := range out.Failed {
			var id string
			if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= 0 && i < len(chunk) {
				id = chunk[i].id
			}
			w.opts.Logger.Warn("changing a message's visibility failed", "message_id", id, "code", aws.ToString(f.Code))
		}
	}
}

// Healthy returns nil while Run is receiving: it is running and its last
// successful receive was recent (within three long-poll waits plus the
// receive backoff cap), or every MaxInFlight slot is busy with a message
// (each bounded by MaxProcessingTime), so that it has no room to receive.
func (w *Worker) Healthy() error {
	if !w.running.Load() {
		return errors.New("sqsworker: not running")
	}
	if w.saturated.Load() {
		return nil
	}
	since := time.Since(time.Unix(0, w.lastReceive.Load()))
	if limit := 3*w.opts.WaitTime + w.opts.MaxReceiveBackoff; since > limit {
		return fmt.Errorf("sqsworker: no successful receive for %s", since.Round(time.Second))
	}
	return nil
}

// receiveStuck is how long a receive may be outstanding beyond its
// long-poll wait before Live reports the worker stuck.
const receiveStuck = time.Minute

// Live returns nil while Run is running and its receive loop is not stuck:
// no receive has been outstanding for longer than WaitTime plus a minute
// (a connection that hangs). Failing receives, which back off, and a
// worker whose every slot is busy, are live. It is the liveness probe
// (/healthz): a worker that fails it is best restarted.
func (w *Worker) Live() error {
	if !w.running.Load() {
		return errors.New("sqsworker: not running")
	}
	if started := w.receiving.Load(); started != 0 {
		if d := time.Since(time.Unix(0, started)); d > w.opts.WaitTime+receiveStuck {
			return fmt.Errorf("sqsworker: a receive has been outstanding for %s", d.Round(time.Second))
		}
	}
	return nil
}

// Ready returns nil once a receive of Run has succeeded and while the
// worker stays Healthy, until its shutdown begins. It is the readiness
// probe (/readyz): a rollout moves on once new workers reach the queue.
func (w *Worker) Ready() error {
	switch {
	case w.stopping.Load():
		return errors.New("sqsworker: shutting down")
	case !w.received.Load():
		return errors.New("sqsworker: no successful receive yet")
	}
	return w.Healthy()
}

func nextBackoff(prev, limit time.Duration) time.Duration {
	next := max(2*prev, 100*time.Millisecond)
	next = min(next, limit)
	return next/2 + rand.N(next/2+1)
}
