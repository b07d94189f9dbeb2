// Package metrics records per-tenant delivery metrics from the Dispatcher's
// results: as CloudWatch Embedded Metric Format documents written to a log
// stream (EMF: no API calls, natural in Lambda), or as Prometheus metrics
// (for long-running workers).
//
// Both implement logdelivery.Observer; install one with
// logdelivery.Options.Observer, or several with Multi.
package metrics

import (
	"context"
	"time"

	"github.com/logdelivery/logdelivery"
)

// Multi returns an Observer that passes every result to each of observers.
func Multi(observers ...logdelivery.Observer) logdelivery.Observer {
	return multi(observers)
}

type multi []logdelivery.Observer

func (m multi) ObserveResult(ctx context.Context, r logdelivery.Result) {
	for _, o := range m {
		o.ObserveResult(ctx, r)
	}
}

// labels returns the tenant and delivery type a result is counted under.
// Results about an object as a whole (bad key, no config, store failure)
// count under type "none"; an unparsable key under tenant "unknown".
func labels(r logdelivery.Result) (tenantID, deliveryType string) {
	tenantID = r.Key.Tenant
	if tenantID == "" {
		tenantID = "unknown"
	}
	deliveryType = r.Destination
	if deliveryType == "" {
		deliveryType = "none"
	}
	return tenantID, deliveryType
}

// latency returns the end-to-end latency of a delivered result: from the
// object's time to the end of its delivery. It reports false when the
// result was not delivered or the object's time is unknown.
func latency(r logdelivery.Result) (time.Duration, bool) {
	if r.Outcome != logdelivery.Delivered || r.Object.Time.IsZero() || r.Started.IsZero() {
		return 0, false
	}
	d := r.Started.Add(r.Duration).Sub(r.Object.Time)
	if d < 0 {
		return 0, false
	}
	return d, true
}
