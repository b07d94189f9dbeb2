// Package metrics records per-tenant delivery metrics from the Dispatcher's
// results: as CloudWatch Embedded Metric Format documents written to a log
// stream (EMF: no API calls, natural in Lambda), or as Prometheus metrics
// (for long-running workers).
//
// Both implement logdelivery.Observer; install one with
// logdelivery.Options.Observer, or several with Multi.
//
// # Cardinality
//
// Results are counted per tenant and destination kind: the kind of a
// config ("s3" for "s3:archive", see tenant.DeliveryConfig.Kind), never the
// name a tenant gave its config, which any caller of the config API
// chooses. The tenant label is bounded by the tenants; the kind label by
// the kinds metrics is told about (the Kinds options, by default the
// built-in "cloudwatch" and "s3"), plus "other" for every other kind (the
// config API accepts kinds no deliverer is registered for) and "none" for
// results about an object as a whole.
package metrics

import (
	"context"
	"time"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/tenant"
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

// Kind label values besides the known kinds.
const (
	kindNone  = "none"  // results about an object as a whole
	kindOther = "other" // a kind metrics was not told about
)

// kindSet is the destination kinds counted under their own name.
type kindSet map[string]bool

// newKindSet returns the set of kinds, by default the built-in ones.
func newKindSet(kinds []string) kindSet {
	if kinds == nil {
		kinds = []string{tenant.KindCloudWatch, tenant.KindS3}
	}
	set := kindSet{}
	for _, k := range kinds {
		set[k] = true
	}
	return set
}

// labels returns the tenant and destination kind a result is counted
// under. Results about an object as a whole (bad key, no config, store
// failure) count under kind "none", results of a kind not in the set under
// "other"; an unparsable key under tenant "unknown".
func (ks kindSet) labels(r logdelivery.Result) (tenantID, kind string) {
	tenantID = r.Key.Tenant
	if tenantID == "" {
		tenantID = "unknown"
	}
	kind = tenant.DeliveryConfig{Type: r.Destination}.Kind()
	switch {
	case r.Destination == "":
		kind = kindNone
	case !ks[kind]:
		kind = kindOther
	}
	return tenantID, kind
}

// kind returns the label of a destination kind: its name when it is in
// the set, "other" otherwise.
func (ks kindSet) kind(k string) string {
	if ks[k] {
		return k
	}
	return kindOther
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

// lag returns the age of the object when the delivery of a result started:
// from the object's time to the delivery's start. It reports false when no
// delivery was attempted or the object's time is unknown.
func lag(r logdelivery.Result) (time.Duration, bool) {
	if r.Outcome == logdelivery.Skipped || r.Object.Time.IsZero() || r.Started.IsZero() {
		return 0, false
	}
	d := r.Started.Sub(r.Object.Time)
	if d < 0 {
		return 0, false
	}
	return d, true
}
