package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logdelivery/logdelivery"
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
//	logdelivery_worker_messages_deleted_total       (nothing left to retry)
//	logdelivery_worker_messages_retried_total       (made visible again)
//	logdelivery_worker_messages_dead_lettered_total (deleted, given up on: malformed, or failed permanently)
//	logdelivery_worker_messages_in_flight
//	logdelivery_worker_receive_errors_total
//	logdelivery_worker_object_lag_seconds           (object time → start of its processing)
//
// Dead-lettered messages are also counted as deleted. Messages that keep
// failing retryably are moved to the queue's own dead-letter queue by SQS
// (maxReceiveCount), which the worker does not see: watch that queue's
// depth too. None of the series has labels: a message may carry objects
// of several tenants, and the per-tenant view is the Prometheus
// observer's.
type Worker struct {
	received, deleted, retried, dead prometheus.Counter
	receiveErrors                    prometheus.Counter
	inFlight                         prometheus.Gauge
	lag                              prometheus.Histogram
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
		received:      counter("messages_received_total", "Messages received from the queue."),
		deleted:       counter("messages_deleted_total", "Messages deleted: nothing in them needs a retry."),
		retried:       counter("messages_retried_total", "Messages made visible again for a retry."),
		dead:          counter("messages_dead_lettered_total", "Messages given up on and deleted: malformed, or failed permanently at some destination."),
		receiveErrors: counter("receive_errors_total", "Failed receives."),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: o.Namespace, Subsystem: "worker", Name: "messages_in_flight",
			Help: "Messages received and not yet processed."}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: o.Namespace, Subsystem: "worker", Name: "object_lag_seconds",
			Help: "Age of each object when its processing started: from the object's time.", Buckets: o.LagBuckets}),
	}
	for _, c := range []prometheus.Collector{w.received, w.deleted, w.retried, w.dead, w.receiveErrors, w.inFlight, w.lag} {
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
func (w *Worker) Processed(res logdelivery.MessageResult, started time.Time) {
	w.inFlight.Dec()
	switch {
	case res.Retry():
		w.retried.Inc()
	case res.Failed():
		w.dead.Inc()
		w.deleted.Inc()
	default:
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
