// Package lambdahandler runs a logdelivery.Dispatcher as an AWS Lambda
// function triggered by SQS, with partial batch responses: only the
// messages that need a retry are returned as BatchItemFailures.
//
// Enable ReportBatchItemFailures on the event source mapping; without it
// Lambda retries or deletes the whole batch regardless of the response.
//
//	h := lambdahandler.New(dispatcher)
//	lambda.StartWithOptions(h.Handle, lambda.WithEnableSIGTERM(func() { h.Close() }))
//
// Lambda sends SIGTERM at shutdown only to functions with an extension;
// without one the environment is frozen and discarded, and Close never
// runs (nothing is lost: deliveries end with each invocation).
package lambdahandler

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logdelivery/logdelivery"
)

// Options configures a Handler.
type Options struct {
	// Reserve is how long before the invocation deadline the handler stops
	// delivering, so that it can still answer: deliveries not finished by
	// then are cut short and their messages reported for retry.
	// Default: 3s.
	Reserve time.Duration
	// Flusher, when set, is flushed at the end of every invocation (for
	// example a *metrics.EMF writing to stdout).
	Flusher interface{ Flush() error }
	// Logger receives one line per failed delivery. Default: discard.
	Logger *slog.Logger
}

// Handler handles SQS events. It is safe for concurrent use.
type Handler struct {
	d    *logdelivery.Dispatcher
	opts Options
}

// New returns a Handler dispatching with d.
func New(d *logdelivery.Dispatcher, optFns ...func(*Options)) *Handler {
	h := &Handler{d: d}
	for _, fn := range optFns {
		fn(&h.opts)
	}
	if h.opts.Reserve <= 0 {
		h.opts.Reserve = 3 * time.Second
	}
	if h.opts.Logger == nil {
		h.opts.Logger = slog.New(slog.DiscardHandler)
	}
	return h
}

// Close closes the Dispatcher, releasing what its deliverers hold. Call it
// once, at shutdown, after the last invocation.
func (h *Handler) Close() error { return h.d.Close() }

// Handle delivers the objects announced by the event's messages and
// returns the ids of the messages that need a retry: those with a
// retryable failure at some destination, including work cut short by the
// deadline. Messages that failed only permanently (malformed body, bad
// key, missing bucket, access denied) are logged and not retried. Handle
// never returns an error: an error would make Lambda retry the whole batch,
// deliveries that succeeded included.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-h.opts.Reserve))
		defer cancel()
	}
	msgs := make([]logdelivery.Message, len(ev.Records))
	for i, r := range ev.Records {
		msgs[i] = logdelivery.Message{ID: r.MessageId, Body: []byte(r.Body)}
	}
	var resp events.SQSEventResponse
	for _, m := range h.d.DispatchMessages(ctx, msgs...) {
		if m.Retry() {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.ID})
		}
		m.LogFailures(ctx, h.opts.Logger)
	}
	if h.opts.Flusher != nil {
		if err := h.opts.Flusher.Flush(); err != nil {
			h.opts.Logger.Error("flushing metrics", "error", err)
		}
	}
	return resp, nil
}
