package limits_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/limits"
)

// clock is a fake clock: Sleep advances it.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	c.mu.Unlock()
	return nil
}

type recorder struct {
	mu      sync.Mutex
	waits   []time.Duration
	events  int64
	limited []*limits.LimitedError
}

func (r *recorder) Waited(_, _ string, events, _ int64, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
	r.events += events
}

func (r *recorder) Limited(e *limits.LimitedError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.limited = append(r.limited, e)
}

func newLimiter(t *testing.T, c *clock, optFns ...func(*limits.Options)) *limits.Limiter {
	t.Helper()
	l, err := limits.New(append([]func(*limits.Options){func(o *limits.Options) {
		o.Now, o.Sleep = c.Now, c.Sleep
	}}, optFns...)...)
	require.NoError(t, err)
	return l
}

func TestRateAndBoundedWait(t *testing.T) {
	c := newClock()
	rec := &recorder{}
	l := newLimiter(t, c, func(o *limits.Options) {
		o.Defaults = limits.Limits{EventsPerSecond: 100, EventsBurst: 10}
		o.MaxWait = time.Second
		o.Observer = rec
	})
	ctx := context.Background()
	p, err := l.Admit(ctx, "acme", "cloudwatch", 0, 0)
	require.NoError(t, err)
	defer p.Release()
	for range 10 {
		d, err := p.Reserve(ctx, 1, 100)
		require.NoError(t, err)
		assert.Zero(t, d, "within the burst")
	}
	d, err := p.Reserve(ctx, 1, 100)
	require.NoError(t, err)
	assert.Equal(t, 10*time.Millisecond, d, "then one event per 1/rate")
	require.NoError(t, p.Sleep(ctx, d))

	// 99 more events at 100/s take 990ms of waiting: the budget is 1s in
	// total and 10ms is spent, so the 100th wait no longer fits.
	for i := range 99 {
		require.NoError(t, p.Wait(ctx, 1, 0), "event %d", i)
	}
	assert.Equal(t, time.Second, p.Waited())
	_, err = p.Reserve(ctx, 1, 0)
	require.Error(t, err)
	assert.ErrorIs(t, err, limits.ErrLimited)
	assert.True(t, fault.IsRetryable(err))
	assert.Equal(t, 10*time.Millisecond, fault.RetryAfter(err), "the hint is the time the tokens need")
	var le *limits.LimitedError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, limits.LimitedError{Tenant: "acme", Kind: "cloudwatch", Limit: "events_per_second",
		RetryAfter: 10 * time.Millisecond, Waited: time.Second, Events: 110, Bytes: 1100}, *le)
	assert.Contains(t, err.Error(), "110 events, 1100 bytes granted before; the rest is not sent")

	assert.Len(t, rec.waits, 100)
	assert.Equal(t, int64(100), rec.events, "events that waited")
	require.Len(t, rec.limited, 1)
	assert.Same(t, le, rec.limited[0])

	// Another kind of the same tenant, and another tenant, have their own
	// budgets.
	for _, k := range [][2]string{{"acme", "s3"}, {"globex", "cloudwatch"}} {
		q, err := l.Admit(ctx, k[0], k[1], 0, 0)
		require.NoError(t, err)
		d, err := q.Reserve(ctx, 10, 0)
		require.NoError(t, err)
		assert.Zero(t, d, "%v", k)
		q.Release()
	}
}

func TestBytesAndDeadline(t *testing.T) {
	c := newClock()
	l := newLimiter(t, c, func(o *limits.Options) {
		o.Defaults = limits.Limits{BytesPerSecond: 1000, BytesBurst: 1000}
		o.MaxWait = time.Minute
	})
	ctx, cancel := context.WithDeadline(context.Background(), c.Now().Add(2*time.Second))
	defer cancel()
	p, err := l.Admit(ctx, "acme", "s3", 0, 0)
	require.NoError(t, err)
	defer p.Release()
	d, err := p.Reserve(ctx, 0, 5000)
	require.NoError(t, err, "a take over the burst is granted on a full bucket")
	assert.Zero(t, d)
	_, err = p.Reserve(ctx, 0, 1)
	var le *limits.LimitedError
	require.ErrorAs(t, err, &le, "4s of debt outlast the deadline: limited at once, not after sleeping")
	assert.Equal(t, "bytes_per_second", le.Limit)
	assert.InDelta(t, 4001*time.Millisecond, le.RetryAfter, float64(time.Microsecond))
	assert.Empty(t, c.slept)

	// A new delivery waits for the debt before it is admitted.
	_, err = l.Admit(ctx, "acme", "s3", 0, 0)
	assert.ErrorIs(t, err, limits.ErrLimited)
	c.Sleep(context.Background(), 3*time.Second)
	q, err := l.Admit(context.Background(), "acme", "s3", 0, 0)
	require.NoError(t, err, "1s of debt left, within MaxWait")
	assert.Equal(t, time.Second, q.Waited())
	q.Release()
}

func TestConcurrency(t *testing.T) {
	c := newClock()
	rec := &recorder{}
	l := newLimiter(t, c, func(o *limits.Options) {
		o.Defaults = limits.Limits{MaxConcurrentDeliveries: 1}
		o.MaxWait = 2 * time.Second
		o.Observer = rec
	})
	ctx := context.Background()
	p, err := l.Admit(ctx, "acme", "loki", 0, 0)
	require.NoError(t, err)
	_, err = l.Admit(ctx, "acme", "loki", 0, 0)
	var le *limits.LimitedError
	require.ErrorAs(t, err, &le, "the slot is not freed within MaxWait")
	assert.Equal(t, "max_concurrent_deliveries", le.Limit)
	assert.Equal(t, 2*time.Second, le.Waited, "it waited MaxWait")
	assert.Equal(t, time.Second, fault.RetryAfter(err), "about a delivery's time")
	other, err := l.Admit(ctx, "acme", "s3", 0, 0)
	require.NoError(t, err, "another kind has its own slots")
	other.Release()
	p.Release()
	p.Release() // idempotent
	q, err := l.Admit(ctx, "acme", "loki", 0, 0)
	require.NoError(t, err, "the slot was released")
	q.Release()
}

// At most MaxWaiting deliveries of a tenant and kind wait to be
// admitted; the others are limited at once, so that a tenant over its
// limits holds few of a runtime's message slots.
func TestMaxWaiting(t *testing.T) {
	c := newClock()
	release := make(chan struct{})
	sleeping := make(chan struct{}, 8)
	l, err := limits.New(func(o *limits.Options) {
		o.Defaults = limits.Limits{EventsPerSecond: 10, EventsBurst: 10}
		o.Now = c.Now
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			sleeping <- struct{}{}
			<-release
			return c.Sleep(ctx, d)
		}
	})
	require.NoError(t, err)
	ctx := context.Background()
	p, err := l.Admit(ctx, "acme", "s3", 0, 30) // a copy: 30 bytes, unlimited
	require.NoError(t, err)
	p.Release()
	p, err = l.Admit(ctx, "acme", "cloudwatch", 30, 0) // 30 events: 2 s of debt
	require.NoError(t, err)
	defer p.Release()
	waiter := make(chan error, 1)
	go func() {
		q, err := l.Admit(ctx, "acme", "cloudwatch", 0, 0)
		if err == nil {
			q.Release()
		}
		waiter <- err
	}()
	<-sleeping
	start := time.Now()
	_, err = l.Admit(ctx, "acme", "cloudwatch", 0, 0)
	assert.Less(t, time.Since(start), time.Second, "limited at once, not after a wait")
	var le *limits.LimitedError
	require.ErrorAs(t, err, &le, "a second waiter is limited at once")
	assert.Equal(t, "events_per_second", le.Limit)
	assert.Equal(t, 2*time.Second, le.RetryAfter, "the time the debt needs")
	assert.Zero(t, le.Waited)
	q, err := l.Admit(ctx, "globex", "cloudwatch", 0, 0)
	require.NoError(t, err, "other tenants have their own waiters")
	q.Release()
	close(release)
	assert.NoError(t, <-waiter, "the waiter is admitted once the debt is paid")
}

func TestConcurrencyWakesWaiter(t *testing.T) {
	l, err := limits.New(func(o *limits.Options) {
		o.Defaults = limits.Limits{MaxConcurrentDeliveries: 1}
		o.MaxWait = time.Minute
	})
	require.NoError(t, err)
	ctx := context.Background()
	p, err := l.Admit(ctx, "acme", "loki", 0, 0)
	require.NoError(t, err)
	got := make(chan error, 1)
	go func() {
		q, err := l.Admit(ctx, "acme", "loki", 0, 0)
		if err == nil {
			q.Release()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("admitted while the slot was held: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	p.Release()
	select {
	case err := <-got:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter was not woken by the release")
	}

	// Raising the limit wakes waiters too.
	p, err = l.Admit(ctx, "acme", "loki", 0, 0)
	require.NoError(t, err)
	defer p.Release()
	go func() {
		q, err := l.Admit(ctx, "acme", "loki", 0, 0)
		if err == nil {
			defer q.Release()
		}
		got <- err
	}()
	o, err := limits.ParseOverrides([]byte("overrides: {acme: {max_concurrent_deliveries: 2}}"))
	require.NoError(t, err)
	l.SetOverrides(o)
	select {
	case err := <-got:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter was not woken by the new limit")
	}

	// A cancelled context ends a wait, retryably.
	cctx, cancel := context.WithCancel(ctx)
	l.SetOverrides(nil)
	go func() { _, err := l.Admit(cctx, "acme", "loki", 0, 0); got <- err }()
	cancel()
	select {
	case err := <-got:
		assert.ErrorIs(t, err, context.Canceled)
		assert.True(t, fault.IsRetryable(err))
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled wait did not end")
	}
}

func TestSetOverridesAppliesToDeliveriesInFlight(t *testing.T) {
	c := newClock()
	l := newLimiter(t, c, func(o *limits.Options) {
		o.Defaults = limits.Limits{EventsPerSecond: 10, EventsBurst: 10}
	})
	ctx := context.Background()
	p, err := l.Admit(ctx, "acme", "cloudwatch", 0, 0)
	require.NoError(t, err)
	defer p.Release()
	require.NoError(t, p.Wait(ctx, 10, 0))
	d, _ := p.Reserve(ctx, 1, 0)
	assert.Equal(t, 100*time.Millisecond, d)

	o, err := limits.ParseOverrides([]byte("overrides:\n  acme:\n    events_per_second: 1000\n"))
	require.NoError(t, err)
	l.SetOverrides(o)
	assert.Equal(t, 1000.0, p.Limits().EventsPerSecond)
	d, _ = p.Reserve(ctx, 1, 0)
	assert.Equal(t, 2*time.Millisecond, d, "the debt (-1) and one event at the new rate")
	assert.Same(t, o, l.Overrides())

	l.SetOverrides(nil)
	assert.Equal(t, limits.Limits{EventsPerSecond: 10, EventsBurst: 10}, l.Limits("acme", "cloudwatch"))
}

func TestUnlimitedNeverWaits(t *testing.T) {
	c := newClock()
	l := newLimiter(t, c)
	ctx := context.Background()
	p, err := l.Admit(ctx, "acme", "cloudwatch", 0, 0)
	require.NoError(t, err)
	for range 1000 {
		d, err := p.Reserve(ctx, 1000, 1<<30)
		require.NoError(t, err)
		require.Zero(t, d)
	}
	p.Release()
	_, err = p.Reserve(ctx, 1, 1)
	assert.Error(t, err, "a released permit grants nothing")
}

func TestNewValidates(t *testing.T) {
	_, err := limits.New(func(o *limits.Options) {
		o.MaxWait = -time.Second
		o.MaxWaiting = -1
		o.Defaults = limits.Limits{EventsPerSecond: -1, EventsBurst: -2}
	})
	require.Error(t, err)
	for _, want := range []string{"Options.MaxWait is", "Options.MaxWaiting is", "events_per_second: must not be negative", "events_burst: must not be negative"} {
		assert.ErrorContains(t, err, want)
	}
	l, err := limits.New()
	require.NoError(t, err)
	assert.Equal(t, limits.DefaultMaxWait, l.MaxWait())
}

func TestReserveIsSafeAcrossPermits(t *testing.T) {
	// Many deliveries of one tenant and kind share one budget: what they
	// are granted in total within a window is the burst plus the rate.
	l, err := limits.New(func(o *limits.Options) {
		o.Defaults = limits.Limits{EventsPerSecond: 1e6, EventsBurst: 1000}
	})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var granted int64
	for range 8 {
		wg.Go(func() {
			p, err := l.Admit(context.Background(), "acme", "cloudwatch", 0, 0)
			if err != nil {
				return
			}
			defer p.Release()
			for range 1000 {
				if err := p.Wait(context.Background(), 1, 0); err != nil {
					if !errors.Is(err, limits.ErrLimited) {
						t.Error(err)
					}
					return
				}
				mu.Lock()
				granted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(8000), granted)
}

// A delivery of unknown cost has what the last ones sent prepaid at its
// admission: deliveries arriving together are admitted as the budget
// allows, instead of all at once to wait in their streams; what it does
// not use is given back.
func TestUnknownCostIsPrepaid(t *testing.T) {
	c := newClock()
	l := newLimiter(t, c, func(o *limits.Options) {
		o.Defaults = limits.Limits{EventsPerSecond: 100, EventsBurst: 100}
	})
	ctx := context.Background()
	reserve := func(p *limits.Permit, n int) time.Duration {
		t.Helper()
		var total time.Duration
		for range n {
			d, err := p.Reserve(ctx, 1, 0)
			require.NoError(t, err)
			total += d
		}
		return total
	}
	// Before any delivery, a tenth of a second at the rate (10 events) is
	// prepaid; it sends 40, all within the burst.
	p1, err := l.Admit(ctx, "acme", "cloudwatch", limits.Unknown, limits.Unknown)
	require.NoError(t, err)
	assert.Zero(t, reserve(p1, 40))
	p1.Release() // the estimate is 40; 60 tokens left

	p2, err := l.Admit(ctx, "acme", "cloudwatch", limits.Unknown, limits.Unknown)
	require.NoError(t, err)
	assert.Zero(t, p2.Waited(), "60 tokens hold the 40 prepaid")
	assert.Zero(t, reserve(p2, 40), "drawn from what was prepaid")
	p2.Release() // 20 tokens left

	p3, err := l.Admit(ctx, "acme", "cloudwatch", limits.Unknown, limits.Unknown)
	require.NoError(t, err)
	assert.Equal(t, 200*time.Millisecond, p3.Waited(), "waited for the 20 missing of its 40")
	assert.Zero(t, reserve(p3, 10))
	p3.Release() // 30 of its 40 given back

	p4, err := l.Admit(ctx, "acme", "cloudwatch", 30, 0)
	require.NoError(t, err)
	assert.Zero(t, p4.Waited(), "the 30 given back are there")
	p4.Release()
}
