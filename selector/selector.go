// Package selector decides which objects and records a destination
// receives. A Selector first judges an object by its key alone, so that
// objects none of whose records are wanted are never downloaded, then, when
// the key cannot tell, each record.
//
// A delivery config selects in two ways, and a record must pass both:
// desired_logs and groups name applications (Applications), and the match
// list holds rules in the Logging operator's Flow model (Flow, documented
// in tenant.MatchRule). ForConfig combines them.
//
// # Match lists
//
// Rules are evaluated in order; the first rule whose criteria all hold for
// a record decides: select delivers it, exclude does not. When rules are
// given and none holds, the record is not delivered; no rules at all
// deliver everything. Every criterion given must hold; a list holds when
// one of its entries is the record's value; labels hold when the record
// has every listed label with the listed value. A criterion with an empty
// list is not given, and "select: {}" holds for every record.
//
// Everything but debug-tier pods (the final select takes the rest):
//
//	match:
//	  - exclude: {labels: {tier: debug}}
//	  - select: {}
//
// The api and worker containers of the payments pods, and everything of
// one namespace:
//
//	match:
//	  - select: {labels: {app: payments}, container_names: [api, worker]}
//	  - select: {namespaces: [payments-canary]}
//
// Two namespaces, without one node's logs:
//
//	match:
//	  - exclude: {hosts: [ip-10-0-1-7.ec2.internal]}
//	  - select: {namespaces: [shop-prod, shop-staging]}
//
// With desired_logs [checkout], only the checkout application of those
// namespaces is delivered: the match list applies on top of desired_logs
// and groups.
//
// # Objects and records
//
// Labels, namespace labels, container names and hosts are known only from
// records, but namespaces and applications are known from the object key
// too: the collector builds each object's key from the namespace and
// application of its records, so the records of an object normally carry
// the key's (or none, and then take the key's). Object relies on the key
// for them. So that this never loses a record, a record that carries a
// namespace or application other than its key's is delivered only when it
// is selected both with its own values and with its key's. The same holds
// for desired_logs and groups, as it always has: an object whose key names
// an application they do not select is skipped, and a record in an object
// they select is delivered only when they select its own application too.
// For the records that agree with their key, which is all of them in
// practice, the two ways are one and the rules apply exactly as
// documented.
//
// Hence Object and Record always agree: when Object returns None, Record
// returns false for every record of the object, and when it returns All,
// true. All is returned only when no record can change the outcome, since
// a record may carry any namespace or application: a selector whose rules
// depend on namespaces or applications returns Some for the objects it
// may select, and checking each record costs a few map lookups.
//
// Record reads hosts, labels and namespace labels, which the decoder
// fills only when asked: ask it for the selector's Fields. A record
// without them has no host and no labels.
package selector

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/groups"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// Decision is what a selector can tell about an object from its key alone.
type Decision uint8

// Decisions about an object.
const (
	None Decision = iota // no record is selected: skip the object, do not download it
	All                  // every record is selected: no record needs checking
	Some                 // records must be checked one by one with Record
)

// String returns "none", "all" or "some".
func (d Decision) String() string {
	switch d {
	case None:
		return "none"
	case All:
		return "all"
	case Some:
		return "some"
	}
	return fmt.Sprintf("Decision(%d)", uint8(d))
}

// A Selector decides which objects and records a destination receives.
// Selectors are immutable and safe for concurrent use.
type Selector interface {
	// Object tells from an object's key whether none, all or some of its
	// records are selected.
	Object(k keyparse.Key) Decision
	// Record reports whether r, a record of the object with key k, is
	// selected. It agrees with Object: it returns false for the records of
	// an object whose decision is None and true for those of an object
	// whose decision is All, so callers need it only for Some. It does not
	// allocate.
	Record(k keyparse.Key, r *deliver.Record) bool
	// Fields names the optional record metadata Record reads, which the
	// decoder must be asked for; records without it are judged as having
	// no host and no labels.
	Fields() deliver.Fields
}

// Applications returns the selector of desired_logs and groups: records of
// the applications f allows (see groups.Registry.Expand). A record's
// application is its own, else its key's; see the package documentation
// for records whose application differs from their key's.
func Applications(f groups.Filter) Selector { return applications{f} }

type applications struct{ f groups.Filter }

func (s applications) Object(k keyparse.Key) Decision {
	switch {
	case s.f.All():
		return All
	case k.Application != "" && !s.f.Allows(k.Application):
		return None
	}
	return Some // a record may carry another application
}

func (s applications) Record(k keyparse.Key, r *deliver.Record) bool {
	if s.f.All() {
		return true
	}
	own, key := views(r.Application, k.Application)
	return s.f.Allows(own) && (own == key || s.f.Allows(key))
}

func (applications) Fields() deliver.Fields { return 0 }

// views returns a record's value of a field known from both the record and
// its key: as the record sees it (its own, else the key's) and as the key
// sees it (the key's, else the record's).
func views(record, key string) (own, fromKey string) {
	switch {
	case record == "":
		return key, key
	case key == "":
		return record, record
	}
	return record, key
}

// And returns the selector of the records every one of sels selects. An
// object's decision is None when one of them decides None, All when all of
// them decide All, and Some otherwise. And() selects everything.
func And(sels ...Selector) Selector {
	if len(sels) == 1 {
		return sels[0]
	}
	a := and{sels: sels}
	for _, s := range sels {
		a.fields |= s.Fields()
	}
	return a
}

type and struct {
	sels   []Selector
	fields deliver.Fields
}

func (a and) Object(k keyparse.Key) Decision {
	d := All
	for _, s := range a.sels {
		switch s.Object(k) {
		case None:
			return None
		case Some:
			d = Some
		}
	}
	return d
}

func (a and) Record(k keyparse.Key, r *deliver.Record) bool {
	for _, s := range a.sels {
		if !s.Record(k, r) {
			return false
		}
	}
	return true
}

func (a and) Fields() deliver.Fields { return a.fields }

// ErrUnknownGroup is matched by errors.Is for the error of ForConfig when a
// config names an application group the registry does not know.
var ErrUnknownGroup = errors.New("unknown application group")

// builtin is the registry used when ForConfig is given none.
var builtin = sync.OnceValue(groups.NewRegistry)

// ForConfig returns the selector of a delivery config: the applications of
// its desired_logs and groups, expanded with reg (the built-in groups when
// reg is nil), and its match rules, both of which a record must pass.
//
// A group reg does not know is a permanent error wrapping ErrUnknownGroup
// that names it and lists the known groups; a match rule that has not
// exactly one of select and exclude is a permanent error too. Other
// problems are left to tenant.DeliveryConfig.Validate.
func ForConfig(cfg tenant.DeliveryConfig, reg *groups.Registry) (Selector, error) {
	if reg == nil {
		reg = builtin()
	}
	var unknown []string
	for _, g := range cfg.Groups {
		// Groups are never removed, so Expand below knows every group
		// found here.
		if _, ok := reg.Lookup(strings.TrimSpace(g)); !ok {
			unknown = append(unknown, fmt.Sprintf("%q", g))
		}
	}
	if len(unknown) > 0 {
		known := reg.Names()
		for i, name := range known {
			known[i] = fmt.Sprintf("%q", name)
		}
		return nil, fault.Permanent(fmt.Errorf("selector: delivery config %s/%s: %w: %s (known groups: %s)",
			cfg.TenantID, cfg.Type, ErrUnknownGroup, strings.Join(unknown, ", "), strings.Join(known, ", ")))
	}
	for i, r := range cfg.Match {
		if (r.Select == nil) == (r.Exclude == nil) {
			return nil, fault.Permanent(fmt.Errorf("selector: delivery config %s/%s: match[%d] must have exactly one of select and exclude",
				cfg.TenantID, cfg.Type, i))
		}
	}
	filter, _ := reg.Expand(cfg.DesiredLogs, cfg.Groups)
	if len(cfg.Match) == 0 {
		return Applications(filter), nil
	}
	return And(Applications(filter), Flow(cfg.Match)), nil
}
