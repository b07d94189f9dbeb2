package limits

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logdelivery/logdelivery/fault"
)

// DefaultMaxWait is the default of Options.MaxWait.
const DefaultMaxWait = 5 * time.Second

// Options configures a Limiter.
type Options struct {
	// Defaults are the limits of every tenant and kind the overrides do
	// not set. Default: the zero Limits, unlimited.
	Defaults Limits
	// Overrides are the first overrides in force; SetOverrides replaces
	// them (a reloader calls it). Default: none.
	Overrides *Overrides
	// MaxWait bounds how long one delivery waits for its limits, in total
	// (a concurrency slot, then tokens as it sends): beyond it the
	// delivery ends with ErrLimited and a retry-after hint. A wait that
	// would outlast the context's deadline ends it at once. Positive.
	// Default: DefaultMaxWait (5s).
	MaxWait time.Duration
	// Observer is told about waits and limited deliveries, for metrics
	// (metrics.Limits is one). Default: none.
	Observer Observer
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Sleep waits for d or until ctx is done, returning ctx's error then.
	// Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Observer is told what a Limiter holds back. Its methods are called
// concurrently, from deliveries, and must not block.
type Observer interface {
	// Waited is called when a delivery of tenantID to kind waited d for its
	// limits: for tokens for events and bytes, or (both 0) for a
	// concurrency slot.
	Waited(tenantID, kind string, events, bytes int64, d time.Duration)
	// Limited is called when a delivery is stopped by its limits.
	Limited(e *LimitedError)
}

type nopObserver struct{}

func (nopObserver) Waited(string, string, int64, int64, time.Duration) {}
func (nopObserver) Limited(*LimitedError)                              {}

// Limiter enforces Limits per tenant and destination kind, within one
// process. It is safe for concurrent use.
type Limiter struct {
	opts      Options
	overrides atomic.Pointer[Overrides]
	gen       atomic.Uint64 // bumped by every SetOverrides

	mu        sync.Mutex
	states    map[stateKey]*state
	lastSweep time.Time
}

type stateKey struct{ tenant, kind string }

// state is the budgets of one tenant and kind.
type state struct {
	mu            sync.Mutex
	gen           uint64 // the overrides generation limits were resolved at
	limits        Limits
	events, bytes bucket
	inflight      int64         // deliveries holding a concurrency slot
	refs          int64         // permits not released (guarded by Limiter.mu too)
	wake          chan struct{} // closed when a slot frees or the limits change
}

// New returns a Limiter. It fails when an option is out of its range.
func New(optFns ...func(*Options)) (*Limiter, error) {
	l := &Limiter{states: map[stateKey]*state{}}
	for _, fn := range optFns {
		fn(&l.opts)
	}
	o := &l.opts
	var errs []error
	if err := o.Defaults.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("limits: Options.Defaults: %w", err))
	}
	switch {
	case o.MaxWait == 0:
		o.MaxWait = DefaultMaxWait
	case o.MaxWait < 0:
		errs = append(errs, fmt.Errorf("limits: Options.MaxWait is %v; accepted: positive (0 for the default, %v)", o.MaxWait, DefaultMaxWait))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	l.overrides.Store(o.Overrides)
	l.gen.Store(1)
	l.lastSweep = o.Now()
	return l, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetOverrides puts o in force at once, for every delivery, those in
// flight included (their next tokens are taken under the new limits).
// Budgets keep their tokens, capped at a new burst.
func (l *Limiter) SetOverrides(o *Overrides) {
	l.overrides.Store(o)
	l.gen.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.states {
		s.mu.Lock()
		s.broadcast()
		s.mu.Unlock()
	}
}

// Overrides returns the overrides in force.
func (l *Limiter) Overrides() *Overrides { return l.overrides.Load() }

// Limits returns the limits of tenantID's deliveries to kind.
func (l *Limiter) Limits(tenantID, kind string) Limits {
	return l.overrides.Load().Limits(l.opts.Defaults, tenantID, kind)
}

// MaxWait returns the bound on one delivery's waits.
func (l *Limiter) MaxWait() time.Duration { return l.opts.MaxWait }

// Admit admits a delivery of tenantID to kind: it waits for a concurrency
// slot of the tenant and kind and for their budgets to be out of debt,
// within MaxWait. The caller sends through the returned Permit and
// releases it when the delivery ends. Admit fails with an error matching
// ErrLimited (retryable, with a retry-after hint) when the wait would be
// longer, and with ctx's error (retryable) when ctx ends first.
func (l *Limiter) Admit(ctx context.Context, tenantID, kind string) (*Permit, error) {
	p := &Permit{l: l, key: stateKey{tenantID, kind}, s: l.state(tenantID, kind)}
	if err := p.acquireSlot(ctx); err != nil {
		p.Release()
		return nil, err
	}
	if err := p.Wait(ctx, 0, 0); err != nil {
		p.Release()
		return nil, err
	}
	return p, nil
}

// state returns the budgets of a tenant and kind, with a reference taken.
func (l *Limiter) state(tenantID, kind string) *state {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	if now.Sub(l.lastSweep) > time.Minute {
		l.sweep(now)
	}
	k := stateKey{tenantID, kind}
	s := l.states[k]
	if s == nil {
		s = &state{wake: make(chan struct{})}
		l.states[k] = s
	}
	s.mu.Lock()
	s.refs++
	s.mu.Unlock()
	return s
}

// sweep drops the budgets nobody uses that are full again: made anew, they
// are the same. l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, s := range l.states {
		s.mu.Lock()
		if s.refs == 0 && s.events.full(now) && s.bytes.full(now) {
			delete(l.states, k)
		}
		s.mu.Unlock()
	}
}

// refresh brings the state's limits up to date with the overrides. s.mu
// is held.
func (l *Limiter) refresh(s *state, k stateKey, now time.Time) {
	gen := l.gen.Load()
	if s.gen == gen {
		return
	}
	lim := l.Limits(k.tenant, k.kind)
	s.events.reconfigure(lim.EventsPerSecond, lim.eventsBurst(), now)
	s.bytes.reconfigure(lim.BytesPerSecond, lim.bytesBurst(), now)
	s.limits, s.gen = lim, gen
}

// broadcast wakes the waiters for a slot. s.mu is held.
func (s *state) broadcast() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// Permit is one admitted delivery: it holds a concurrency slot of its
// tenant and kind and takes tokens for what the delivery sends. It is
// safe for concurrent use; Release ends it.
type Permit struct {
	l        *Limiter
	key      stateKey
	s        *state
	slot     bool
	released bool

	waited        time.Duration
	events, bytes int64 // granted
}

// Limits returns the limits the permit's delivery is under now.
func (p *Permit) Limits() Limits { return p.l.Limits(p.key.tenant, p.key.kind) }

// Waited returns how long the delivery has waited for its limits so far.
func (p *Permit) Waited() time.Duration {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.waited
}

// acquireSlot waits for a concurrency slot within the wait budget.
func (p *Permit) acquireSlot(ctx context.Context) error {
	l, s := p.l, p.s
	start := l.opts.Now()
	for {
		s.mu.Lock()
		now := l.opts.Now()
		l.refresh(s, p.key, now)
		if m := s.limits.MaxConcurrentDeliveries; m == 0 || s.inflight < m {
			s.inflight++
			p.slot = true
			w := now.Sub(start)
			p.waited += w
			s.mu.Unlock()
			if w > 0 {
				l.opts.Observer.Waited(p.key.tenant, p.key.kind, 0, 0, w)
			}
			return nil
		}
		wake := s.wake
		s.mu.Unlock()
		left := l.opts.MaxWait - p.waited - now.Sub(start)
		if dl, ok := ctx.Deadline(); ok {
			left = min(left, dl.Sub(now))
		}
		if left <= 0 {
			s.mu.Lock()
			p.waited += now.Sub(start)
			e := p.limitedError("max_concurrent_deliveries", l.opts.MaxWait)
			s.mu.Unlock()
			return p.limited(e)
		}
		// Sleep until the time left runs out, or a slot frees (wake is
		// closed), whichever comes first.
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-wake:
				cancel()
			case <-wctx.Done():
			}
		}()
		err := l.opts.Sleep(wctx, left)
		woken := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		if err != nil && !woken {
			return fault.Retryable(fmt.Errorf("limits: waiting for a delivery slot of tenant %q, kind %q: %w", p.key.tenant, p.key.kind, err))
		}
	}
}

// Reserve takes the tokens for events and bytes about to be sent and
// returns how long the caller must wait before sending them (0: at once);
// the caller waits (Sleep), possibly after releasing what it holds that
// others need. When the wait would take the delivery's total beyond
// MaxWait, or past ctx's deadline, Reserve takes nothing and fails with an
// error matching ErrLimited, retryable with the wait as its retry-after
// hint. Tokens reserved are spent even if the caller does not send.
func (p *Permit) Reserve(ctx context.Context, events, bytes int64) (time.Duration, error) {
	l, s := p.l, p.s
	s.mu.Lock()
	if p.released {
		s.mu.Unlock()
		return 0, errors.New("limits: Reserve on a released permit")
	}
	now := l.opts.Now()
	l.refresh(s, p.key, now)
	we := s.events.wait(now, float64(events))
	wb := s.bytes.wait(now, float64(bytes))
	w, limit := we, "events_per_second"
	if wb > we {
		w, limit = wb, "bytes_per_second"
	}
	if w > 0 {
		left := l.opts.MaxWait - p.waited
		if dl, ok := ctx.Deadline(); ok {
			left = min(left, dl.Sub(now))
		}
		if w > left {
			e := p.limitedError(limit, w)
			s.mu.Unlock()
			return 0, p.limited(e)
		}
	}
	s.events.take(now, float64(events))
	s.bytes.take(now, float64(bytes))
	p.events += events
	p.bytes += bytes
	p.waited += w
	s.mu.Unlock()
	if w > 0 {
		l.opts.Observer.Waited(p.key.tenant, p.key.kind, events, bytes, w)
	}
	return w, nil
}

// Sleep waits for d, or until ctx is done (returning its error, retryable).
func (p *Permit) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := p.l.opts.Sleep(ctx, d); err != nil {
		return fault.Retryable(fmt.Errorf("limits: waiting for the limits of tenant %q, kind %q: %w", p.key.tenant, p.key.kind, err))
	}
	return nil
}

// Wait reserves the tokens for events and bytes and waits until they may
// be sent (Reserve, then Sleep).
func (p *Permit) Wait(ctx context.Context, events, bytes int64) error {
	d, err := p.Reserve(ctx, events, bytes)
	if err != nil {
		return err
	}
	return p.Sleep(ctx, d)
}

// limitedError describes the permit stopped by limit. p.s.mu is held.
func (p *Permit) limitedError(limit string, retryAfter time.Duration) *LimitedError {
	return &LimitedError{Tenant: p.key.tenant, Kind: p.key.kind, Limit: limit,
		RetryAfter: max(retryAfter, time.Millisecond), Waited: p.waited, Events: p.events, Bytes: p.bytes}
}

// limited returns e as the retryable error of the delivery, telling the
// observer.
func (p *Permit) limited(e *LimitedError) error {
	p.l.opts.Observer.Limited(e)
	return fault.WithRetryAfter(e, e.RetryAfter)
}

// Release ends the permit: its slot goes to the next delivery waiting.
// Later calls do nothing.
func (p *Permit) Release() {
	l, s := p.l, p.s
	l.mu.Lock()
	s.mu.Lock()
	if p.released {
		s.mu.Unlock()
		l.mu.Unlock()
		return
	}
	p.released = true
	if p.slot {
		s.inflight--
		s.broadcast()
	}
	s.refs--
	s.mu.Unlock()
	l.mu.Unlock()
}
