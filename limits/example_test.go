package limits_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/limits"
)

// A delivery takes a token per event as it sends; over its tenant's rate
// it waits, and once the wait would exceed MaxWait it stops, retryably,
// with the time its next token needs as the hint.
func ExampleLimiter() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l, err := limits.New(func(o *limits.Options) {
		o.Defaults = limits.Limits{EventsPerSecond: 10, EventsBurst: 5}
		o.MaxWait = 300 * time.Millisecond
		o.Now = func() time.Time { return now }
		o.Sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil } // a fake clock
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	p, err := l.Admit(ctx, "acme", "cloudwatch", limits.Unknown, limits.Unknown)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Release()
	sent := 0
	for {
		if err := p.Wait(ctx, 1, 120); err != nil {
			fmt.Println("sent:", sent, "waited:", p.Waited())
			fmt.Println(errors.Is(err, limits.ErrLimited), fault.IsRetryable(err), fault.RetryAfter(err))
			break
		}
		sent++
	}
	// Output:
	// sent: 8 waited: 300ms
	// true true 100ms
}
