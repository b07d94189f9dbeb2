package selector_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/selector"
	"github.com/logdelivery/logdelivery/tenant"
)

func sel(c tenant.MatchCriteria) tenant.MatchRule  { return tenant.MatchRule{Select: &c} }
func excl(c tenant.MatchCriteria) tenant.MatchRule { return tenant.MatchRule{Exclude: &c} }

type labels = map[string]string

// shopKey is the key of an object of the checkout application in the
// shop-prod namespace.
var shopKey = keyparse.Key{Cluster: "c1", Namespace: "shop-prod", Tenant: "shop-prod", Application: "checkout", Pod: "checkout-0", File: "1709294460.json"}

func TestFlowRecord(t *testing.T) {
	api := deliver.Record{Namespace: "shop-prod", Container: "api", Application: "checkout", Host: "node-1",
		Labels: labels{"app": "checkout", "tier": "web", "app.kubernetes.io/name": "checkout"}, NamespaceLabels: labels{"env": "prod"}}
	debug := api
	debug.Labels = labels{"app": "checkout", "tier": "debug"}
	worker := api
	worker.Container = "worker"
	noMeta := deliver.Record{} // a plain-text line: everything from the key
	tests := []struct {
		name  string
		rules []tenant.MatchRule
		key   keyparse.Key
		rec   deliver.Record
		want  bool
	}{
		{"no rules", nil, shopKey, api, true},
		{"no rules, no metadata", nil, shopKey, noMeta, true},
		{"select {}", []tenant.MatchRule{sel(tenant.MatchCriteria{})}, shopKey, noMeta, true},
		{"exclude {}", []tenant.MatchRule{excl(tenant.MatchCriteria{})}, shopKey, api, false},
		{"empty lists are not criteria", []tenant.MatchRule{sel(tenant.MatchCriteria{Namespaces: []string{}, Labels: labels{}})}, shopKey, api, true},

		{"exclude debug then select {}: debug", []tenant.MatchRule{excl(tenant.MatchCriteria{Labels: labels{"tier": "debug"}}), sel(tenant.MatchCriteria{})}, shopKey, debug, false},
		{"exclude debug then select {}: the rest", []tenant.MatchRule{excl(tenant.MatchCriteria{Labels: labels{"tier": "debug"}}), sel(tenant.MatchCriteria{})}, shopKey, api, true},
		{"exclude debug then select {}: no labels", []tenant.MatchRule{excl(tenant.MatchCriteria{Labels: labels{"tier": "debug"}}), sel(tenant.MatchCriteria{})}, shopKey, noMeta, true},
		{"first match wins: select before exclude", []tenant.MatchRule{sel(tenant.MatchCriteria{Labels: labels{"app": "checkout"}}), excl(tenant.MatchCriteria{Labels: labels{"app": "checkout"}})}, shopKey, api, true},
		{"first match wins: exclude before select", []tenant.MatchRule{excl(tenant.MatchCriteria{ContainerNames: []string{"api"}}), sel(tenant.MatchCriteria{Labels: labels{"app": "checkout"}})}, shopKey, api, false},
		{"rules but none holds", []tenant.MatchRule{sel(tenant.MatchCriteria{Labels: labels{"app": "payments"}}), sel(tenant.MatchCriteria{Namespaces: []string{"payments"}})}, shopKey, api, false},
		{"only excludes, none holds", []tenant.MatchRule{excl(tenant.MatchCriteria{Labels: labels{"tier": "debug"}})}, shopKey, api, false},

		{"criteria and: all hold", []tenant.MatchRule{sel(tenant.MatchCriteria{Labels: labels{"app": "checkout"}, ContainerNames: []string{"api"}, Hosts: []string{"node-1"}, Namespaces: []string{"shop-prod"}, Applications: []string{"checkout"}, NamespaceLabels: labels{"env": "prod"}})}, shopKey, api, true},
		{"criteria and: one fails", []tenant.MatchRule{sel(tenant.MatchCriteria{Labels: labels{"app": "checkout"}, ContainerNames: []string{"api"}})}, shopKey, worker, false},
		{"list or", []tenant.MatchRule{sel(tenant.MatchCriteria{ContainerNames: []string{"api", "worker"}})}, shopKey, worker, true},
		{"list or: none", []tenant.MatchRule{sel(tenant.MatchCriteria{ContainerNames: []string{"web", "cron"}})}, shopKey, worker, false},

		{"labels subset", []tenant.MatchRule{sel(tenant.MatchCriteria{Labels: labels{"app": "checkout", "tier": "web"}})}, shopKey, api, true},
		{"labels: flattened key", []tenant.MatchRule{sel(tenant.MatchCriteria{Labels: labels{"app.kubernetes.io/name": "checkout"}})}, shopKey, api, true},
		{"labels: one missing", []tenant.MatchRule{sel(tenant.MatchCriteria{Labels: labels{"app": "checkout", "team": "x"}})}, shopKey, api, false},
		{"labels: other value", []tenant.MatchRule{sel(tenant.MatchCriteria{Labels: labels{"tier": "db"}})}, shopKey, api, false},
		{"labels: empty value needs the label", []tenant.MatchRule{sel(tenant.MatchCriteria{Labels: labels{"canary": ""}})}, shopKey, api, false},
		{"labels: empty value", []tenant.MatchRule{sel(tenant.MatchCriteria{Labels: labels{"canary": ""}})}, shopKey, deliver.Record{Labels: labels{"canary": ""}}, true},
		{"labels: record without labels", []tenant.MatchRule{sel(tenant.MatchCriteria{Labels: labels{"app": "checkout"}})}, shopKey, noMeta, false},
		{"namespace labels", []tenant.MatchRule{sel(tenant.MatchCriteria{NamespaceLabels: labels{"env": "prod"}})}, shopKey, api, true},
		{"namespace labels are not pod labels", []tenant.MatchRule{sel(tenant.MatchCriteria{NamespaceLabels: labels{"app": "checkout"}})}, shopKey, api, false},
		{"hosts", []tenant.MatchRule{sel(tenant.MatchCriteria{Hosts: []string{"node-2", "node-1"}})}, shopKey, api, true},
		{"hosts: no host decoded", []tenant.MatchRule{sel(tenant.MatchCriteria{Hosts: []string{"node-1"}})}, shopKey, noMeta, false},

		{"namespace from the record", []tenant.MatchRule{sel(tenant.MatchCriteria{Namespaces: []string{"shop-prod"}})}, shopKey, api, true},
		{"namespace from the key", []tenant.MatchRule{sel(tenant.MatchCriteria{Namespaces: []string{"shop-prod"}})}, shopKey, noMeta, true},
		{"namespace from the key: not selected", []tenant.MatchRule{sel(tenant.MatchCriteria{Namespaces: []string{"payments"}})}, shopKey, noMeta, false},
		{"namespace from the record, key without one", []tenant.MatchRule{sel(tenant.MatchCriteria{Namespaces: []string{"shop-prod"}})}, keyparse.Key{Tenant: "t"}, api, true},
		{"namespace: neither record nor key", []tenant.MatchRule{sel(tenant.MatchCriteria{Namespaces: []string{"shop-prod"}})}, keyparse.Key{Tenant: "t"}, noMeta, false},
		{"application from the key", []tenant.MatchRule{sel(tenant.MatchCriteria{Applications: []string{"checkout"}})}, shopKey, noMeta, true},
		{"application from the record, key without one", []tenant.MatchRule{sel(tenant.MatchCriteria{Applications: []string{"checkout"}})}, keyparse.Key{Namespace: "shop-prod"}, api, true},
		{"application: exclude by the key's", []tenant.MatchRule{excl(tenant.MatchCriteria{Applications: []string{"checkout"}}), sel(tenant.MatchCriteria{})}, shopKey, noMeta, false},

		// Records that disagree with their key must be selected both ways.
		{"other namespace than the key's: selected only by its own", []tenant.MatchRule{sel(tenant.MatchCriteria{Namespaces: []string{"payments"}})}, shopKey, deliver.Record{Namespace: "payments"}, false},
		{"other namespace than the key's: selected only by the key's", []tenant.MatchRule{sel(tenant.MatchCriteria{Namespaces: []string{"shop-prod"}})}, shopKey, deliver.Record{Namespace: "payments"}, false},
		{"other namespace than the key's: selected both ways", []tenant.MatchRule{sel(tenant.MatchCriteria{Namespaces: []string{"shop-prod", "payments"}})}, shopKey, deliver.Record{Namespace: "payments"}, true},
		{"other namespace than the key's: excluded by its own", []tenant.MatchRule{excl(tenant.MatchCriteria{Namespaces: []string{"payments"}}), sel(tenant.MatchCriteria{})}, shopKey, deliver.Record{Namespace: "payments"}, false},
		{"other application than the key's: selected both ways", []tenant.MatchRule{sel(tenant.MatchCriteria{Applications: []string{"checkout"}}), sel(tenant.MatchCriteria{Applications: []string{"cart"}})}, shopKey, deliver.Record{Application: "cart"}, true},
		{"other application than the key's: selected only by the key's", []tenant.MatchRule{sel(tenant.MatchCriteria{Applications: []string{"checkout"}})}, shopKey, deliver.Record{Application: "cart"}, false},
		{"other namespace, rules not by namespace", []tenant.MatchRule{sel(tenant.MatchCriteria{ContainerNames: []string{"api"}})}, shopKey, deliver.Record{Namespace: "payments", Container: "api"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := selector.Flow(tt.rules)
			assert.Equal(t, tt.want, s.Record(tt.key, &tt.rec), "Record")
			assert.Equal(t, tt.want, reference(tt.rules, tt.key, tt.rec), "reference")
			checkAgree(t, s, tt.key, &tt.rec)
		})
	}
}

// checkAgree fails t when s's decision for k contradicts its Record for r.
func checkAgree(t testing.TB, s selector.Selector, k keyparse.Key, r *deliver.Record) {
	t.Helper()
	d := s.Object(k)
	got := s.Record(k, r)
	if (d == selector.None && got) || (d == selector.All && !got) {
		t.Fatalf("Object(%+v) = %v, but Record(%+v) = %v", k, d, *r, got)
	}
}

func TestFlowObject(t *testing.T) {
	shop := tenant.MatchCriteria{Namespaces: []string{"shop-prod"}}
	debug := tenant.MatchCriteria{Labels: labels{"tier": "debug"}}
	noNamespace := keyparse.Key{Tenant: "t", Application: "checkout"}
	otherNamespace := keyparse.Key{Namespace: "payments", Application: "checkout"}
	tests := []struct {
		name  string
		rules []tenant.MatchRule
		key   keyparse.Key
		want  selector.Decision
	}{
		{"no rules", nil, shopKey, selector.All},
		{"select {}", []tenant.MatchRule{sel(tenant.MatchCriteria{})}, shopKey, selector.All},
		{"exclude {}", []tenant.MatchRule{excl(tenant.MatchCriteria{})}, shopKey, selector.None},
		{"only excludes", []tenant.MatchRule{excl(debug), excl(shop)}, shopKey, selector.None},
		{"exclude {} before a select", []tenant.MatchRule{excl(tenant.MatchCriteria{}), sel(tenant.MatchCriteria{})}, shopKey, selector.None},
		{"select {} before anything", []tenant.MatchRule{sel(tenant.MatchCriteria{}), excl(debug)}, shopKey, selector.All},
		{"a select that may hold, then select {}", []tenant.MatchRule{sel(shop), sel(debug), sel(tenant.MatchCriteria{})}, otherNamespace, selector.All},

		{"namespace selected by the key", []tenant.MatchRule{sel(shop)}, shopKey, selector.Some},
		{"namespace not selected by the key", []tenant.MatchRule{sel(shop)}, otherNamespace, selector.None},
		{"namespace: key without one", []tenant.MatchRule{sel(shop)}, noNamespace, selector.Some},
		{"namespace excluded by the key", []tenant.MatchRule{excl(shop), sel(tenant.MatchCriteria{})}, shopKey, selector.None},
		{"namespace not excluded by the key", []tenant.MatchRule{excl(shop), sel(tenant.MatchCriteria{})}, otherNamespace, selector.Some},
		{"application not selected by the key", []tenant.MatchRule{sel(tenant.MatchCriteria{Applications: []string{"cart"}})}, shopKey, selector.None},
		{"application selected by the key", []tenant.MatchRule{sel(tenant.MatchCriteria{Applications: []string{"checkout", "cart"}})}, shopKey, selector.Some},
		{"namespace and labels, namespace not the key's", []tenant.MatchRule{sel(tenant.MatchCriteria{Namespaces: []string{"payments"}, Labels: labels{"app": "x"}})}, shopKey, selector.None},
		{"namespace and labels, namespace the key's", []tenant.MatchRule{sel(tenant.MatchCriteria{Namespaces: []string{"shop-prod"}, Labels: labels{"app": "x"}})}, shopKey, selector.Some},
		{"first rule never holds for the key", []tenant.MatchRule{excl(tenant.MatchCriteria{Namespaces: []string{"payments"}}), sel(shop)}, shopKey, selector.Some},

		{"labels", []tenant.MatchRule{sel(debug)}, shopKey, selector.Some},
		{"exclude by labels, select {}", []tenant.MatchRule{excl(debug), sel(tenant.MatchCriteria{})}, shopKey, selector.Some},
		{"containers", []tenant.MatchRule{sel(tenant.MatchCriteria{ContainerNames: []string{"api"}})}, shopKey, selector.Some},
		{"hosts", []tenant.MatchRule{excl(tenant.MatchCriteria{Hosts: []string{"node-1"}}), sel(tenant.MatchCriteria{})}, shopKey, selector.Some},
		{"exclude by labels, exclude {}", []tenant.MatchRule{excl(debug), excl(tenant.MatchCriteria{})}, shopKey, selector.None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, selector.Flow(tt.rules).Object(tt.key))
		})
	}
}

func TestFlowFields(t *testing.T) {
	tests := []struct {
		rules []tenant.MatchRule
		want  deliver.Fields
	}{
		{nil, 0},
		{[]tenant.MatchRule{sel(tenant.MatchCriteria{Namespaces: []string{"a"}, ContainerNames: []string{"c"}, Applications: []string{"x"}})}, 0},
		{[]tenant.MatchRule{excl(tenant.MatchCriteria{Labels: labels{"a": "b"}})}, deliver.FieldLabels},
		{[]tenant.MatchRule{sel(tenant.MatchCriteria{NamespaceLabels: labels{"a": "b"}})}, deliver.FieldNamespaceLabels},
		{[]tenant.MatchRule{sel(tenant.MatchCriteria{Hosts: []string{"n"}})}, deliver.FieldHost},
		{[]tenant.MatchRule{sel(tenant.MatchCriteria{Hosts: []string{"n"}}), excl(tenant.MatchCriteria{Labels: labels{"a": "b"}})}, deliver.FieldHost | deliver.FieldLabels},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, selector.Flow(tt.rules).Fields(), "%+v", tt.rules)
	}
}

func TestFlowCopiesRules(t *testing.T) {
	c := tenant.MatchCriteria{Labels: labels{"app": "a"}, Namespaces: []string{"shop-prod"}}
	rules := []tenant.MatchRule{sel(c)}
	s := selector.Flow(rules)
	c.Labels["app"] = "b"
	c.Namespaces[0] = "payments"
	rules[0] = excl(tenant.MatchCriteria{})
	assert.True(t, s.Record(shopKey, &deliver.Record{Labels: labels{"app": "a"}}))
}

func TestRecordDoesNotAllocate(t *testing.T) {
	s := selector.And(
		selector.Applications(mustFilter(t, []string{"checkout"}, nil)),
		selector.Flow([]tenant.MatchRule{
			excl(tenant.MatchCriteria{Labels: labels{"tier": "debug"}}),
			sel(tenant.MatchCriteria{Labels: labels{"app": "checkout"}, ContainerNames: []string{"api"}, Hosts: []string{"node-1"}}),
			sel(tenant.MatchCriteria{Namespaces: []string{"payments"}}),
		}))
	r := &deliver.Record{Namespace: "payments", Container: "api", Application: "checkout", Host: "node-1", Labels: labels{"app": "checkout"}}
	allocs := testing.AllocsPerRun(100, func() {
		s.Object(shopKey)
		s.Record(shopKey, r)
	})
	assert.Zero(t, allocs)
}

func BenchmarkRecord(b *testing.B) {
	s := selector.Flow([]tenant.MatchRule{
		excl(tenant.MatchCriteria{Labels: labels{"tier": "debug"}}),
		sel(tenant.MatchCriteria{Labels: labels{"app": "checkout"}, ContainerNames: []string{"api", "worker"}}),
		sel(tenant.MatchCriteria{Namespaces: []string{"payments"}}),
	})
	r := &deliver.Record{Namespace: "shop-prod", Container: "worker", Application: "checkout",
		Labels: labels{"app": "checkout", "tier": "web", "pod-template-hash": "7f9c6b5d4"}}
	b.ReportAllocs()
	for b.Loop() {
		if !s.Record(shopKey, r) {
			b.Fatal("not selected")
		}
	}
}
