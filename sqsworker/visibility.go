package sqsworker

import (
	"time"

	"github.com/logdelivery/logdelivery"
)

// retryDelay returns the visibility of a message that needs a retry: the
// retry-after hint of its failures (MessageResult.RetryAfter: a tenant
// over its limits, a destination's Retry-After) when every retryable
// failure carries one, so that the message comes back when it can
// succeed and not before, rather than being received again and again;
// RetryDelay otherwise. A hint is rounded up to whole seconds, SQS's
// unit, and capped at its 12h maximum.
func (w *Worker) retryDelay(res logdelivery.MessageResult) time.Duration {
	hint := res.RetryAfter()
	if hint <= 0 {
		return w.opts.RetryDelay
	}
	return min(hint.Truncate(time.Second)+roundUp(hint), maxVisibility)
}

// roundUp is the second a hint that is not whole seconds is rounded up by.
func roundUp(d time.Duration) time.Duration {
	if d%time.Second == 0 {
		return 0
	}
	return time.Second
}
