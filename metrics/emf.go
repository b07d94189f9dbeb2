package metrics

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/logdelivery/logdelivery"
)

// EMFOptions configures an EMF observer.
type EMFOptions struct {
	// Namespace is the CloudWatch metrics namespace. Default: "LogDelivery".
	Namespace string
	// Now returns the current time, the documents' timestamp.
	// Default: time.Now.
	Now func() time.Time
	// Kinds are the destination kinds counted under their own name: those
	// the Dispatcher has deliverers for. Results of any other kind count
	// under "other". Default (nil): "cloudwatch" and "s3".
	Kinds []string
	// Reference also writes the reference implementation's metrics
	// (ReferenceEMF: namespace HCPLF/LogForwarding, dimension Tenant), so
	// that its dashboards and alarms keep working. Default: false.
	Reference bool
}

// EMF aggregates results per tenant and destination kind and writes them as
// CloudWatch Embedded Metric Format documents, one JSON line per tenant and
// kind, on Flush. In Lambda, write to stdout and Flush at the end of every
// invocation. It is safe for concurrent use.
//
// The DeliveryType dimension holds the destination kind ("s3" for a config
// of type "s3:archive"; see the package documentation on cardinality).
// Metrics (dimensions {Tenant, DeliveryType} and {DeliveryType}):
// Delivered, Skipped, Failed, FailedRetryable (Count); EventsDelivered,
// EventsRejected, EventsDropped, EventsTruncated (Count); Bytes (Bytes);
// Latency (Milliseconds, object time to delivery, one value per delivery);
// Lag (Milliseconds, object time to the start of its delivery, one value
// per delivery attempted: the processing backlog, the signal of the SQS
// worker's logdelivery_worker_object_lag_seconds).
//
// EMF is also a limits.Observer and a reload observer (see Waited,
// Limited and Reloaded): EventsLimited, BytesLimited (events and bytes
// that waited for their tenant's rate), LimitWait (Milliseconds, the time
// deliveries waited for their limits) and DeliveriesLimited (deliveries
// stopped by a limit) in the same documents, written when not zero; and
// per watched file, dimension {Source}, ConfigReloadsApplied and
// ConfigReloadsRefused.
type EMF struct {
	w     io.Writer
	opts  EMFOptions
	kinds kindSet

	ref *ReferenceEMF // with EMFOptions.Reference

	mu      sync.Mutex
	agg     map[[2]string]*emfAggregate // by tenant and kind
	reloads map[string]*[2]int64        // by source: applied, refused
}

type emfAggregate struct {
	delivered, skipped, failed, retryable   int64
	events, rejected, dropped, truncated, b int64
	latencies, lags                         []float64
	// what the tenant's limits held back (see limits.go)
	limitedEvents, limitedBytes, limitedDeliveries int64
	limitWait                                      time.Duration
}

// NewEMF returns an EMF observer writing to w.
func NewEMF(w io.Writer, optFns ...func(*EMFOptions)) *EMF {
	e := &EMF{w: w, agg: map[[2]string]*emfAggregate{}}
	for _, fn := range optFns {
		fn(&e.opts)
	}
	if e.opts.Namespace == "" {
		e.opts.Namespace = "LogDelivery"
	}
	if e.opts.Now == nil {
		e.opts.Now = time.Now
	}
	e.kinds = newKindSet(e.opts.Kinds)
	if e.opts.Reference {
		e.ref = NewReferenceEMF(w, func(o *ReferenceEMFOptions) { o.Now = e.opts.Now })
	}
	return e
}

// ObserveResult adds r to the aggregates.
func (e *EMF) ObserveResult(ctx context.Context, r logdelivery.Result) {
	if e.ref != nil {
		e.ref.ObserveResult(ctx, r)
	}
	tenantID, kind := e.kinds.labels(r)
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.aggregate(tenantID, kind)
	switch r.Outcome {
	case logdelivery.Delivered:
		a.delivered++
	case logdelivery.Skipped:
		a.skipped++
	case logdelivery.Failed:
		a.failed++
		if r.Retryable() {
			a.retryable++
		}
	}
	a.events += r.Receipt.Events
	a.rejected += r.Receipt.Rejected
	a.dropped += r.Receipt.Dropped
	a.truncated += r.Receipt.Truncated
	a.b += r.Receipt.Bytes
	if l, ok := latency(r); ok {
		a.latencies = append(a.latencies, float64(l.Microseconds())/1000)
	}
	if l, ok := lag(r); ok {
		a.lags = append(a.lags, float64(l.Microseconds())/1000)
	}
}

// emfMaxValues is the most values one EMF metric may carry.
const emfMaxValues = 100

// Flush writes the aggregates as EMF documents and resets them. Tenants
// with more than 100 latency or lag values get several documents; counts
// are written once.
func (e *EMF) Flush() error {
	e.mu.Lock()
	agg, reloads := e.agg, e.reloads
	e.agg, e.reloads = map[[2]string]*emfAggregate{}, nil
	e.mu.Unlock()

	keys := make([][2]string, 0, len(agg))
	for k := range agg {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	ts := e.opts.Now().UnixMilli()
	for _, k := range keys {
		a := agg[k]
		lat, lags := a.latencies, a.lags
		for first := true; first || len(lat) > 0 || len(lags) > 0; first = false {
			latChunk := lat[:min(len(lat), emfMaxValues)]
			lat = lat[len(latChunk):]
			lagChunk := lags[:min(len(lags), emfMaxValues)]
			lags = lags[len(lagChunk):]
			doc := e.document(ts, k[0], k[1], a, latChunk, lagChunk, first)
			line, err := json.Marshal(doc)
			if err != nil {
				return fmt.Errorf("metrics: %w", err)
			}
			if _, err := e.w.Write(append(line, '\n')); err != nil {
				return fmt.Errorf("metrics: writing EMF: %w", err)
			}
		}
	}
	if err := e.flushReloads(ts, reloads); err != nil {
		return err
	}
	if e.ref != nil {
		return e.ref.Flush()
	}
	return nil
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

func (e *EMF) document(ts int64, tenantID, kind string, a *emfAggregate, latencies, lags []float64, withCounts bool) map[string]any {
	doc := map[string]any{"Tenant": tenantID, "DeliveryType": kind}
	var defs []emfMetric
	if withCounts {
		for _, m := range []struct {
			name, unit string
			v          int64
		}{
			{"Delivered", "Count", a.delivered},
			{"Skipped", "Count", a.skipped},
			{"Failed", "Count", a.failed},
			{"FailedRetryable", "Count", a.retryable},
			{"EventsDelivered", "Count", a.events},
			{"EventsRejected", "Count", a.rejected},
			{"EventsDropped", "Count", a.dropped},
			{"EventsTruncated", "Count", a.truncated},
			{"Bytes", "Bytes", a.b},
		} {
			defs = append(defs, emfMetric{m.name, m.unit})
			doc[m.name] = m.v
		}
	}
	if withCounts {
		defs = append(defs, limitMetrics(doc, a)...)
	}
	if len(latencies) > 0 {
		defs = append(defs, emfMetric{"Latency", "Milliseconds"})
		doc["Latency"] = latencies
	}
	if len(lags) > 0 {
		defs = append(defs, emfMetric{"Lag", "Milliseconds"})
		doc["Lag"] = lags
	}
	doc["_aws"] = map[string]any{
		"Timestamp": ts,
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  e.opts.Namespace,
			"Dimensions": [][]string{{"Tenant", "DeliveryType"}, {"DeliveryType"}},
			"Metrics":    defs,
		}},
	}
	return doc
}
