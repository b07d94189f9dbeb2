package logdelivery_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/limits"
	"github.com/logdelivery/logdelivery/tenant"
)

// counting reads every record of its deliveries and reports how many it
// read, also when reading fails (as record deliverers do: what came before
// the error was sent).
type counting struct {
	mu  sync.Mutex
	got map[string]int64
}

func (c *counting) Deliver(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
	rr, err := d.Records(ctx)
	if err != nil {
		return deliver.Receipt{}, err
	}
	defer rr.Close()
	var rcpt deliver.Receipt
	for {
		rec, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rcpt, err
		}
		rcpt.Events++
		rcpt.Bytes += int64(len(rec.Message))
	}
	c.mu.Lock()
	if c.got == nil {
		c.got = map[string]int64{}
	}
	c.got[d.Config.TenantID] += rcpt.Events
	c.mu.Unlock()
	return rcpt, nil
}

// fakeSleep is a limiter clock whose sleeps advance it at once.
type fakeSleep struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeSleep) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeSleep) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// A delivery over its tenant's rate waits for it, within the limiter's
// bound; beyond it the delivery ends retryable with a retry-after hint,
// what it sent before counted in its receipt.
func TestLimitedDeliveryEndsRetryableWithAHint(t *testing.T) {
	objects := newObjects()
	key := objects.add(t, "c1/acme/shop/pod/1764496800-a.json.gz", 100)
	small := objects.add(t, "c1/acme/shop/pod/1764496800-b.json.gz", 15)
	clock := &fakeSleep{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	lim, err := limits.New(func(o *limits.Options) {
		o.Defaults = limits.Limits{EventsPerSecond: 10, EventsBurst: 10}
		o.MaxWait = time.Second
		o.Now, o.Sleep = clock.Now, clock.Sleep
	})
	require.NoError(t, err)
	dl := &counting{}
	store := newStore(t, tenant.DeliveryConfig{TenantID: "acme", Type: "rec"})
	d, err := logdelivery.NewDispatcher(store, recordKinds(t, map[string]deliver.Deliverer{"rec": dl}),
		func(o *logdelivery.Options) { o.Opener, o.Limits = objects, lim })
	require.NoError(t, err)

	rs := d.Dispatch(context.Background(), obj("m1", key))
	require.Len(t, rs, 1)
	r := rs[0]
	assert.Equal(t, logdelivery.Failed, r.Outcome)
	assert.True(t, r.Retryable())
	assert.ErrorIs(t, r.Err, limits.ErrLimited)
	assert.Equal(t, 100*time.Millisecond, fault.RetryAfter(r.Err).Round(time.Millisecond), "the next event's token")
	assert.Equal(t, int64(20), r.Receipt.Events, "the burst, then 1s of waiting at 10/s; the other 80 are left for the retry")
	assert.ErrorContains(t, r.Err, "20 events")
	assert.Equal(t, []string{"m1"}, rs.RetryIDs())
	var de *logdelivery.DispatchError
	require.ErrorAs(t, rs.Err(), &de)
	assert.Equal(t, 100*time.Millisecond, fault.RetryAfter(rs.Err()).Round(time.Millisecond), "the hint survives to the dispatch's error")

	// After the hint, an object within the rate goes through.
	require.NoError(t, clock.Sleep(context.Background(), 2*time.Second))
	rs = d.Dispatch(context.Background(), obj("m2", small))
	require.Len(t, rs, 1)
	assert.Equal(t, logdelivery.Delivered, rs[0].Outcome, "%v", rs[0].Err)
	assert.Equal(t, int64(15), rs[0].Receipt.Events)
}

// blockingSleep is a limiter sleep that blocks until released, telling
// the test each time a delivery starts waiting.
type blockingSleep struct {
	fakeSleep
	waiting chan struct{}
	release chan struct{}
}

func (b *blockingSleep) Sleep(ctx context.Context, d time.Duration) error {
	b.waiting <- struct{}{}
	select {
	case <-b.release:
		return b.fakeSleep.Sleep(ctx, d)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A tenant waiting for its rate holds none of the shared workers: with
// the noisy tenant's delivery waiting in the middle of its object on the
// only worker there is, a quiet tenant is delivered at once.
func TestLimitedTenantDoesNotStarveOthers(t *testing.T) {
	objects := newObjects()
	var noisy []logdelivery.Object
	for i := range 4 {
		noisy = append(noisy, obj("n", objects.add(t, "c1/noisy/shop/pod/1764496800-"+string(rune('a'+i))+".json.gz", 50)))
	}
	quiet := obj("q", objects.add(t, "c1/quiet/shop/pod/1764496800-a.json.gz", 50))
	sl := &blockingSleep{waiting: make(chan struct{}, 16), release: make(chan struct{})}
	o, err := limits.ParseOverrides([]byte("overrides: {noisy: {events_per_second: 1, events_burst: 10}}"))
	require.NoError(t, err)
	lim, err := limits.New(func(lo *limits.Options) {
		lo.Overrides = o
		lo.MaxWait = time.Hour
		lo.Now, lo.Sleep = sl.Now, sl.Sleep
	})
	require.NoError(t, err)
	dl := &counting{}
	store := newStore(t, tenant.DeliveryConfig{TenantID: "noisy", Type: "rec"}, tenant.DeliveryConfig{TenantID: "quiet", Type: "rec"})
	d, err := logdelivery.NewDispatcher(store, recordKinds(t, map[string]deliver.Deliverer{"rec": dl}), func(do *logdelivery.Options) {
		do.Opener, do.Limits = objects, lim
		do.MaxConcurrency, do.MaxPerTenant, do.MaxPerDestination = 1, 1, 1
	})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	noisyDone := make(chan logdelivery.Results, 1)
	go func() { noisyDone <- d.Dispatch(ctx, noisy...) }()
	// The first noisy delivery takes the only worker, drains the burst and
	// waits for its rate; the others wait for the debt before they are
	// even admitted, or for the tenant's slot.
	select {
	case <-sl.waiting:
	case <-ctx.Done():
		t.Fatal("the noisy tenant never waited for its rate")
	}
	rs := d.Dispatch(ctx, quiet)
	require.Len(t, rs, 1)
	assert.Equal(t, logdelivery.Delivered, rs[0].Outcome, "%v", rs[0].Err)
	assert.Equal(t, int64(50), rs[0].Receipt.Events)
	select {
	case <-noisyDone:
		t.Fatal("the noisy tenant finished while held by its rate")
	default:
	}
	close(sl.release) // every wait ends at once from now on
	go func() {
		for range sl.waiting {
		}
	}()
	select {
	case nrs := <-noisyDone:
		// One delivery streams, one waits to be admitted; the others are
		// limited at once (MaxWaiting), to be retried after their hint.
		delivered := nrs.Count(logdelivery.Delivered)
		assert.GreaterOrEqual(t, delivered, 1)
		for _, r := range nrs {
			if r.Outcome != logdelivery.Delivered {
				assert.ErrorIs(t, r.Err, limits.ErrLimited)
				assert.True(t, r.Retryable())
				assert.Positive(t, fault.RetryAfter(r.Err))
			}
		}
		dl.mu.Lock()
		assert.Equal(t, int64(50*delivered), dl.got["noisy"])
		dl.mu.Unlock()
	case <-ctx.Done():
		t.Fatal("the noisy deliveries did not end")
	}
}

// A tenant's concurrency limit per kind is enforced before any slot is
// taken; a copy is charged its object's size.
func TestConcurrencyAndCopyLimits(t *testing.T) {
	gate := make(chan struct{})
	started := make(chan string, 8)
	copier := deliver.DelivererFunc(func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		started <- d.Object.Key
		select {
		case <-gate:
		case <-ctx.Done():
			return deliver.Receipt{}, ctx.Err()
		}
		return deliver.Receipt{Objects: 1, Bytes: d.Object.Size}, nil
	})
	lim, err := limits.New(func(o *limits.Options) {
		o.Defaults = limits.Limits{MaxConcurrentDeliveries: 1}
		o.MaxWait = 50 * time.Millisecond
	})
	require.NoError(t, err)
	store := newStore(t, tenant.DeliveryConfig{TenantID: "acme", Type: "copy"})
	r, err := deliver.NewRegistry([]deliver.Kind{delivertest.Kind("copy", copier, false)})
	require.NoError(t, err)
	d, err := logdelivery.NewDispatcher(store, r, func(o *logdelivery.Options) { o.Limits = lim })
	require.NoError(t, err)
	done := make(chan logdelivery.Results, 1)
	go func() {
		done <- d.Dispatch(context.Background(), obj("a", "c1/acme/shop/pod/a.json.gz"), obj("b", "c1/acme/shop/pod/b.json.gz"))
	}()
	<-started
	var rs logdelivery.Results
	select {
	case k := <-started:
		t.Fatalf("a second delivery (%s) started beside the first", k)
	case rs = <-done:
		t.Fatal("dispatch ended while a delivery was held")
	case <-time.After(200 * time.Millisecond):
	}
	close(gate)
	rs = <-done
	require.Len(t, rs, 2)
	assert.Equal(t, 1, rs.Count(logdelivery.Delivered))
	var limited logdelivery.Result
	for _, r := range rs {
		if r.Outcome == logdelivery.Failed {
			limited = r
		}
	}
	assert.ErrorIs(t, limited.Err, limits.ErrLimited)
	var le *limits.LimitedError
	require.ErrorAs(t, limited.Err, &le)
	assert.Equal(t, "max_concurrent_deliveries", le.Limit)
	assert.True(t, limited.Retryable())
	assert.Positive(t, fault.RetryAfter(limited.Err))
	assert.True(t, errors.Is(limited.Err, limits.ErrLimited))
}

func TestCopyIsChargedItsSize(t *testing.T) {
	copier := deliver.DelivererFunc(func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		return deliver.Receipt{Objects: 1, Bytes: d.Object.Size}, nil
	})
	lim, err := limits.New(func(o *limits.Options) {
		o.Defaults = limits.Limits{BytesPerSecond: 1000, BytesBurst: 1000}
		o.MaxWait = 50 * time.Millisecond
	})
	require.NoError(t, err)
	store := newStore(t, tenant.DeliveryConfig{TenantID: "acme", Type: "copy"})
	r, err := deliver.NewRegistry([]deliver.Kind{delivertest.Kind("copy", copier, false)})
	require.NoError(t, err)
	d, err := logdelivery.NewDispatcher(store, r, func(o *logdelivery.Options) { o.Limits = lim })
	require.NoError(t, err)
	big := obj("a", "c1/acme/shop/pod/a.json.gz")
	big.Size = 3000
	rs := d.Dispatch(context.Background(), big)
	require.Len(t, rs, 1)
	assert.Equal(t, logdelivery.Delivered, rs[0].Outcome, "a full bucket admits a copy larger than its burst")
	next := obj("b", "c1/acme/shop/pod/b.json.gz")
	next.Size = 10
	rs = d.Dispatch(context.Background(), next)
	require.Len(t, rs, 1)
	var le *limits.LimitedError
	require.ErrorAs(t, rs[0].Err, &le, "2s of debt: the next copy is not admitted")
	assert.Equal(t, "bytes_per_second", le.Limit)
	assert.InDelta(t, 2*time.Second, fault.RetryAfter(rs[0].Err), float64(50*time.Millisecond))
}

func TestMessageRetryAfter(t *testing.T) {
	limited := fault.WithRetryAfter(errors.New("limited"), 3*time.Second)
	slower := fault.WithRetryAfter(errors.New("429"), 7*time.Second)
	plain := fault.Retryable(errors.New("503"))
	res := func(errs ...error) logdelivery.MessageResult {
		var m logdelivery.MessageResult
		for _, err := range errs {
			r := logdelivery.Result{Outcome: logdelivery.Failed, Err: err}
			if err == nil {
				r.Outcome = logdelivery.Delivered
			}
			m.Results = append(m.Results, r)
		}
		return m
	}
	assert.Equal(t, 3*time.Second, res(limited, nil).RetryAfter())
	assert.Equal(t, 7*time.Second, res(limited, slower).RetryAfter(), "the slowest part")
	assert.Zero(t, res(limited, plain).RetryAfter(), "a failure without a hint gets the runtime's delay")
	assert.Equal(t, 3*time.Second, res(limited, fault.Permanent(errors.New("gone"))).RetryAfter(), "permanent failures are not retried")
	assert.Zero(t, res(nil).RetryAfter())
}
