package logdelivery

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// Message is a queue message announcing objects, such as an SQS message.
type Message struct {
	ID   string // message id; becomes the ID of its objects
	Body []byte
}

// MessageResult is what happened to the objects of one Message.
type MessageResult struct {
	ID string
	// Err is set when the body, or some records of it, could not be parsed
	// (a *NotificationError, permanent). Objects of the records that could
	// be parsed are still dispatched and have Results.
	Err error
	// Results are the results of the message's objects. Empty for a test
	// event or a notification of no created objects.
	Results Results
}

// Retry reports whether the message should be delivered again: some
// destination of one of its objects failed retryably.
func (m MessageResult) Retry() bool {
	for _, r := range m.Results {
		if r.Retryable() {
			return true
		}
	}
	return false
}

// Failed reports whether the message failed permanently somewhere: a
// malformed body, or a permanent failure at some destination.
func (m MessageResult) Failed() bool {
	return m.Err != nil || m.Results.Count(Failed) > 0 && !m.Retry()
}

// DispatchMessages parses every message body and dispatches all their
// objects in one Dispatch call, so that a slow tenant in one message never
// holds up another message's tenants. It returns one MessageResult per
// message, in order.
func (d *Dispatcher) DispatchMessages(ctx context.Context, msgs ...Message) []MessageResult {
	out := make([]MessageResult, len(msgs))
	var objs []Object
	var owner []int // message index of each object
	for i, m := range msgs {
		out[i].ID = m.ID
		parsed, err := ParseNotification(m.Body)
		if err != nil {
			out[i].Err = err
			d.opts.Logger.Warn("malformed message", "message_id", m.ID, "error", err)
		}
		for _, o := range parsed {
			o.ID = m.ID
			objs = append(objs, o)
			owner = append(owner, i)
		}
	}
	for _, r := range d.Dispatch(ctx, objs...) {
		i := owner[r.index]
		out[i].Results = append(out[i].Results, r)
	}
	return out
}

// FailureSummary describes why the message failed, for a failure queue's
// message attributes: reason joins the body's error and each failed
// destination's ("s3://b/k → tenant/type: error"), the first ten, one per
// line, each cut to 600 bytes in its middle (the head names the delivery,
// the tail holds the service's error code); destinations lists the failed
// "tenant/type" pairs, comma separated, each once. Both stay under a few
// kilobytes.
func (m MessageResult) FailureSummary() (reason, destinations string) {
	var reasons, dests []string
	seen := map[string]bool{}
	if m.Err != nil {
		reasons = append(reasons, cutMiddle(m.Err.Error(), 600))
	}
	for _, r := range m.Results {
		if r.Outcome != Failed {
			continue
		}
		dest := r.Key.Tenant + "/" + r.Destination
		if r.Destination == "" {
			dest = r.Key.Tenant + "/(all)"
		}
		if !seen[dest] {
			seen[dest] = true
			dests = append(dests, dest)
		}
		if len(reasons) < 10 {
			reasons = append(reasons, cutMiddle(fmt.Sprintf("s3://%s/%s → %s: %v", r.Object.Bucket, r.Object.Key, dest, r.Err), 600))
		}
	}
	return strings.Join(reasons, "\n"), strings.Join(dests, ",")
}

// cutMiddle shortens s to about n bytes by replacing its middle with "…",
// on UTF-8 boundaries.
func cutMiddle(s string, n int) string {
	if len(s) <= n {
		return s
	}
	head, tail := n/3, len(s)-(n-n/3)
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + " … " + s[tail:]
}

// LogFailures logs the message's failures: permanent ones (not retried) at
// Error, retryable ones at Warn, one line per failed destination.
func (m MessageResult) LogFailures(ctx context.Context, log *slog.Logger) {
	if m.Err != nil {
		log.ErrorContext(ctx, "message (or part of it) not processed: permanent failure", "message_id", m.ID, "error", m.Err)
	}
	for _, r := range m.Results {
		if r.Outcome != Failed {
			continue
		}
		level, what := slog.LevelError, "delivery failed permanently; not retried"
		if r.Retryable() {
			level, what = slog.LevelWarn, "delivery failed; will retry"
		}
		log.Log(ctx, level, what, "message_id", m.ID, "bucket", r.Object.Bucket, "key", r.Object.Key,
			"tenant", r.Key.Tenant, "destination", r.Destination, "error", r.Err)
	}
}
