package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logdelivery/logdelivery"
)

// PrometheusOptions configures a Prometheus observer.
type PrometheusOptions struct {
	// Namespace prefixes metric names. Default: "logdelivery".
	Namespace string
	// LatencyBuckets are the end-to-end latency histogram buckets, in
	// seconds. Default: 0.1s to ~7min, exponential.
	LatencyBuckets []float64
	// Kinds are the destination kinds counted under their own name: those
	// the Dispatcher has deliverers for. Results of any other kind count
	// under "other". Default (nil): "cloudwatch" and "s3".
	Kinds []string
}

// Prometheus counts results as Prometheus metrics:
//
//	logdelivery_deliveries_total{tenant, type, outcome}
//	logdelivery_events_total{tenant, type, result="delivered|rejected|dropped|truncated"}
//	logdelivery_bytes_total{tenant, type}
//	logdelivery_latency_seconds{type}            (object time → delivered)
//	logdelivery_delivery_duration_seconds{type}  (time spent delivering)
//	logdelivery_last_delivery_timestamp_seconds{tenant, type}  (end of the last delivery)
//
// The last-delivery gauge exists once a destination kind of a tenant has
// received something since the process started: with the deliveries
// counter it tells a destination that has input but receives nothing (see
// examples/deploy/prometheus/rules.yaml).
//
// The type label holds the destination kind ("s3" for a config of type
// "s3:archive"), never the config's name: series per tenant grow with the
// number of tenants times the kinds, and histograms are per kind only (see
// the package documentation on cardinality).
type Prometheus struct {
	kinds      kindSet
	deliveries *prometheus.CounterVec
	events     *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	duration   *prometheus.HistogramVec
	last       *prometheus.GaugeVec
}

// NewPrometheus registers the metrics with reg and returns the observer.
func NewPrometheus(reg prometheus.Registerer, optFns ...func(*PrometheusOptions)) (*Prometheus, error) {
	var o PrometheusOptions
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Namespace == "" {
		o.Namespace = "logdelivery"
	}
	if o.LatencyBuckets == nil {
		o.LatencyBuckets = prometheus.ExponentialBuckets(0.1, 2, 13)
	}
	p := &Prometheus{
		kinds: newKindSet(o.Kinds),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "deliveries_total",
			Help: "Results of (object, destination) pairs by outcome."}, []string{"tenant", "type", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "events_total",
			Help: "Log events by what became of them."}, []string{"tenant", "type", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "bytes_total",
			Help: "Payload bytes accepted by destinations."}, []string{"tenant", "type"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "latency_seconds",
			Help: "End-to-end latency from the object's time to its delivery.", Buckets: o.LatencyBuckets}, []string{"type"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "delivery_duration_seconds",
			Help: "Time spent delivering one object to one destination.", Buckets: prometheus.DefBuckets}, []string{"type"}),
		last: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: o.Namespace, Name: "last_delivery_timestamp_seconds",
			Help: "When the last successful delivery to a destination kind of a tenant ended, in seconds since the epoch."}, []string{"tenant", "type"}),
	}
	for _, c := range []prometheus.Collector{p.deliveries, p.events, p.bytes, p.latency, p.duration, p.last} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: registering collectors: %w", err)
		}
	}
	return p, nil
}

// Latency returns the end-to-end latency histogram, for tests and custom
// collectors.
func (p *Prometheus) Latency() prometheus.Collector { return p.latency }

// ObserveResult counts r.
func (p *Prometheus) ObserveResult(_ context.Context, r logdelivery.Result) {
	tenantID, kind := p.kinds.labels(r)
	p.deliveries.WithLabelValues(tenantID, kind, r.Outcome.String()).Inc()
	if r.Receipt.Events > 0 {
		p.events.WithLabelValues(tenantID, kind, "delivered").Add(float64(r.Receipt.Events))
	}
	if r.Receipt.Rejected > 0 {
		p.events.WithLabelValues(tenantID, kind, "rejected").Add(float64(r.Receipt.Rejected))
	}
	if r.Receipt.Dropped > 0 {
		p.events.WithLabelValues(tenantID, kind, "dropped").Add(float64(r.Receipt.Dropped))
	}
	if r.Receipt.Truncated > 0 {
		p.events.WithLabelValues(tenantID, kind, "truncated").Add(float64(r.Receipt.Truncated))
	}
	if r.Receipt.Bytes > 0 {
		p.bytes.WithLabelValues(tenantID, kind).Add(float64(r.Receipt.Bytes))
	}
	if l, ok := latency(r); ok {
		p.latency.WithLabelValues(kind).Observe(l.Seconds())
	}
	if !r.Started.IsZero() {
		p.duration.WithLabelValues(kind).Observe(r.Duration.Seconds())
	}
	if r.Outcome == logdelivery.Delivered {
		end := r.Started.Add(r.Duration)
		if r.Started.IsZero() {
			end = time.Now()
		}
		p.last.WithLabelValues(tenantID, kind).Set(float64(end.UnixNano()) / 1e9)
	}
}
