package loki

import (
	"testing"
	"unicode/utf8"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/tenant"
)

// FuzzLabels feeds arbitrary label names, static values (templates) and
// record values to the settings validation and the labeler: whatever
// validation accepts and the records hold, the label set is one Loki
// parses, with the names of the settings and values of at most
// MaxLabelValueLength bytes of valid UTF-8, and a template only ever
// expands to the record's namespace and application.
func FuzzLabels(f *testing.F) {
	f.Add("team", "{namespace}-{application}", "app", "shop", "api", "web")
	f.Add("env", "prod", "pod_label", "a\"b\\c", "\xff", "x\ny")
	f.Add("a", "{{namespace}}", "b", "", "", "")
	f.Add("__name__", "{org_id}", "c", "ns", "app", "v")
	f.Fuzz(func(t *testing.T, name, value, fieldName, namespace, application, podLabel string) {
		s := &Settings{
			URL:         "https://loki.example.com",
			Labels:      map[string]string{name: value},
			LabelFields: map[string]string{fieldName: "pod_labels.app", "namespace": "namespace"},
		}
		if len(s.Validate(tenant.DeliveryConfig{TenantID: "acme", Type: KindName})) > 0 {
			return
		}
		rec := deliver.Record{Namespace: namespace, Application: application, Labels: map[string]string{"app": podLabel}}
		l := newLabeler(s, benchKey)
		labels, pairs, _, changed := l.labels(&rec)
		if !changed {
			t.Fatal("the first record's labels are new")
		}
		parsed, err := lokitest.ParseLabels(labels)
		if err != nil {
			t.Fatalf("labels %q do not parse: %v", labels, err)
		}
		if len(parsed) != len(pairs) {
			t.Fatalf("labels %q: %d pairs, want %d", labels, len(parsed), len(pairs))
		}
		for i, p := range parsed {
			if p[0] != pairs[i].Name || p[1] != pairs[i].Value {
				t.Fatalf("labels %q: pair %d is %q, want %v", labels, i, p, pairs[i])
			}
			if len(p[1]) > MaxLabelValueLength || !utf8.ValidString(p[1]) || p[1] == "" {
				t.Fatalf("label %s: value of %d bytes, valid UTF-8 %v", p[0], len(p[1]), utf8.ValidString(p[1]))
			}
			if p[0] != name && p[0] != fieldName && p[0] != "namespace" && p[0] != "service_name" {
				t.Fatalf("label %q is not one of the settings'", p[0])
			}
		}
		// The same record again reuses the label set.
		again, _, _, changed := l.labels(&rec)
		if changed || again != labels {
			t.Fatalf("the same record made %q (changed %v), want %q", again, changed, labels)
		}
	})
}

// FuzzPushURL: what validation accepts becomes a push URL of the same
// host that ends in the push path.
func FuzzPushURL(f *testing.F) {
	f.Add("https://loki.example.com")
	f.Add("https://loki.example.com/tenant/a/")
	f.Add("https://gw.example.com:8443/insert/loki/api/v1/push")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := pushURL(egress.Policy{}, raw)
		if err != nil {
			return
		}
		if u.Path[len(u.Path)-len(PushPath):] != PushPath || u.RawQuery != "" || u.User != nil {
			t.Fatalf("%q became %q", raw, u)
		}
		if _, err := egress.ValidateURL(u.String()); err != nil {
			t.Fatalf("%q became %q, which the policy refuses: %v", raw, u, err)
		}
	})
}
