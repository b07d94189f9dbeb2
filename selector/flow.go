package selector

import (
	"cmp"
	"slices"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// Flow returns the selector of a match list (see the package documentation
// and tenant.MatchRule). No rules select everything. The rules should be
// valid (tenant.DeliveryConfig.Validate checks them); a rule that has not
// exactly one of select and exclude is taken as MatchRule.Criteria returns
// it: with both, its select; with neither, an exclude of every record.
// Flow copies what it needs: later changes to rules do not affect the
// selector.
func Flow(rules []tenant.MatchRule) Selector {
	f := &flow{rules: make([]rule, len(rules))}
	for i, mr := range rules {
		c, selects := mr.Criteria()
		r := rule{
			selects:         selects,
			labels:          labelsOf(c.Labels),
			namespaceLabels: labelsOf(c.NamespaceLabels),
			namespaces:      oneOfList(c.Namespaces),
			containers:      oneOfList(c.ContainerNames),
			hosts:           oneOfList(c.Hosts),
			applications:    oneOfList(c.Applications),
		}
		if r.labels != nil {
			f.fields |= deliver.FieldLabels
		}
		if r.namespaceLabels != nil {
			f.fields |= deliver.FieldNamespaceLabels
		}
		if r.hosts != nil {
			f.fields |= deliver.FieldHost
		}
		f.byNamespace = f.byNamespace || r.namespaces != nil
		f.byApplication = f.byApplication || r.applications != nil
		f.rules[i] = r
	}
	return f
}

type flow struct {
	rules  []rule
	fields deliver.Fields
	// Whether some rule has a namespaces or applications criterion: else
	// the views of a record (see views) cannot differ in their outcome.
	byNamespace, byApplication bool
}

// rule is a compiled MatchRule. A nil criterion is not given and holds for
// every record.
type rule struct {
	selects                                     bool
	labels, namespaceLabels                     []label
	namespaces, containers, hosts, applications oneOf
}

type label struct{ key, value string }

// labelsOf returns the labels of a criterion, sorted by key; nil for none.
func labelsOf(m map[string]string) []label {
	if len(m) == 0 {
		return nil
	}
	ls := make([]label, 0, len(m))
	for k, v := range m {
		ls = append(ls, label{k, v})
	}
	slices.SortFunc(ls, func(a, b label) int { return cmp.Compare(a.key, b.key) })
	return ls
}

// hasLabels reports whether have holds every one of want.
func hasLabels(have map[string]string, want []label) bool {
	for _, l := range want {
		if v, ok := have[l.key]; !ok || v != l.value {
			return false
		}
	}
	return true
}

// oneOf is a list criterion, held by the values it lists.
type oneOf map[string]struct{}

// oneOfList returns the criterion of a list; nil for an empty list.
func oneOfList(values []string) oneOf {
	if len(values) == 0 {
		return nil
	}
	s := make(oneOf, len(values))
	for _, v := range values {
		s[v] = struct{}{}
	}
	return s
}

// holds reports whether the criterion holds for v; a nil criterion holds
// for everything.
func (s oneOf) holds(v string) bool {
	if s == nil {
		return true
	}
	_, ok := s[v]
	return ok
}

// holds reports whether the rule's criteria hold for r, with the namespace
// and application given.
func (r *rule) holds(rec *deliver.Record, namespace, app string) bool {
	return r.namespaces.holds(namespace) &&
		r.applications.holds(app) &&
		r.containers.holds(rec.Container) &&
		r.hosts.holds(rec.Host) &&
		hasLabels(rec.Labels, r.labels) &&
		hasLabels(rec.NamespaceLabels, r.namespaceLabels)
}

// selects reports whether the rules select r with the namespace and
// application given: the first rule that holds decides.
func (f *flow) selects(r *deliver.Record, namespace, app string) bool {
	for i := range f.rules {
		if f.rules[i].holds(r, namespace, app) {
			return f.rules[i].selects
		}
	}
	return false
}

func (f *flow) Record(k keyparse.Key, r *deliver.Record) bool {
	if len(f.rules) == 0 {
		return true
	}
	ns, keyNS := views(r.Namespace, k.Namespace)
	app, keyApp := views(r.Application, k.Application)
	if !f.selects(r, ns, app) {
		return false
	}
	if (f.byNamespace && ns != keyNS) || (f.byApplication && app != keyApp) {
		// A record that disagrees with its key: see the package
		// documentation.
		return f.selects(r, keyNS, keyApp)
	}
	return true
}

func (f *flow) Fields() deliver.Fields { return f.fields }

// Object evaluates the rules in three-valued logic: a criterion on
// something the key does not tell may hold for some records and not for
// others.
func (f *flow) Object(k keyparse.Key) Decision {
	if len(f.rules) == 0 {
		return All
	}
	// The records as their key sees them: with its namespace and
	// application, when it names them.
	if canSelect, _ := f.outcomes(k.Namespace, k.Application); !canSelect {
		return None
	}
	// The records as they see themselves: any namespace and application.
	if _, canExclude := f.outcomes("", ""); !canExclude {
		return All
	}
	return Some
}

// outcomes reports whether the rules may select and may not select a
// record of the namespace and application given, "" for unknown.
func (f *flow) outcomes(namespace, app string) (canSelect, canExclude bool) {
	for i := range f.rules {
		r := &f.rules[i]
		t := r.holdsFor(namespace, app)
		if t == never {
			continue
		}
		if r.selects {
			canSelect = true
		} else {
			canExclude = true
		}
		if t == always {
			return canSelect, canExclude
		}
	}
	// The records no rule holds for.
	return canSelect, true
}

// truth is the value of a criterion for the records of an object.
type truth uint8

const (
	never  truth = iota // holds for no record
	always              // holds for every record
	maybe               // holds for some records, perhaps
)

// holdsFor tells whether the rule holds for the records of the namespace
// and application given, "" for unknown.
func (r *rule) holdsFor(namespace, app string) truth {
	ns, a := r.namespaces.holdsFor(namespace), r.applications.holdsFor(app)
	switch {
	case ns == never || a == never:
		return never
	case ns == maybe || a == maybe,
		r.labels != nil, r.namespaceLabels != nil, r.containers != nil, r.hosts != nil:
		return maybe
	}
	return always
}

func (s oneOf) holdsFor(v string) truth {
	switch {
	case s == nil:
		return always
	case v == "":
		return maybe
	case s.holds(v):
		return always
	}
	return never
}
