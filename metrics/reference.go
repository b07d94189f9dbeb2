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
	"github.com/logdelivery/logdelivery/tenant"
)

// ReferenceNamespace is the CloudWatch namespace of the reference
// implementation's metrics (container/internal/aws/metrics.go of
// openshift-online/rosa-log-router).
const ReferenceNamespace = "HCPLF/LogForwarding"

// Metric names of the reference, after "LogCount/{cloudwatch|s3}/".
const (
	refSuccessfulDelivery = "successful_delivery"
	refFailedDelivery     = "failed_delivery"
	refDeliveryLatency    = "delivery_latency"
	refSuccessfulEvents   = "successful_events"
	refFailedEvents       = "failed_events"
)

// ReferenceEMFOptions configures a ReferenceEMF.
type ReferenceEMFOptions struct {
	// Namespace is the CloudWatch namespace. Default: ReferenceNamespace.
	Namespace string
	// Now returns the current time, the documents' timestamp.
	// Default: time.Now.
	Now func() time.Time
}

// ReferenceEMF writes the reference implementation's metrics as
// CloudWatch Embedded Metric Format documents, so that its dashboards and
// alarms keep working: namespace HCPLF/LogForwarding, the single
// dimension Tenant, unit Count, and the names
//
//	LogCount/cloudwatch/successful_events   events delivered, one value per delivery
//	LogCount/cloudwatch/failed_events       events refused or dropped (at least 1 for a failed delivery)
//	LogCount/{cloudwatch,s3}/successful_delivery   1 per delivery without failed events
//	LogCount/{cloudwatch,s3}/failed_delivery       1 per failed delivery
//	LogCount/{cloudwatch,s3}/delivery_latency      milliseconds from the object's time to the delivery's end
//
// Each metric carries one value per datum the reference would have sent
// with PutMetricData, so that sums, averages and sample counts agree.
// Only the reference's kinds are counted, by kind ("s3" for "s3:archive");
// skipped destinations and results about an object as a whole are not, as
// the reference sends nothing for them.
//
// The reference publishes with PutMetricData; EMF documents reach
// CloudWatch from Lambda's stdout, or through the CloudWatch agent (or
// another EMF-aware log shipper) from a container's. Flush writes one line
// per tenant and kind (more when a metric has over 100 values). It is
// safe for concurrent use.
type ReferenceEMF struct {
	w    io.Writer
	opts ReferenceEMFOptions

	mu     sync.Mutex
	values map[[2]string]map[string][]float64 // tenant and kind → metric → values
}

// NewReferenceEMF returns a ReferenceEMF writing to w.
func NewReferenceEMF(w io.Writer, optFns ...func(*ReferenceEMFOptions)) *ReferenceEMF {
	e := &ReferenceEMF{w: w, values: map[[2]string]map[string][]float64{}}
	for _, fn := range optFns {
		fn(&e.opts)
	}
	if e.opts.Namespace == "" {
		e.opts.Namespace = ReferenceNamespace
	}
	if e.opts.Now == nil {
		e.opts.Now = time.Now
	}
	return e
}

// ObserveResult records the data the reference would have sent for r.
func (e *ReferenceEMF) ObserveResult(_ context.Context, r logdelivery.Result) {
	kind := tenant.DeliveryConfig{Type: r.Destination}.Kind()
	if r.Key.Tenant == "" || r.Destination == "" || (kind != tenant.KindCloudWatch && kind != tenant.KindS3) {
		return
	}
	if r.Outcome != logdelivery.Delivered && r.Outcome != logdelivery.Failed {
		return
	}
	var data [][2]any // metric, value
	add := func(name string, v float64) { data = append(data, [2]any{name, v}) }
	if l, ok := latency(r); ok {
		add(refDeliveryLatency, float64(l.Milliseconds()))
	}
	failedEvents := r.Receipt.Rejected + r.Receipt.Dropped
	switch {
	case kind == tenant.KindS3 && r.Outcome == logdelivery.Delivered:
		add(refSuccessfulDelivery, 1)
	case kind == tenant.KindS3:
		add(refFailedDelivery, 1)
	case r.Outcome == logdelivery.Delivered:
		// PushCloudWatchDeliveryMetrics: both event counts, and a delivery
		// count when there were events.
		add(refSuccessfulEvents, float64(r.Receipt.Events))
		add(refFailedEvents, float64(failedEvents))
		switch {
		case r.Receipt.Events+failedEvents == 0:
		case failedEvents == 0:
			add(refSuccessfulDelivery, 1)
		default:
			add(refFailedDelivery, 1)
		}
	default:
		add(refSuccessfulEvents, float64(r.Receipt.Events))
		add(refFailedEvents, float64(max(failedEvents, 1)))
		add(refFailedDelivery, 1)
	}
	key := [2]string{r.Key.Tenant, kind}
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.values[key]
	if m == nil {
		m = map[string][]float64{}
		e.values[key] = m
	}
	for _, d := range data {
		name := d[0].(string)
		m[name] = append(m[name], d[1].(float64))
	}
}

// Flush writes the recorded data as EMF documents and forgets them.
func (e *ReferenceEMF) Flush() error {
	e.mu.Lock()
	values := e.values
	e.values = map[[2]string]map[string][]float64{}
	e.mu.Unlock()

	keys := make([][2]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	ts := e.opts.Now().UnixMilli()
	for _, k := range keys {
		metrics := values[k]
		names := make([]string, 0, len(metrics))
		for n := range metrics {
			names = append(names, n)
		}
		slices.Sort(names)
		for len(names) > 0 {
			doc := map[string]any{"Tenant": k[0]}
			var defs []emfMetric
			var rest []string
			for _, n := range names {
				vs := metrics[n]
				chunk := vs[:min(len(vs), emfMaxValues)]
				if len(vs) > len(chunk) {
					metrics[n] = vs[len(chunk):]
					rest = append(rest, n)
				}
				full := fmt.Sprintf("LogCount/%s/%s", k[1], n)
				defs = append(defs, emfMetric{Name: full, Unit: "Count"})
				if len(chunk) == 1 {
					doc[full] = chunk[0]
				} else {
					doc[full] = chunk
				}
			}
			names = rest
			doc["_aws"] = map[string]any{
				"Timestamp": ts,
				"CloudWatchMetrics": []map[string]any{{
					"Namespace":  e.opts.Namespace,
					"Dimensions": [][]string{{"Tenant"}},
					"Metrics":    defs,
				}},
			}
			line, err := json.Marshal(doc)
			if err != nil {
				return fmt.Errorf("metrics: %w", err)
			}
			if _, err := e.w.Write(append(line, '\n')); err != nil {
				return fmt.Errorf("metrics: writing EMF: %w", err)
			}
		}
	}
	return nil
}
