package logdelivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/groups"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/ledger"
	"github.com/logdelivery/logdelivery/selector"
	"github.com/logdelivery/logdelivery/tenant"
)

// Decisions of a DestinationPlan.
const (
	PlanDeliver = "deliver" // the destination would receive the object
	PlanSkip    = "skip"    // it would not, for Reason
	PlanFail    = "fail"    // the delivery would fail without being tried, for Reason
)

// Explanation is what Dispatch would do with an object, as Explain works
// it out without delivering or downloading anything.
type Explanation struct {
	Object Object `json:"object"`
	// Key is the object key parsed with the Dispatcher's template; zero
	// when it does not parse.
	Key keyparse.Key `json:"key"`
	// Error, when set, stops the object before any destination: a key
	// that does not parse, a config store or identity store that fails, a
	// tenant without an identity. Retryable says whether Dispatch would
	// retry it.
	Error     string `json:"error,omitempty"`
	Retryable bool   `json:"retryable,omitempty"`
	// Identity is the tenant's identity, without its ExternalId; nil
	// without identities (the seed's compatibility mode).
	Identity *ExplainedIdentity `json:"identity,omitempty"`
	// Unusable are the tenant's items the store could not decode: each
	// fails permanently.
	Unusable []string `json:"unusable,omitempty"`
	// Destinations are the tenant's configs, by type, and what each would
	// do with the object.
	Destinations []DestinationPlan `json:"destinations"`
}

// ExplainedIdentity is a tenant's identity as Explain shows it: the
// ExternalId is never shown, only where it comes from.
type ExplainedIdentity struct {
	Accounts []string `json:"accounts"`
	// ExternalID is "issued" (the identity carries one) or "derived" (from
	// the operator's key).
	ExternalID string `json:"external_id"`
}

// DestinationPlan is what one config would do with the object.
type DestinationPlan struct {
	Type     string                `json:"type"`
	Kind     string                `json:"kind"`
	Config   tenant.DeliveryConfig `json:"config"`
	Decision string                `json:"decision"`         // PlanDeliver, PlanSkip or PlanFail
	Reason   string                `json:"reason,omitempty"` // why it is skipped or failed, or how records are selected
	// Records says which of the object's records would be sent: "all", or
	// "some" (match rules decide record by record); empty for kinds that
	// copy the object whole and for destinations that receive nothing.
	Records string `json:"records,omitempty"`
	// Retryable says, for PlanFail, whether Dispatch would retry.
	Retryable bool `json:"retryable,omitempty"`
}

// ExplainOptions configures Explain.
type ExplainOptions struct {
	// Check asks the deliverer of each destination that would receive the
	// object whether it can reach it (deliver.Checker: the tenant's role
	// assumed, …), writing nothing; one that cannot is PlanFail. Default:
	// false, nothing is asked of the destinations.
	Check bool
}

// Explain works out what Dispatch would do with obj and why, reading the
// tenant's configs and identity (and the ledger, when obj names a bucket)
// but delivering nothing and downloading nothing: the parsed key, the
// tenant, and for each of its configs whether it would receive the object
// or why not — disabled, expired, invalid, bound outside the tenant's
// accounts, no deliverer for its kind, its application not among
// desired_logs and groups, excluded by its match rules, delivered before
// according to the ledger — and, with ExplainOptions.Check, whether each
// destination that would receive it can be reached.
func (d *Dispatcher) Explain(ctx context.Context, obj Object, optFns ...func(*ExplainOptions)) Explanation {
	var opts ExplainOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	e := Explanation{Object: obj, Destinations: []DestinationPlan{}}
	key, err := d.opts.Template.Parse(obj.Key)
	if err != nil {
		e.Error = err.Error()
		return e
	}
	e.Key = key
	configs, err := d.lookup(ctx, key.Tenant)
	var itemsErr *tenant.ItemsError
	if err != nil && !errors.As(err, &itemsErr) {
		e.Error, e.Retryable = (&storeError{tenantID: key.Tenant, err: err}).Error(), true
		return e
	}
	if itemsErr != nil {
		for _, it := range itemsErr.Items {
			e.Unusable = append(e.Unusable, it.Error())
		}
	}
	id, err := d.identity(ctx, key.Tenant)
	if err != nil {
		e.Error, e.Retryable = err.Error(), fault.IsRetryable(err)
		return e
	}
	if id != nil {
		e.Identity = &ExplainedIdentity{Accounts: id.Accounts, ExternalID: "derived"}
		if id.ExternalID != "" && (d.opts.ExternalIDs == nil || id.ExternalID != d.opts.ExternalIDs(key.Tenant)) {
			e.Identity.ExternalID = "issued"
		}
	}
	reg := d.kinds.Groups()
	if reg == nil {
		reg = groups.NewRegistry()
	}
	now := d.opts.Now()
	for _, cfg := range configs {
		if cfg.TenantID == "" {
			cfg.TenantID = key.Tenant
		}
		p := d.plan(cfg, id, now)
		dp := DestinationPlan{Type: cfg.Type, Kind: cfg.Kind(), Config: cfg}
		switch {
		case p.err != nil:
			dp.Decision, dp.Reason, dp.Retryable = PlanFail, p.err.Error(), fault.IsRetryable(p.err)
		case p.reason != "":
			dp.Decision, dp.Reason = PlanSkip, p.reason
		default:
			dp.Decision, dp.Reason, dp.Records = explainSelection(cfg, p, key, reg)
			if dp.Decision == PlanDeliver && d.opts.Ledger != nil && obj.Bucket != "" {
				lkey := d.ledgerKey(job{o: indexed{obj: obj, key: key}, plan: &p})
				switch entry, ok, err := d.ledgerGet(ctx, lkey); {
				case err != nil:
					dp.Decision, dp.Reason = PlanFail, fmt.Sprintf("reading the ledger of %s: %v", lkey, err)
				case ok && entry.State == ledger.Done:
					dp.Decision, dp.Reason, dp.Records = PlanSkip, ReasonDelivered, ""
				case ok:
					dp.Reason += fmt.Sprintf("; resumes from the checkpoint saved %s", entry.Updated.Format("2006-01-02T15:04:05Z07:00"))
				}
			}
			if checker, ok := p.dl.(deliver.Checker); ok && opts.Check && dp.Decision == PlanDeliver {
				dl := &deliver.Delivery{Object: obj.deliverObject(), Key: key, Config: cfg, Settings: p.settings, Identity: p.identity}
				if err := checker.Check(ctx, dl); err != nil {
					dp.Decision, dp.Reason, dp.Retryable = PlanFail, "cannot reach it: "+err.Error(), fault.IsRetryable(err)
				}
			}
		}
		e.Destinations = append(e.Destinations, dp)
	}
	slices.SortStableFunc(e.Destinations, func(a, b DestinationPlan) int { return strings.Compare(a.Type, b.Type) })
	return e
}

// explainSelection says whether a valid, enabled config selects the
// object, and why.
func explainSelection(cfg tenant.DeliveryConfig, p plan, key keyparse.Key, reg *groups.Registry) (decision, reason, records string) {
	filter, _ := reg.Expand(cfg.DesiredLogs, cfg.Groups)
	switch p.sel.Object(key) {
	case selector.None:
		if !filter.Allows(key.Application) {
			return PlanSkip, fmt.Sprintf("%s: application %q is not among desired_logs and groups (%s)",
				ReasonFiltered, key.Application, listed(filter.Apps(), 10)), ""
		}
		return PlanSkip, fmt.Sprintf("%s: the match rules select no record of namespace %q, application %q",
			ReasonFiltered, key.Namespace, key.Application), ""
	case selector.Some:
		decision, records = PlanDeliver, "some"
		reason = "the match rules decide record by record (labels, containers or hosts)"
		if len(cfg.Match) == 0 {
			reason = fmt.Sprintf("application %q is among desired_logs and groups", key.Application)
			if p.records {
				reason += " (a record naming another application is left out)"
			}
		}
	default:
		decision, reason, records = PlanDeliver, "selected", "all"
		if !filter.All() {
			reason = fmt.Sprintf("application %q is among desired_logs and groups", key.Application)
		}
	}
	if !p.records {
		records = "" // copied whole
		reason += "; the object is copied whole"
	}
	return decision, reason, records
}

// listed joins at most n names, saying how many more there are.
func listed(names []string, n int) string {
	if len(names) == 0 {
		return "none"
	}
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// String renders the explanation for people, one fact per line.
func (e Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "object:  s3://%s/%s\n", e.Object.Bucket, e.Object.Key)
	if e.Key == (keyparse.Key{}) {
		fmt.Fprintf(&b, "error:   %s\n", e.Error)
		return b.String()
	}
	fmt.Fprintf(&b, "key:     cluster=%s namespace=%s application=%s pod=%s file=%s\n",
		e.Key.Cluster, e.Key.Namespace, e.Key.Application, e.Key.Pod, e.Key.File)
	fmt.Fprintf(&b, "tenant:  %s\n", e.Key.Tenant)
	if e.Identity != nil {
		fmt.Fprintf(&b, "identity: accounts %s, ExternalId %s\n", strings.Join(e.Identity.Accounts, ", "), e.Identity.ExternalID)
	}
	if e.Error != "" {
		what := "permanent"
		if e.Retryable {
			what = "retryable"
		}
		fmt.Fprintf(&b, "error (%s): %s\n", what, e.Error)
		return b.String()
	}
	for _, u := range e.Unusable {
		fmt.Fprintf(&b, "unusable item: %s\n", u)
	}
	if len(e.Destinations) == 0 && len(e.Unusable) == 0 {
		fmt.Fprintf(&b, "skip:    %s\n", ReasonNoConfig)
	}
	for _, dp := range e.Destinations {
		records := ""
		if dp.Records != "" {
			records = " [records: " + dp.Records + "]"
		}
		fmt.Fprintf(&b, "%-8s %s%s: %s\n", dp.Decision+":", dp.Type, records, dp.Reason)
	}
	return b.String()
}
