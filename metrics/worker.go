package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/sqsworker"
)

// WorkerOptions configures a Worker.
type WorkerOptions struct {
	// Namespace prefixes metric names. Default: "logdelivery".
	Namespace string
	// LagBuckets are the object lag histogram buckets, in seconds.
	// Default: 1s to ~2.3h, exponential.
	LagBuckets []float64
}

// Worker counts what an SQS worker does with messages, as Prometheus
// metrics; install it as sqsworker.Options.Observer:
//
//	logdelivery_worker_messages_received_total
//	logdelivery_worker_messages_deleted_total     (deleted from the queue: delivered, parked or dropped)
//	logdelivery_worker_messages_retried_total     (made visible again for a retry)
//	logdelivery_worker_messages_failed_total{settlement}
//	                                              (failed permanently: malformed, or at some destination;
//	                                               settlement "parked" in the failure queue, "kept" for
//	                                               the redrive policy, "dropped": deleted, lost)
//	logdelivery_worker_messages_in_flight
//	logdelivery_worker_receive_errors_total
//	logdelivery_worker_object_lag_seconds         (object time → start of its processing)
//
// Messages that keep failing, retryably or kept permanently failed, are
// moved to the queue's own dead-letter queue by SQS (maxReceiveCount),
// which the worker does not see: watch that queue's depth too. Apart from
// settlement the series have no labels: a message may carry objects of
// several tenants, and the per-tenant view is the Prometheus observer's.
type Worker struct {
	received, deleted, retried prometheus.Counter
	failed                     *prometheus.CounterVec
	receiveErrors              prometheus.Counter
	inFlight                   prometheus.Gauge
	lag                        prometheus.Histogram
}

// NewWorker registers the worker metrics with reg and returns the
// observer.
func NewWorker(reg prometheus.Registerer, optFns ...func(*WorkerOptions)) (*Worker, error) {
	var o WorkerOptions
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Namespace == "" {
		o.Namespace = "logdelivery"
	}
	if o.LagBuckets == nil {
		o.LagBuckets = prometheus.ExponentialBuckets(1, 2, 14)
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: o.Namespace, Subsystem: "worker", Name: name, Help: help})
	}
	w := &Worker{
		received: counter("messages_received_total", "Messages received from the queue."),
		deleted:  counter("messages_deleted_total", "Messages deleted from the queue: delivered, parked or dropped."),
		retried:  counter("messages_retried_total", "Messages made visible again for a retry."),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Subsystem: "worker", Name: "messages_failed_total",
			Help: "Messages that failed permanently (malformed, or at some destination), by what became of them: parked, kept or dropped."}, []string{"settlement"}),
		receiveErrors: counter("receive_errors_total", "Failed receives."),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: o.Namespace, Subsystem: "worker", Name: "messages_in_flight",
			Help: "Messages received and not yet processed."}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: o.Namespace, Subsystem: "worker", Name: "object_lag_seconds",
			Help: "Age of each object when its processing started: from the object's time.", Buckets: o.LagBuckets}),
	}
	for _, st := range []sqsworker.Settlement{sqsworker.Parked, sqsworker.Kept, sqsworker.Dropped} {
		w.failed.WithLabelValues(st.String()) // present at 0, for alerts on increase
	}
	for _, c := range []prometheus.Collector{w.received, w.deleted, w.retried, w.failed, w.receiveErrors, w.inFlight, w.lag} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: registering collectors: %w", err)
		}
	}
	return w, nil
}

// Received counts n messages received and in flight.
func (w *Worker) Received(n int) {
	w.received.Add(float64(n))
	w.inFlight.Add(float64(n))
}

// ReceiveFailed counts a failed receive.
func (w *Worker) ReceiveFailed() { w.receiveErrors.Inc() }

// Processed counts a processed message by what the worker does with it,
// and observes the lag of each of its objects.
func (w *Worker) Processed(res logdelivery.MessageResult, started time.Time, s sqsworker.Settlement) {
	w.inFlight.Dec()
	switch s {
	case sqsworker.Released:
		w.retried.Inc()
	case sqsworker.Deleted:
		w.deleted.Inc()
	case sqsworker.Kept:
		w.failed.WithLabelValues(s.String()).Inc()
	case sqsworker.Parked, sqsworker.Dropped:
		w.failed.WithLabelValues(s.String()).Inc()
		w.deleted.Inc()
	}
	seen := map[[2]string]bool{}
	for _, r := range res.Results {
		o := r.Object
		k := [2]string{o.Bucket, o.Key}
		if seen[k] || o.Time.IsZero() {
			continue
		}
		seen[k] = true
		if lag := started.Sub(o.Time); lag >= 0 {
			w.lag.Observe(lag.Seconds())
		}
	}
}
