package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logdelivery/logdelivery/limits"
)

// LimitsOptions configures a Limits observer.
type LimitsOptions struct {
	// Namespace prefixes metric names. Default: "logdelivery".
	Namespace string
	// Kinds are the destination kinds counted under their own name, as in
	// PrometheusOptions. Default (nil): "cloudwatch" and "s3".
	Kinds []string
}

// Limits counts what a limits.Limiter holds back, per tenant and
// destination kind; install it as limits.Options.Observer:
//
//	logdelivery_limited_events_total{tenant, type}        events that waited for their tenant's rate
//	logdelivery_limited_bytes_total{tenant, type}         bytes that waited for their tenant's rate
//	logdelivery_limit_wait_seconds_total{tenant, type}    time deliveries spent waiting for their limits
//	logdelivery_limited_deliveries_total{tenant, type, limit}
//	                                                      deliveries stopped by a limit (retried after its hint)
//
// The type label is the destination kind, bounded as for Prometheus.
type Limits struct {
	kinds               kindSet
	events, bytes, wait *prometheus.CounterVec
	limited             *prometheus.CounterVec
}

var _ limits.Observer = (*Limits)(nil)

// NewLimits registers the limits metrics with reg and returns the
// observer.
func NewLimits(reg prometheus.Registerer, optFns ...func(*LimitsOptions)) (*Limits, error) {
	var o LimitsOptions
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Namespace == "" {
		o.Namespace = "logdelivery"
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: name, Help: help}, labels)
	}
	l := &Limits{
		kinds:   newKindSet(o.Kinds),
		events:  counter("limited_events_total", "Log events that waited for their tenant's rate limit.", "tenant", "type"),
		bytes:   counter("limited_bytes_total", "Payload bytes that waited for their tenant's rate limit.", "tenant", "type"),
		wait:    counter("limit_wait_seconds_total", "Time deliveries spent waiting for their tenant's limits.", "tenant", "type"),
		limited: counter("limited_deliveries_total", "Deliveries stopped by a tenant's limit, to be retried after its hint.", "tenant", "type", "limit"),
	}
	for _, c := range []prometheus.Collector{l.events, l.bytes, l.wait, l.limited} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: registering collectors: %w", err)
		}
	}
	return l, nil
}

// Waited counts a wait.
func (l *Limits) Waited(tenantID, kind string, events, bytes int64, d time.Duration) {
	kind = l.kinds.kind(kind)
	if events > 0 {
		l.events.WithLabelValues(tenantID, kind).Add(float64(events))
	}
	if bytes > 0 {
		l.bytes.WithLabelValues(tenantID, kind).Add(float64(bytes))
	}
	l.wait.WithLabelValues(tenantID, kind).Add(d.Seconds())
}

// Limited counts a delivery stopped by a limit.
func (l *Limits) Limited(e *limits.LimitedError) {
	l.limited.WithLabelValues(e.Tenant, l.kinds.kind(e.Kind), e.Limit).Inc()
}

// ReloadsOptions configures a Reloads observer.
type ReloadsOptions struct {
	// Namespace prefixes metric names. Default: "logdelivery".
	Namespace string
	// Now returns the current time, for the last-success gauge.
	// Default: time.Now.
	Now func() time.Time
}

// Reloads counts the versions of watched configuration files (the
// overrides file of limits.OverridesFile, the file of a filestore.Store)
// applied and refused; install it as their ReloadObserver:
//
//	logdelivery_config_reloads_total{source, result="applied|refused"}
//	logdelivery_config_last_reload_success_timestamp_seconds{source}
//	logdelivery_config_last_reload_successful{source}   1 while the file's current version is in force, 0 while it is refused
//
// Alert on logdelivery_config_last_reload_successful == 0: the file holds
// a version that is not in force (its problems are in the processor's log).
type Reloads struct {
	now        func() time.Time
	reloads    *prometheus.CounterVec
	lastOK     *prometheus.GaugeVec
	successful *prometheus.GaugeVec
}

// NewReloads registers the reload metrics with reg and returns the
// observer.
func NewReloads(reg prometheus.Registerer, optFns ...func(*ReloadsOptions)) (*Reloads, error) {
	var o ReloadsOptions
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Namespace == "" {
		o.Namespace = "logdelivery"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Reloads{
		now: o.Now,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "config_reloads_total",
			Help: "New versions of watched configuration files, applied or refused."}, []string{"source", "result"}),
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: o.Namespace, Name: "config_last_reload_success_timestamp_seconds",
			Help: "When a version of the file was last applied, in seconds since the epoch."}, []string{"source"}),
		successful: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: o.Namespace, Name: "config_last_reload_successful",
			Help: "1 while the file's current version is in force, 0 while it is refused (the last good version stays)."}, []string{"source"}),
	}
	for _, c := range []prometheus.Collector{r.reloads, r.lastOK, r.successful} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: registering collectors: %w", err)
		}
	}
	return r, nil
}

// Loaded records the version a source was started with, before any
// reload: its last success is now.
func (r *Reloads) Loaded(source string) {
	r.lastOK.WithLabelValues(source).Set(float64(r.now().UnixNano()) / 1e9)
	r.successful.WithLabelValues(source).Set(1)
	r.reloads.WithLabelValues(source, "applied")
	r.reloads.WithLabelValues(source, "refused") // present at 0, for alerts on increase
}

// Reloaded counts a new version of a source's file.
func (r *Reloads) Reloaded(source string, err error) {
	if err != nil {
		r.reloads.WithLabelValues(source, "refused").Inc()
		r.successful.WithLabelValues(source).Set(0)
		return
	}
	r.reloads.WithLabelValues(source, "applied").Inc()
	r.lastOK.WithLabelValues(source).Set(float64(r.now().UnixNano()) / 1e9)
	r.successful.WithLabelValues(source).Set(1)
}
