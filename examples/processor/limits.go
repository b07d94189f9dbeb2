package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/limits"
	"github.com/logdelivery/logdelivery/metrics"
)

// live is the processor's live configuration: per-tenant limits from
// LIMITS_FILE and the watched TENANT_CONFIG_FILE, both polled every
// CONFIG_RELOAD_INTERVAL (default 10s) with last-good semantics, and the
// observers the modes add for their metrics.
type live struct {
	limiter   *limits.Limiter
	overrides *limits.OverridesFile
	interval  time.Duration
	observers *liveObservers
	sources   []string // the watched files' source names, for metrics
}

// readLive reads LIMITS_FILE (a Loki-shaped overrides file, see package
// limits), LIMITS_MAX_WAIT (how long a delivery may wait for its
// tenant's limits before it is retried after the hint; default 5s) and
// CONFIG_RELOAD_INTERVAL. Without LIMITS_FILE there are no limits. An
// invalid or unreadable file fails the start: the processor does not run
// on limits it cannot honour; later invalid versions are refused and the
// last good one stays.
func readLive(getenv func(string) string, logger *slog.Logger) (*live, error) {
	l := &live{interval: 10 * time.Second, observers: &liveObservers{}}
	if v := getenv("CONFIG_RELOAD_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("CONFIG_RELOAD_INTERVAL %q: want a positive duration such as 10s", v)
		}
		l.interval = d
	}
	path := getenv("LIMITS_FILE")
	if path == "" {
		return l, nil
	}
	var maxWait time.Duration
	if v := getenv("LIMITS_MAX_WAIT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("LIMITS_MAX_WAIT %q: want a positive duration such as 5s", v)
		}
		maxWait = d
	}
	lim, err := limits.New(func(o *limits.Options) {
		o.MaxWait = maxWait
		o.Observer = l.observers
	})
	if err != nil {
		return nil, err
	}
	kinds := deliveredKinds()
	of, err := limits.OpenOverridesFile(path, lim, func(o *limits.FileOptions) {
		o.Interval, o.Logger, o.Observer = l.interval, logger, l.observers
		o.Parse = func(po *limits.ParseOptions) { po.Kinds = kinds }
	})
	if err != nil {
		return nil, fmt.Errorf("LIMITS_FILE: %w", err)
	}
	logger.Info("per-tenant limits in force", "file", path, "tenants", len(lim.Overrides().Tenants()), "max_wait", lim.MaxWait())
	l.limiter, l.overrides = lim, of
	l.sources = append(l.sources, limits.SourceOverrides)
	return l, nil
}

// deliveredKinds returns the destination kinds the processor delivers, the
// only ones an overrides file may name.
func deliveredKinds() []string {
	var names []string
	for _, k := range awsdispatch.Kinds() {
		names = append(names, k.Name)
	}
	return names
}

// apply sets the limiter of the processor's dispatcher.
func (l *live) apply(o *awsdispatch.Options) { o.Limits = l.limiter }

// watch polls the overrides file until ctx is done.
func (l *live) watch(ctx context.Context) {
	if l.overrides != nil {
		go l.overrides.Run(ctx)
	}
}

// reloadObserver is what metrics.Reloads and metrics.EMF are to reloads.
type reloadObserver interface {
	Reloaded(source string, err error)
}

// liveObservers passes what limits and reloads report to the observers
// the mode adds (its Prometheus registry's, or EMF).
type liveObservers struct {
	mu      sync.RWMutex
	limits  []limits.Observer
	reloads []reloadObserver
}

func (o *liveObservers) add(lo limits.Observer, ro reloadObserver) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if lo != nil {
		o.limits = append(o.limits, lo)
	}
	if ro != nil {
		o.reloads = append(o.reloads, ro)
	}
}

func (o *liveObservers) Waited(tenantID, kind string, events, bytes int64, d time.Duration) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, lo := range o.limits {
		lo.Waited(tenantID, kind, events, bytes, d)
	}
}

func (o *liveObservers) Limited(e *limits.LimitedError) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, lo := range o.limits {
		lo.Limited(e)
	}
}

func (o *liveObservers) Reloaded(source string, err error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, ro := range o.reloads {
		ro.Reloaded(source, err)
	}
}

// register adds the limits and reload metrics to reg.
func (l *live) register(reg prometheus.Registerer) error {
	lm, err := metrics.NewLimits(reg, func(o *metrics.LimitsOptions) { o.Kinds = deliveredKinds() })
	if err != nil {
		return err
	}
	rm, err := metrics.NewReloads(reg)
	if err != nil {
		return err
	}
	for _, src := range l.sources {
		rm.Loaded(src)
	}
	l.observers.add(lm, rm)
	return nil
}
