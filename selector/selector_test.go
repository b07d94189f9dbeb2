package selector_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/groups"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/selector"
	"github.com/logdelivery/logdelivery/tenant"
)

func mustFilter(t testing.TB, desired, groupNames []string) groups.Filter {
	t.Helper()
	f, warnings := groups.NewRegistry().Expand(desired, groupNames)
	require.Empty(t, warnings)
	return f
}

func TestDecisionString(t *testing.T) {
	assert.Equal(t, "none", selector.None.String())
	assert.Equal(t, "all", selector.All.String())
	assert.Equal(t, "some", selector.Some.String())
	assert.Equal(t, "Decision(7)", selector.Decision(7).String())
}

func TestApplications(t *testing.T) {
	checkout := keyparse.Key{Namespace: "shop-prod", Application: "checkout"}
	etcd := keyparse.Key{Namespace: "openshift-etcd", Application: "etcd"}
	noApp := keyparse.Key{Namespace: "shop-prod"}

	all := selector.Applications(groups.Filter{})
	assert.Equal(t, selector.All, all.Object(etcd))
	assert.True(t, all.Record(etcd, &deliver.Record{Application: "anything"}))
	assert.Zero(t, all.Fields())

	s := selector.Applications(mustFilter(t, []string{"checkout"}, []string{"api"}))
	assert.Zero(t, s.Fields())
	tests := []struct {
		name string
		key  keyparse.Key
		app  string // the record's
		want bool
	}{
		{"key's application, record without one", checkout, "", true},
		{"key's application, record of it", checkout, "checkout", true},
		{"group member", keyparse.Key{Application: "kube-apiserver"}, "", true},
		{"key not selected", etcd, "", false},
		{"key not selected, record of a selected application", etcd, "checkout", false},
		{"key selected, record of another application", checkout, "etcd", false},
		{"key selected, record of another selected application", checkout, "kube-apiserver", true},
		{"key without an application, record of a selected one", noApp, "checkout", true},
		{"key without an application, record of another", noApp, "etcd", false},
		{"neither key nor record", noApp, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := deliver.Record{Application: tt.app}
			assert.Equal(t, tt.want, s.Record(tt.key, &r))
			checkAgree(t, s, tt.key, &r)
		})
	}
	assert.Equal(t, selector.Some, s.Object(checkout), "a record may carry another application")
	assert.Equal(t, selector.None, s.Object(etcd), "skipped by the key's application, as always")
	assert.Equal(t, selector.Some, s.Object(noApp), "the key does not tell")

	none, _ := groups.NewRegistry().Expand(nil, []string{"unknown"})
	assert.Equal(t, selector.None, selector.Applications(none).Object(checkout), "a filter that selects nothing")
}

// fixed is a selector with a fixed decision, for testing And.
type fixed struct {
	d      selector.Decision
	record bool
	fields deliver.Fields
}

func (f fixed) Object(keyparse.Key) selector.Decision     { return f.d }
func (f fixed) Record(keyparse.Key, *deliver.Record) bool { return f.record }
func (f fixed) Fields() deliver.Fields                    { return f.fields }

func TestAnd(t *testing.T) {
	none := fixed{d: selector.None}
	all := fixed{d: selector.All, record: true, fields: deliver.FieldHost}
	someYes := fixed{d: selector.Some, record: true, fields: deliver.FieldLabels}
	someNo := fixed{d: selector.Some}
	tests := []struct {
		name   string
		sels   []selector.Selector
		want   selector.Decision
		record bool
	}{
		{"nothing", nil, selector.All, true},
		{"all", []selector.Selector{all, all}, selector.All, true},
		{"none wins", []selector.Selector{all, someYes, none}, selector.None, false},
		{"some", []selector.Selector{all, someYes}, selector.Some, true},
		{"some that rejects", []selector.Selector{someYes, someNo, all}, selector.Some, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := selector.And(tt.sels...)
			assert.Equal(t, tt.want, s.Object(shopKey))
			assert.Equal(t, tt.record, s.Record(shopKey, &deliver.Record{}))
		})
	}
	assert.Equal(t, deliver.FieldHost|deliver.FieldLabels, selector.And(all, someYes, someNo).Fields())
	assert.Equal(t, someYes, selector.And(someYes), "one selector is itself")
}

func TestForConfig(t *testing.T) {
	cfg := tenant.DeliveryConfig{
		TenantID: "shop-prod", Type: "cloudwatch",
		DesiredLogs: []string{"checkout"},
		Groups:      []string{"api"},
		Match: []tenant.MatchRule{
			excl(tenant.MatchCriteria{Labels: labels{"tier": "debug"}}),
			sel(tenant.MatchCriteria{}),
		},
	}
	s, err := selector.ForConfig(cfg, nil)
	require.NoError(t, err)
	assert.Equal(t, deliver.FieldLabels, s.Fields())

	apiserver := keyparse.Key{Namespace: "openshift-kube-apiserver", Application: "kube-apiserver"}
	assert.Equal(t, selector.Some, s.Object(shopKey))
	assert.Equal(t, selector.Some, s.Object(apiserver), "the api group, case-insensitively")
	assert.Equal(t, selector.None, s.Object(keyparse.Key{Namespace: "shop-prod", Application: "cart"}))
	assert.True(t, s.Record(shopKey, &deliver.Record{Labels: labels{"tier": "web"}}))
	assert.False(t, s.Record(shopKey, &deliver.Record{Labels: labels{"tier": "debug"}}), "match applies on top of desired_logs")
	assert.False(t, s.Record(shopKey, &deliver.Record{Application: "cart"}), "desired_logs applies on top of match")

	everything, err := selector.ForConfig(tenant.DeliveryConfig{TenantID: "t", Type: "s3"}, nil)
	require.NoError(t, err)
	assert.Equal(t, selector.All, everything.Object(shopKey))
	assert.Zero(t, everything.Fields())

	reg := groups.NewRegistry()
	require.NoError(t, reg.Register("Shop", "cart"))
	s, err = selector.ForConfig(tenant.DeliveryConfig{TenantID: "t", Type: "s3", Groups: []string{" shop "}}, reg)
	require.NoError(t, err)
	assert.Equal(t, selector.Some, s.Object(keyparse.Key{Application: "cart"}), "groups of the registry given")
	assert.Equal(t, selector.None, s.Object(shopKey))
}

func TestForConfigUnknownGroups(t *testing.T) {
	cfg := tenant.DeliveryConfig{TenantID: "shop-prod", Type: "s3:archive", Groups: []string{"API", "Nope", "schedular"}}
	_, err := selector.ForConfig(cfg, nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, selector.ErrUnknownGroup))
	assert.True(t, fault.IsPermanent(err), "a config problem: retrying cannot help")
	assert.EqualError(t, err, `selector: delivery config shop-prod/s3:archive: unknown application group: "Nope", "schedular" `+
		`(known groups: "API", "Authentication", "Controller Manager", "Scheduler")`)

	reg := groups.NewRegistry()
	require.NoError(t, reg.Register("Payments", "ledger"))
	_, err = selector.ForConfig(tenant.DeliveryConfig{TenantID: "t", Type: "s3", Groups: []string{"nope"}}, reg)
	assert.ErrorContains(t, err, `"nope" (known groups: "API", "Authentication", "Controller Manager", "Payments", "Scheduler")`)
}

func TestForConfigBadRules(t *testing.T) {
	for _, r := range []tenant.MatchRule{{}, {Select: &tenant.MatchCriteria{}, Exclude: &tenant.MatchCriteria{}}} {
		cfg := tenant.DeliveryConfig{TenantID: "t", Type: "s3", Match: []tenant.MatchRule{sel(tenant.MatchCriteria{}), r}}
		_, err := selector.ForConfig(cfg, nil)
		assert.EqualError(t, err, "selector: delivery config t/s3: match[1] must have exactly one of select and exclude")
		assert.True(t, fault.IsPermanent(err))
	}
}
