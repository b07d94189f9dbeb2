package selector_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/selector"
	"github.com/logdelivery/logdelivery/tenant"
)

// reference is the semantics of a match list, written as plainly as
// possible: a record is selected when the rules select it with its own
// namespace and application (falling back to its key's), and with its
// key's (falling back to its own).
func reference(rules []tenant.MatchRule, k keyparse.Key, r deliver.Record) bool {
	if len(rules) == 0 {
		return true
	}
	or := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return decide(rules, r, or(r.Namespace, k.Namespace), or(r.Application, k.Application)) &&
		decide(rules, r, or(k.Namespace, r.Namespace), or(k.Application, r.Application))
}

func decide(rules []tenant.MatchRule, r deliver.Record, namespace, app string) bool {
	for _, mr := range rules {
		c, selects := mr.Criteria()
		if holds(c, r, namespace, app) {
			return selects
		}
	}
	return false
}

func holds(c tenant.MatchCriteria, r deliver.Record, namespace, app string) bool {
	in := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	has := func(have, want map[string]string) bool {
		for k, v := range want {
			if got, ok := have[k]; !ok || got != v {
				return false
			}
		}
		return true
	}
	return has(r.Labels, c.Labels) && has(r.NamespaceLabels, c.NamespaceLabels) &&
		in(c.Namespaces, namespace) && in(c.ContainerNames, r.Container) &&
		in(c.Hosts, r.Host) && in(c.Applications, app)
}

// source chooses; *rand.Rand is one, and so is fuzz input.
type source interface{ IntN(n int) int }

// bytesSource reads choices from fuzz input, then zeros.
type bytesSource struct{ b []byte }

func (s *bytesSource) IntN(n int) int {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return int(c) % n
}

// gen builds rules, keys and records from a small vocabulary, so that
// they often meet; extra, when set, is one more value of every kind.
type gen struct {
	src   source
	extra string
}

func (g gen) pick(values ...string) string {
	if g.extra != "" {
		values = append(values, g.extra)
	}
	return values[g.src.IntN(len(values))]
}

var (
	namespaces = []string{"shop-prod", "payments", "kube-system"}
	apps       = []string{"checkout", "cart", "etcd"}
	containers = []string{"api", "worker"}
	hosts      = []string{"node-1", "node-2"}
	labelKeys  = []string{"app", "tier", "app.kubernetes.io/name"}
	labelVals  = []string{"checkout", "debug", "web", ""}
)

func (g gen) list(values []string) []string {
	n := g.src.IntN(3) // none (no criterion), one or two
	var out []string
	for range n {
		out = append(out, g.pick(values...))
	}
	return out
}

func (g gen) labels() map[string]string {
	n := g.src.IntN(3)
	if n == 0 {
		return nil
	}
	m := map[string]string{}
	for range n {
		m[g.pick(labelKeys...)] = g.pick(labelVals...)
	}
	return m
}

func (g gen) rules() []tenant.MatchRule {
	rules := make([]tenant.MatchRule, g.src.IntN(5))
	for i := range rules {
		c := &tenant.MatchCriteria{}
		// Most criteria are absent, so that rules hold often.
		if g.src.IntN(3) == 0 {
			c.Labels = g.labels()
		}
		if g.src.IntN(4) == 0 {
			c.NamespaceLabels = g.labels()
		}
		if g.src.IntN(3) == 0 {
			c.Namespaces = g.list(namespaces)
		}
		if g.src.IntN(4) == 0 {
			c.ContainerNames = g.list(containers)
		}
		if g.src.IntN(4) == 0 {
			c.Hosts = g.list(hosts)
		}
		if g.src.IntN(3) == 0 {
			c.Applications = g.list(apps)
		}
		if g.src.IntN(2) == 0 {
			rules[i].Select = c
		} else {
			rules[i].Exclude = c
		}
	}
	return rules
}

func (g gen) key() keyparse.Key {
	k := keyparse.Key{Cluster: "c1", Pod: "p", File: "f"}
	if g.src.IntN(5) > 0 { // sometimes a template without the namespace
		k.Namespace = g.pick(namespaces...)
	}
	if g.src.IntN(5) > 0 {
		k.Application = g.pick(apps...)
	}
	k.Tenant = k.Namespace
	return k
}

// record returns a record of an object with key k: usually with the key's
// namespace and application or none, sometimes with others.
func (g gen) record(k keyparse.Key) deliver.Record {
	r := deliver.Record{
		Container:       g.pick(append(containers, "")...),
		Host:            g.pick(append(hosts, "")...),
		Labels:          g.labels(),
		NamespaceLabels: g.labels(),
	}
	switch g.src.IntN(4) {
	case 0:
	case 1:
		r.Namespace = g.pick(namespaces...)
	default:
		r.Namespace = k.Namespace
	}
	switch g.src.IntN(4) {
	case 0:
	case 1:
		r.Application = g.pick(apps...)
	default:
		r.Application = k.Application
	}
	return r
}

// checkFlow checks Flow(rules) against the reference and Object against
// Record for one key and record, and that Fields names what Record reads.
func checkFlow(t *testing.T, rules []tenant.MatchRule, k keyparse.Key, r deliver.Record) {
	t.Helper()
	s := selector.Flow(rules)
	got := s.Record(k, &r)
	if want := reference(rules, k, r); got != want {
		t.Fatalf("rules %s\nkey %+v\nrecord %+v\nRecord = %v, want %v", describe(rules), k, r, got, want)
	}
	if d := s.Object(k); (d == selector.None && got) || (d == selector.All && !got) {
		t.Fatalf("rules %s\nkey %+v\nrecord %+v\nObject = %v, but Record = %v", describe(rules), k, r, d, got)
	}
	f := s.Fields()
	bare := r
	if !f.Has(deliver.FieldHost) {
		bare.Host = "x"
	}
	if !f.Has(deliver.FieldLabels) {
		bare.Labels = nil
	}
	if !f.Has(deliver.FieldNamespaceLabels) {
		bare.NamespaceLabels = map[string]string{"x": "y"}
	}
	if s.Record(k, &bare) != got {
		t.Fatalf("rules %s\nrecord %+v\nRecord depends on metadata Fields (%b) does not name", describe(rules), r, f)
	}
}

func describe(rules []tenant.MatchRule) string {
	var b strings.Builder
	for _, r := range rules {
		c, selects := r.Criteria()
		verb := "exclude"
		if selects {
			verb = "select"
		}
		fmt.Fprintf(&b, "\n  - %s: %+v", verb, c)
	}
	return b.String()
}

func TestFlowAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := gen{src: rng}
	decisions := map[selector.Decision]int{}
	for range 2000 {
		rules := g.rules()
		s := selector.Flow(rules)
		for range 5 {
			k := g.key()
			decisions[s.Object(k)]++
			for range 10 {
				checkFlow(t, rules, k, g.record(k))
			}
		}
	}
	// The generator must exercise every decision.
	for _, d := range []selector.Decision{selector.None, selector.All, selector.Some} {
		if decisions[d] < 500 {
			t.Errorf("only %d of %v decisions: %v", decisions[d], d, decisions)
		}
	}
}

func FuzzFlow(f *testing.F) {
	f.Add([]byte{}, "")
	f.Add([]byte{3, 0, 1, 2, 0, 1, 1, 0, 2, 1, 0, 3, 1, 1, 2, 0, 4, 1, 3, 2}, "")
	f.Add([]byte("rules, keys and records from bytes"), "shop-prod")
	f.Add([]byte{1, 0, 0, 0, 1, 0, 2, 3, 3, 3, 3}, "app.kubernetes.io/part-of")
	f.Fuzz(func(t *testing.T, choices []byte, extra string) {
		g := gen{src: &bytesSource{choices}, extra: extra}
		rules := g.rules()
		cfg := tenant.DeliveryConfig{TenantID: "t", Type: "file", Match: rules}
		if len(cfg.CommonProblems()) > 0 {
			return // extra is not a valid name where the rules use it
		}
		s, err := selector.ForConfig(cfg, nil)
		if err != nil {
			t.Fatalf("ForConfig of a valid config: %v", err)
		}
		for range 4 {
			k := g.key()
			checkFlow(t, rules, k, g.record(k))
			r := g.record(k)
			if d, got := s.Object(k), s.Record(k, &r); (d == selector.None && got) || (d == selector.All && !got) {
				t.Fatalf("ForConfig: Object = %v, but Record = %v", d, got)
			}
		}
	})
}
