// Package lambdahandler runs a logdelivery.Dispatcher as an AWS Lambda
// function triggered by SQS, with partial batch responses: only the
// messages that need a retry are returned as BatchItemFailures.
//
// Enable ReportBatchItemFailures on the event source mapping; without it
// Lambda retries or deletes the whole batch regardless of the response.
//
//	h, err := lambdahandler.New(dispatcher)
//	lambda.StartWithOptions(h.Handle, lambda.WithEnableSIGTERM(func() { h.Close() }))
//
// With Options.Visibility, a message over its tenant's limits (package
// limits) becomes visible again after its retry-after hint rather than
// after the queue's visibility timeout.
//
// Lambda sends SIGTERM at shutdown only to functions with an extension;
// without one the environment is frozen and discarded, and Close never
// runs (nothing is lost: deliveries end with each invocation).
package lambdahandler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/internal/failqueue"
)

// FailureQueue sends messages to a failure queue, in the SQS client's
// method shape; an *sqs.Client is one.
type FailureQueue interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Options configures a Handler.
type Options struct {
	// Reserve is how long before the invocation deadline the handler stops
	// delivering, so that it can still answer: deliveries not finished by
	// then are cut short and their messages reported for retry. Not
	// negative. Default: 3s.
	Reserve time.Duration
	// FailureQueue and FailureQueueURL, set together, park messages that
	// failed permanently (a malformed body, or a permanent failure at
	// some destination and no retryable one): they are sent there with
	// their reasons as message attributes (logdelivery-failure,
	// logdelivery-failed-destinations) and not reported, so that Lambda
	// deletes them; they can be replayed once fixed (with a ledger, a
	// replay delivers only what is missing). A message that cannot be
	// parked is reported for retry.
	//
	// Default: none; such messages are reported as batch item failures
	// too, so that the queue's redrive policy moves them to its
	// dead-letter queue after maxReceiveCount receives. Either way nothing
	// is lost; set DeletePermanentFailures to drop them instead.
	FailureQueue    FailureQueue
	FailureQueueURL string
	// DeletePermanentFailures lets Lambda delete messages that failed
	// permanently, as the reference processor does: their logs are lost.
	// Default: false.
	DeletePermanentFailures bool
	// Flusher, when set, is flushed at the end of every invocation (for
	// example a *metrics.EMF writing to stdout).
	Flusher interface{ Flush() error }
	// Visibility, when set, makes a message reported for retry whose
	// retryable failures all carry a retry-after hint (a tenant over its
	// limits, see package limits) visible again after the hint, rounded
	// up to whole seconds (ChangeMessageVisibility on its queue), instead
	// of after the queue's visibility timeout: it comes back when it can
	// succeed, neither sooner (spinning on the limit) nor later. The
	// function's role needs sqs:ChangeMessageVisibility on the queue.
	// Default: none.
	Visibility VisibilityChanger
	// QueueURL returns the URL of the queue of a record's eventSourceARN,
	// for Visibility. Default: QueueURLFromARN.
	QueueURL func(eventSourceARN string) (string, error)
	// Logger receives one line per failed delivery, one Info line per
	// message (logdelivery.MessageResult.LogSummary) and, at Close, the
	// totals of the function instance. Default: discard.
	Logger *slog.Logger
}

// Handler handles SQS events. It is safe for concurrent use.
type Handler struct {
	d      *logdelivery.Dispatcher
	opts   Options
	totals logdelivery.Totals
}

// New returns a Handler dispatching with d. It fails when d is nil or an
// option is invalid (see Options).
func New(d *logdelivery.Dispatcher, optFns ...func(*Options)) (*Handler, error) {
	if d == nil {
		return nil, errors.New("lambdahandler: a dispatcher is required")
	}
	h := &Handler{d: d}
	for _, fn := range optFns {
		fn(&h.opts)
	}
	o := &h.opts
	var errs []error
	switch {
	case o.Reserve == 0:
		o.Reserve = 3 * time.Second
	case o.Reserve < 0:
		errs = append(errs, fmt.Errorf("lambdahandler: Options.Reserve is %v; accepted: not negative (0 for the default, 3s)", o.Reserve))
	}
	if (o.FailureQueue == nil) != (o.FailureQueueURL == "") {
		errs = append(errs, errors.New("lambdahandler: Options.FailureQueue and Options.FailureQueueURL are set together or not at all"))
	}
	if o.FailureQueue != nil && o.DeletePermanentFailures {
		errs = append(errs, errors.New("lambdahandler: Options.FailureQueue and Options.DeletePermanentFailures exclude each other: park failed messages or delete them"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.QueueURL == nil {
		o.QueueURL = QueueURLFromARN
	}
	return h, nil
}

// Close logs the totals of the messages handled and closes the
// Dispatcher, releasing what its deliverers hold. Call it once, at
// shutdown, after the last invocation.
func (h *Handler) Close() error {
	h.opts.Logger.Info("stopped", "totals", &h.totals)
	return h.d.Close()
}

// Handle delivers the objects announced by the event's messages and
// returns the ids of the messages that need a retry: those with a
// retryable failure at some destination, including work cut short by the
// deadline. Messages that failed only permanently (malformed body, bad
// key, missing bucket, access denied) are logged and parked in the
// failure queue, reported too (the default), or dropped, as Options say.
// Handle never returns an error: an error would make Lambda retry the
// whole batch, deliveries that succeeded included.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	// Deliveries stop Reserve before the deadline; parking failed
	// messages may use the first half of the reserve.
	settleCtx, cancelSettle := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancelSettle()
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-h.opts.Reserve))
		defer cancel()
		settleCtx, cancel = context.WithDeadline(settleCtx, dl.Add(-h.opts.Reserve/2))
		defer cancel()
	}
	msgs := make([]logdelivery.Message, len(ev.Records))
	for i, r := range ev.Records {
		msgs[i] = logdelivery.Message{ID: r.MessageId, Body: []byte(r.Body)}
	}
	var resp events.SQSEventResponse
	started := time.Now()
	for i, m := range h.d.DispatchMessages(ctx, msgs...) {
		m.LogFailures(ctx, h.opts.Logger)
		m.LogSummary(ctx, h.opts.Logger, time.Since(started))
		h.totals.Add(m)
		if m.Retry() {
			h.delayRetry(settleCtx, ev.Records[i], m) // after its retry-after hint, with Visibility
		}
		if m.Retry() || m.Failed() && !h.settlePermanent(settleCtx, ev.Records[i].Body, m) {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.ID})
		}
	}
	if h.opts.Flusher != nil {
		if err := h.opts.Flusher.Flush(); err != nil {
			h.opts.Logger.Error("flushing metrics", "error", err)
		}
	}
	return resp, nil
}

// settlePermanent deals with a message that failed permanently and reports
// whether Lambda may delete it.
func (h *Handler) settlePermanent(ctx context.Context, body string, m logdelivery.MessageResult) bool {
	switch {
	case h.opts.DeletePermanentFailures:
		return true
	case h.opts.FailureQueue == nil:
		return false // for the redrive policy
	}
	if err := failqueue.Park(ctx, h.opts.FailureQueue, h.opts.FailureQueueURL, body, m); err != nil {
		h.opts.Logger.Error("a permanently failed message is reported for retry", "message_id", m.ID, "error", err)
		return false
	}
	h.opts.Logger.Warn("message parked in the failure queue", "message_id", m.ID)
	return true
}
