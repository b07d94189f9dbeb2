// Package health tells whether a processor can do its work: Readiness
// combines periodic probes of what it depends on (the configuration
// store, the queue, the central role) with what its deliveries say (not
// ready when every delivery of the last window failed retryably), for a
// readiness endpoint such as /readyz; Check runs the probes once, for a
// self-check at start.
//
// Liveness is another matter: a process that cannot reach DynamoDB is
// not helped by a restart, so nothing here belongs in a liveness probe.
package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/fault"
)

// A Probe checks that one dependency can be reached.
type Probe struct {
	// Name says what is probed, such as `table "tenant-configs"`.
	Name string
	// Check returns nil when the dependency answers as it should.
	Check func(ctx context.Context) error
}

// Problem is a failed probe.
type Problem struct {
	Probe string
	Err   error
}

func (p Problem) Error() string { return p.Probe + ": " + p.Err.Error() }

func (p Problem) Unwrap() error { return p.Err }

// Check runs every probe once, concurrently, each bounded by timeout (0:
// only ctx), and returns the problems in the order of probes.
func Check(ctx context.Context, probes []Probe, timeout time.Duration) []Problem {
	errs := make([]error, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() {
			pctx, cancel := ctx, context.CancelFunc(func() {})
			if timeout > 0 {
				pctx, cancel = context.WithTimeout(ctx, timeout)
			}
			defer cancel()
			errs[i] = p.Check(pctx)
		})
	}
	wg.Wait()
	var problems []Problem
	for i, err := range errs {
		if err != nil {
			problems = append(problems, Problem{Probe: probes[i].Name, Err: err})
		}
	}
	return problems
}

// Options configures a Readiness.
type Options struct {
	// Probes are run every ProbeInterval; any failing makes the
	// Readiness not ready until it passes again. Default: none.
	Probes []Probe
	// ProbeInterval is how often the probes run. Positive. Default: 30s.
	ProbeInterval time.Duration
	// ProbeTimeout bounds each probe. Positive, at most ProbeInterval.
	// Default: 5s, or ProbeInterval when shorter.
	ProbeTimeout time.Duration
	// Window is how far back deliveries are looked at: not ready when
	// none in the last Window succeeded and at least MinFailures failed
	// retryably. Positive. Default: 5m.
	Window time.Duration
	// MinFailures is how many retryable failures (and no success) within
	// Window make the Readiness not ready, so that one failure on a quiet
	// processor does not. At least 1. Default: 10.
	MinFailures int
	// Logger is told when readiness changes. Default: discard.
	Logger *slog.Logger
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// Readiness says whether a processor is ready: its probes pass and its
// recent deliveries did not all fail retryably. Feed it every result (it
// is a logdelivery.Observer) and run its probes with Run. It is safe for
// concurrent use.
type Readiness struct {
	opts Options

	mu          sync.Mutex
	problems    []Problem   // of the last probe run
	probed      bool        // the probes ran at least once
	failures    []time.Time // times of the retryable failures since lastSuccess, the last MinFailures
	lastSuccess time.Time
	lastErr     error // the last retryable failure's error
	notReady    bool  // as last reported, to log changes
}

// NewReadiness returns a Readiness. It fails when an option is out of its
// range (see Options).
func NewReadiness(optFns ...func(*Options)) (*Readiness, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	var errs []error
	positive := func(field string, d *time.Duration, def time.Duration) {
		switch {
		case *d == 0:
			*d = def
		case *d < 0:
			errs = append(errs, fmt.Errorf("health: Options.%s is %v; accepted: positive (0 for the default, %v)", field, *d, def))
		}
	}
	positive("ProbeInterval", &o.ProbeInterval, 30*time.Second)
	positive("ProbeTimeout", &o.ProbeTimeout, min(5*time.Second, max(o.ProbeInterval, 1)))
	positive("Window", &o.Window, 5*time.Minute)
	if o.ProbeInterval > 0 && o.ProbeTimeout > o.ProbeInterval {
		errs = append(errs, fmt.Errorf("health: Options.ProbeTimeout (%v) exceeds ProbeInterval (%v)", o.ProbeTimeout, o.ProbeInterval))
	}
	switch {
	case o.MinFailures == 0:
		o.MinFailures = 10
	case o.MinFailures < 0:
		errs = append(errs, fmt.Errorf("health: Options.MinFailures is %d; accepted: at least 1 (0 for the default, 10)", o.MinFailures))
	}
	for _, p := range o.Probes {
		if p.Name == "" || p.Check == nil {
			errs = append(errs, errors.New("health: every probe needs a Name and a Check"))
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Readiness{opts: o}, nil
}

// ObserveResult counts a delivery: delivered is a success, a retryable
// failure a failure; skips and permanent failures (a tenant's own
// misconfiguration) say nothing about the processor.
func (r *Readiness) ObserveResult(_ context.Context, res logdelivery.Result) {
	switch {
	case res.Outcome == logdelivery.Delivered:
		r.mu.Lock()
		r.lastSuccess = r.opts.Now()
		r.failures = r.failures[:0]
		r.mu.Unlock()
	case res.Outcome == logdelivery.Failed && fault.IsRetryable(res.Err):
		r.mu.Lock()
		if len(r.failures) == r.opts.MinFailures {
			r.failures = append(r.failures[:0], r.failures[1:]...)
		}
		r.failures = append(r.failures, r.opts.Now())
		r.lastErr = res.Err
		r.mu.Unlock()
	}
}

// Probe runs the probes once and keeps their problems for Ready.
func (r *Readiness) Probe(ctx context.Context) {
	problems := Check(ctx, r.opts.Probes, r.opts.ProbeTimeout)
	r.mu.Lock()
	r.problems, r.probed = problems, true
	r.mu.Unlock()
	r.Ready() // logs a change
}

// Run probes at once, then every ProbeInterval, until ctx is done.
func (r *Readiness) Run(ctx context.Context) {
	if len(r.opts.Probes) == 0 {
		return
	}
	t := time.NewTicker(r.opts.ProbeInterval)
	defer t.Stop()
	for {
		r.Probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Ready returns nil when the processor is ready, or an error naming each
// reason it is not: a probe that failed on its last run (or probes that
// have not run yet), and deliveries that all failed retryably in the last
// Window.
func (r *Readiness) Ready() error {
	now := r.opts.Now()
	r.mu.Lock()
	var reasons []string
	if len(r.opts.Probes) > 0 && !r.probed {
		reasons = append(reasons, "not probed yet")
	}
	for _, p := range r.problems {
		reasons = append(reasons, p.Error())
	}
	cutoff := now.Add(-r.opts.Window)
	if n := len(r.failures); n == r.opts.MinFailures && r.failures[0].After(cutoff) && !r.lastSuccess.After(cutoff) {
		reasons = append(reasons, fmt.Sprintf("every delivery of the last %v failed retryably (%d or more; last: %v)", r.opts.Window, n, r.lastErr))
	}
	changed := (len(reasons) > 0) != r.notReady
	r.notReady = len(reasons) > 0
	r.mu.Unlock()

	if len(reasons) == 0 {
		if changed {
			r.opts.Logger.Info("ready")
		}
		return nil
	}
	err := errors.New("not ready: " + strings.Join(reasons, "; "))
	if changed {
		r.opts.Logger.Warn("not ready", "reason", err)
	}
	return err
}
