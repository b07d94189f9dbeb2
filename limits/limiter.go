package limits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logdelivery/logdelivery/fault"
)

// DefaultMaxWait is the default of Options.MaxWait.
const DefaultMaxWait = 5 * time.Second

// slotRetryAfter is the hint of a delivery that found no concurrency slot:
// about the time a delivery takes to free one.
const slotRetryAfter = time.Second

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
	// MaxWaiting is how many deliveries of one tenant and kind may wait to
	// be admitted at once (for a concurrency slot, or for their budget to
	// come out of debt); a delivery that would have to wait beyond them is
	// limited at once, with the time its budget needs as the hint. A
	// delivery waiting to be admitted holds a runtime's message slot (the
	// SQS worker's MaxInFlight, a Lambda invocation's time): this bounds
	// what a tenant over its limits holds of them. Positive. Default: 1.
	MaxWaiting int
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
	inflight      int64 // deliveries holding a concurrency slot
	waiting       int   // deliveries waiting to be admitted
	// estimate is what a delivery of unknown cost sends, on average
	// (EWMA of the last ones); prepaid at its admission.
	estEvents, estBytes float64
	estimated           bool
	refs                int64         // permits not released (guarded by Limiter.mu too)
	wake                chan struct{} // closed when a slot frees or the limits change
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
	switch {
	case o.MaxWaiting == 0:
		o.MaxWaiting = 1
	case o.MaxWaiting < 0:
		errs = append(errs, fmt.Errorf("limits: Options.MaxWaiting is %d; accepted: positive (0 for the default, 1)", o.MaxWaiting))
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

// Unknown is the cost, for Admit, of a delivery that does not know up
// front what it will send (a record stream).
const Unknown = -1

// Admit admits a delivery of tenantID to kind that sends events and bytes
// known up front (a copy's size), or Unknown for both when it takes its
// tokens as it goes (Reserve): then what the tenant's recent deliveries of
// the kind sent (the bucket's burst before any) is prepaid, and Reserve
// draws on it first, the rest given back at Release; so that many
// deliveries arriving together are admitted as the budget allows, not all
// at once to wait in the middle of their streams. Admit waits for a
// concurrency slot of the tenant and kind and for their budgets to hold
// the tokens (or be out of debt), within MaxWait and only if fewer than
// MaxWaiting deliveries of the tenant and kind are waiting already. The caller sends through the
// returned Permit and releases it when the delivery ends. Admit fails
// with an error matching ErrLimited (retryable, with a retry-after hint)
// when it cannot admit the delivery so, and with ctx's error (retryable)
// when ctx ends first.
func (l *Limiter) Admit(ctx context.Context, tenantID, kind string, events, bytes int64) (*Permit, error) {
	p := &Permit{l: l, key: stateKey{tenantID, kind}, s: l.state(tenantID, kind)}
	if err := p.acquireSlot(ctx); err != nil {
		p.Release()
		return nil, err
	}
	if err := p.admit(ctx, events, bytes); err != nil {
		p.Release()
		return nil, err
	}
	return p, nil
}

// admit takes the tokens of an admission, waiting for them as one of the
// MaxWaiting.
func (p *Permit) admit(ctx context.Context, events, bytes int64) error {
	l, s := p.l, p.s
	s.mu.Lock()
	now := l.opts.Now()
	l.refresh(s, p.key, now)
	var ce, cb int64 // prepaid for a delivery of unknown cost
	unknown := events < 0 || bytes < 0
	if unknown {
		e, b := s.estimate()
		ce, cb = int64(math.Ceil(e)), int64(math.Ceil(b))
		events, bytes = 0, 0
	}
	w, limit := s.wait(now, events+ce, bytes+cb)
	if w > 0 && (w > p.left(ctx, now) || s.waiting >= l.opts.MaxWaiting) {
		e := p.limitedError(limit, w)
		s.mu.Unlock()
		return p.limited(e)
	}
	s.take(now, events+ce, bytes+cb)
	// Only an admitted delivery's cost teaches the estimate.
	p.estimated = unknown
	p.creditEvents, p.creditBytes = float64(ce), float64(cb)
	p.events += events
	p.bytes += bytes
	p.waited += w
	if w == 0 {
		s.mu.Unlock()
		return nil
	}
	s.waiting++
	s.mu.Unlock()
	l.opts.Observer.Waited(p.key.tenant, p.key.kind, events, bytes, w)
	err := p.Sleep(ctx, w)
	s.mu.Lock()
	s.waiting--
	s.mu.Unlock()
	return err
}

// estimate returns what a delivery of unknown cost is expected to send:
// the recent average, or before any a tenth of a second at the rate (at
// most the burst); 0 when unlimited. s.mu is held.
func (s *state) estimate() (events, bytes float64) {
	if s.estimated {
		events, bytes = s.estEvents, s.estBytes
	} else {
		events = min(s.events.burst, s.events.rate/10)
		bytes = min(s.bytes.burst, s.bytes.rate/10)
	}
	if s.events.rate == 0 {
		events = 0
	}
	if s.bytes.rate == 0 {
		bytes = 0
	}
	return events, bytes
}

// learn adds what a delivery of unknown cost sent to the estimate. s.mu
// is held.
func (s *state) learn(events, bytes int64) {
	const weight = 0.2
	if !s.estimated {
		s.estEvents, s.estBytes, s.estimated = float64(events), float64(bytes), true
		return
	}
	s.estEvents += weight * (float64(events) - s.estEvents)
	s.estBytes += weight * (float64(bytes) - s.estBytes)
}

// wait returns how long a take of events and bytes must wait and the
// limit that makes it wait longest. s.mu is held.
func (s *state) wait(now time.Time, events, bytes int64) (time.Duration, string) {
	we := s.events.wait(now, float64(events))
	wb := s.bytes.wait(now, float64(bytes))
	if wb > we {
		return wb, "bytes_per_second"
	}
	return we, "events_per_second"
}

// take takes events and bytes from the budgets. s.mu is held.
func (s *state) take(now time.Time, events, bytes int64) {
	s.events.take(now, float64(events))
	s.bytes.take(now, float64(bytes))
}

// left returns how much longer the permit's delivery may wait: what is
// left of MaxWait, and of ctx's time. p.s.mu is held.
func (p *Permit) left(ctx context.Context, now time.Time) time.Duration {
	left := p.l.opts.MaxWait - p.waited
	if dl, ok := ctx.Deadline(); ok {
		left = min(left, dl.Sub(now))
	}
	return left
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

	// estimated: admitted at an unknown cost, with credit prepaid
	estimated                 bool
	creditEvents, creditBytes float64
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
	waiting := false // counted in s.waiting
	for {
		s.mu.Lock()
		now := l.opts.Now()
		l.refresh(s, p.key, now)
		if m := s.limits.MaxConcurrentDeliveries; m == 0 || s.inflight < m {
			s.inflight++
			p.slot = true
			if waiting {
				s.waiting--
			}
			w := now.Sub(start)
			p.waited += w
			s.mu.Unlock()
			if w > 0 {
				l.opts.Observer.Waited(p.key.tenant, p.key.kind, 0, 0, w)
			}
			return nil
		}
		left := p.left(ctx, now) - now.Sub(start)
		if left <= 0 || !waiting && s.waiting >= l.opts.MaxWaiting {
			p.waited += now.Sub(start)
			if waiting {
				s.waiting--
			}
			e := p.limitedError("max_concurrent_deliveries", slotRetryAfter)
			s.mu.Unlock()
			return p.limited(e)
		}
		if !waiting {
			waiting = true
			s.waiting++
		}
		wake := s.wake
		s.mu.Unlock()
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
			s.mu.Lock()
			s.waiting--
			s.mu.Unlock()
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
	// What was prepaid at admission first.
	fromE := min(p.creditEvents, float64(events))
	fromB := min(p.creditBytes, float64(bytes))
	te, tb := events-int64(fromE), bytes-int64(fromB)
	w, limit := s.wait(now, te, tb)
	if w > 0 && w > p.left(ctx, now) {
		e := p.limitedError(limit, w)
		s.mu.Unlock()
		return 0, p.limited(e)
	}
	p.creditEvents -= fromE
	p.creditBytes -= fromB
	s.take(now, te, tb)
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
	if p.estimated {
		now := l.opts.Now()
		s.learn(p.events, p.bytes)
		s.events.give(now, p.creditEvents)
		s.bytes.give(now, p.creditBytes)
		p.creditEvents, p.creditBytes = 0, 0
	}
	if p.slot {
		s.inflight--
		s.broadcast()
	}
	s.refs--
	s.mu.Unlock()
	l.mu.Unlock()
}
