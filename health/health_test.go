package health

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/fault"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var (
	delivered = logdelivery.Result{Outcome: logdelivery.Delivered}
	throttled = logdelivery.Result{Outcome: logdelivery.Failed, Err: fault.Retryable(errors.New("ThrottlingException"))}
	denied    = logdelivery.Result{Outcome: logdelivery.Failed, Err: fault.Permanent(errors.New("AccessDenied"))}
	skipped   = logdelivery.Result{Outcome: logdelivery.Skipped, Reason: logdelivery.ReasonFiltered}
)

func TestReadinessFollowsDeliveries(t *testing.T) {
	c := &clock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	r, err := NewReadiness(func(o *Options) { o.Window, o.MinFailures, o.Now = time.Minute, 3, c.Now })
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, r.Ready(), "no probes, no deliveries: ready")

	r.ObserveResult(ctx, throttled)
	r.ObserveResult(ctx, throttled)
	assert.NoError(t, r.Ready(), "fewer than MinFailures")
	r.ObserveResult(ctx, denied)
	r.ObserveResult(ctx, skipped)
	assert.NoError(t, r.Ready(), "permanent failures and skips do not count")
	r.ObserveResult(ctx, throttled)
	err = r.Ready()
	require.Error(t, err, "three retryable failures, no success")
	assert.ErrorContains(t, err, "every delivery of the last 1m0s failed retryably")
	assert.ErrorContains(t, err, "ThrottlingException")

	r.ObserveResult(ctx, delivered)
	assert.NoError(t, r.Ready(), "a success makes it ready at once")
	for range 5 {
		c.Add(time.Second)
		r.ObserveResult(ctx, throttled)
	}
	assert.NoError(t, r.Ready(), "a success within the window")
	c.Add(time.Minute)
	assert.NoError(t, r.Ready(), "failures older than the window are forgotten")
	for range 3 {
		r.ObserveResult(ctx, throttled)
	}
	assert.Error(t, r.Ready(), "the success has left the window")

	// Failures spread wider than the window do not add up.
	r.ObserveResult(ctx, delivered)
	c.Add(2 * time.Minute)
	for range 3 {
		r.ObserveResult(ctx, throttled)
		c.Add(40 * time.Second)
	}
	assert.NoError(t, r.Ready(), "only two failures in the last minute")
}

func TestReadinessFollowsProbes(t *testing.T) {
	var tableDown atomic.Bool
	ran := make(chan struct{}, 100)
	probes := []Probe{
		{Name: `table "configs"`, Check: func(context.Context) error {
			ran <- struct{}{}
			if tableDown.Load() {
				return errors.New("ResourceNotFoundException: Requested resource not found")
			}
			return nil
		}},
		{Name: "queue", Check: func(context.Context) error { return nil }},
	}
	r, err := NewReadiness(func(o *Options) { o.Probes = probes; o.ProbeInterval = time.Hour })
	require.NoError(t, err)
	ctx := context.Background()
	assert.ErrorContains(t, r.Ready(), "not probed yet")
	r.Probe(ctx)
	assert.NoError(t, r.Ready())
	tableDown.Store(true)
	r.Probe(ctx)
	err = r.Ready()
	require.Error(t, err)
	assert.Equal(t, `not ready: table "configs": ResourceNotFoundException: Requested resource not found`, err.Error())

	// Run probes at once, then every interval.
	r, err = NewReadiness(func(o *Options) { o.Probes = probes; o.ProbeInterval = 10 * time.Millisecond })
	require.NoError(t, err)
	for len(ran) > 0 {
		<-ran
	}
	tableDown.Store(false)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.Run(rctx); close(done) }()
	for range 3 {
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Fatal("the probes did not run periodically")
		}
	}
	cancel()
	<-done
	assert.NoError(t, r.Ready())
}

func TestCheck(t *testing.T) {
	problems := Check(context.Background(), []Probe{
		{Name: "a", Check: func(context.Context) error { return nil }},
		{Name: "b", Check: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		{Name: "c", Check: func(context.Context) error { return errors.New("AccessDenied") }},
	}, 50*time.Millisecond)
	require.Len(t, problems, 2)
	assert.Equal(t, "b", problems[0].Probe)
	assert.ErrorIs(t, problems[0], context.DeadlineExceeded, "each probe is bounded by the timeout")
	assert.Equal(t, "c: AccessDenied", problems[1].Error())
}

func TestNewReadinessRefusesBadOptions(t *testing.T) {
	for name, fn := range map[string]func(*Options){
		"negative window":         func(o *Options) { o.Window = -time.Second },
		"negative min failures":   func(o *Options) { o.MinFailures = -1 },
		"timeout beyond interval": func(o *Options) { o.ProbeInterval, o.ProbeTimeout = time.Second, 2*time.Second },
		"negative interval":       func(o *Options) { o.ProbeInterval = -1 },
		"probe without a check":   func(o *Options) { o.Probes = []Probe{{Name: "x"}} },
	} {
		_, err := NewReadiness(fn)
		assert.Error(t, err, name)
	}
	r, err := NewReadiness(func(o *Options) { o.ProbeInterval = time.Second })
	require.NoError(t, err)
	assert.Equal(t, time.Second, r.opts.ProbeTimeout, "the timeout defaults to the interval when shorter than 5s")
}
