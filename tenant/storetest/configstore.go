package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/tenant"
)

// ConfigStoreOptions describe a read-only store to RunConfigStore.
type ConfigStoreOptions struct {
	// OpenWithBadItem, when set, opens a store holding configs and one more
	// item, of tenantID and type typ, that the store cannot decode (for
	// example an enabled attribute of "maybe"). RunConfigStore then checks
	// partial results: the tenant's good configs come with a
	// *tenant.ItemsError naming that item. Leave it nil for stores that
	// cannot hold such items.
	OpenWithBadItem func(t *testing.T, configs []tenant.DeliveryConfig, tenantID, typ string) tenant.ConfigStore
	// AnswersFromMemory says that the store may answer a lookup without a
	// call to a backend, whatever its context (a cache: see
	// tenant.Cache). A lookup with a cancelled context must then either
	// fail with the context's error or give the right answer; without it,
	// it must fail.
	AnswersFromMemory bool
}

// RunConfigStore runs the suite of tenant.ConfigStore implementations,
// read-only stores included. open must return a store holding exactly
// configs, as stored (timestamps included):
//
//	storetest.RunConfigStore(t, func(t *testing.T, configs []tenant.DeliveryConfig) tenant.ConfigStore {
//		s, err := memstore.New(configs)
//		require.NoError(t, err)
//		return s
//	})
//
// The checks:
//
//   - OrderedByType: a tenant's configs, and only its own, come ordered by
//     type.
//   - UnknownTenant: a tenant without configs gets an empty, non-nil slice
//     and a nil error.
//   - ReturnsCopies: changing the configs returned changes nothing stored.
//   - FieldsSurvive: every field, settings of every JSON type and match
//     rules included, comes back as stored.
//   - CancelledContext: a lookup with a cancelled context fails with a
//     retryable error wrapping context.Canceled (see
//     ConfigStoreOptions.AnswersFromMemory for caches).
//   - PartialResults, with ConfigStoreOptions.OpenWithBadItem: an item the
//     store cannot decode does not hide the tenant's other configs, which
//     come with a *tenant.ItemsError naming it, and does not affect other
//     tenants.
func RunConfigStore(t *testing.T, open func(t *testing.T, configs []tenant.DeliveryConfig) tenant.ConfigStore, optFns ...func(*ConfigStoreOptions)) {
	t.Helper()
	var o ConfigStoreOptions
	for _, fn := range optFns {
		fn(&o)
	}
	t.Run("OrderedByType", func(t *testing.T) { testOrderedByType(t, open) })
	t.Run("UnknownTenant", func(t *testing.T) { testUnknownTenantEmpty(t, open) })
	t.Run("ReturnsCopies", func(t *testing.T) { testReturnsCopies(t, open) })
	t.Run("FieldsSurvive", func(t *testing.T) { testFieldsSurvive(t, open) })
	t.Run("CancelledContext", func(t *testing.T) { testCancelled(t, open, o.AnswersFromMemory) })
	t.Run("PartialResults", func(t *testing.T) {
		if o.OpenWithBadItem == nil {
			t.Skip("the store cannot hold undecodable items (no OpenWithBadItem)")
		}
		testPartialResults(t, o.OpenWithBadItem)
	})
}

// tenantConfigs returns configs of tenant acme in no particular order, of
// every kind of settings, and configs of tenants whose ids share its
// prefix or sort next to it.
func tenantConfigs() (acme, others []tenant.DeliveryConfig) {
	archive := WithSetting(S3("acme"), "bucket_name", "acme-archive")
	archive.Type = "s3:archive"
	zeta := WithSetting(S3("acme"), "bucket_name", "acme-zeta")
	zeta.Type = "s3:zeta"
	audit := CloudWatch("acme")
	audit.Type = "cloudwatch:audit"
	audit.Settings["log_group_name"] = "/rosa/acme/audit"
	// "webhook-eu" sorts before "webhook:audit" ('-' < ':'): types are
	// ordered as strings, not by kind and then name.
	eu := Nested("acme")
	eu.Type = "webhook-eu"
	acme = []tenant.DeliveryConfig{zeta, Nested("acme"), S3("acme"), audit, eu, CloudWatch("acme"), archive}
	others = []tenant.DeliveryConfig{S3("acme2"), CloudWatch("acm"), S3("globex"), Nested("ACME")}
	return acme, others
}

func sortedByType(configs []tenant.DeliveryConfig) []tenant.DeliveryConfig {
	out := slices.Clone(configs)
	slices.SortFunc(out, func(a, b tenant.DeliveryConfig) int { return strings.Compare(a.Type, b.Type) })
	return out
}

func typesOf(configs []tenant.DeliveryConfig) []string {
	out := make([]string, len(configs))
	for i, c := range configs {
		out[i] = c.Type
	}
	return out
}

func testOrderedByType(t *testing.T, open func(*testing.T, []tenant.DeliveryConfig) tenant.ConfigStore) {
	acme, others := tenantConfigs()
	s := open(t, append(slices.Clone(acme), others...))
	got, err := s.Configs(ctx(t), "acme")
	require.NoError(t, err)
	assert.Equal(t, typesOf(sortedByType(acme)), typesOf(got), "the tenant's configs, ordered by type")
	for _, c := range got {
		assert.Equal(t, "acme", c.TenantID, "only the tenant's configs")
	}
	got, err = s.Configs(ctx(t), "acme2")
	require.NoError(t, err)
	assert.Equal(t, []string{"s3"}, typesOf(got), "a tenant whose id the other's starts with")
}

func testUnknownTenantEmpty(t *testing.T, open func(*testing.T, []tenant.DeliveryConfig) tenant.ConfigStore) {
	for name, configs := range map[string][]tenant.DeliveryConfig{
		"empty store":   nil,
		"other tenants": {S3("acme"), CloudWatch("globex")},
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t, configs)
			for range 2 { // a cache answers the second from memory
				got, err := s.Configs(ctx(t), "nobody")
				require.NoError(t, err)
				assert.NotNil(t, got, "an empty slice, not nil")
				assert.Empty(t, got)
			}
		})
	}
}

func testReturnsCopies(t *testing.T, open func(*testing.T, []tenant.DeliveryConfig) tenant.ConfigStore) {
	acme, _ := tenantConfigs()
	want := sortedByType(acme)
	s := open(t, acme)
	got, err := s.Configs(ctx(t), "acme")
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range got {
		c := &got[i]
		c.Type += "-changed"
		c.DesiredLogs = append(c.DesiredLogs, "changed")
		c.Groups = append(c.Groups, "changed")
		if c.Enabled != nil {
			*c.Enabled = !*c.Enabled
		}
		for _, r := range c.Match {
			if r.Select != nil {
				r.Select.Namespaces = append(r.Select.Namespaces[:0], "changed")
			}
			if r.Exclude != nil && r.Exclude.Labels != nil {
				r.Exclude.Labels["changed"] = "yes"
			}
		}
		for k, v := range c.Settings {
			switch v := v.(type) {
			case map[string]any:
				v["changed"] = "yes"
			case []any:
				if len(v) > 0 {
					v[0] = "changed"
				}
			default:
				c.Settings[k] = "changed"
			}
		}
	}
	again, err := s.Configs(ctx(t), "acme")
	require.NoError(t, err)
	assertSameConfigs(t, want, again, "changing returned configs changes nothing stored")
}

func testFieldsSurvive(t *testing.T, open func(*testing.T, []tenant.DeliveryConfig) tenant.ConfigStore) {
	full := tenant.DeliveryConfig{
		TenantID:     "acme",
		Type:         "cloudwatch",
		Enabled:      tenant.Bool(false),
		DesiredLogs:  []string{"payments", "kube-apiserver"},
		Groups:       []string{"API", "scheduler"},
		Match:        Nested("acme").Match,
		TargetRegion: "eu-west-1",
		TTL:          4102444800,
		CreatedAt:    "2024-05-01T10:00:00Z",
		UpdatedAt:    "2024-05-02T11:30:00.123456789Z",
		Settings: map[string]any{
			"log_distribution_role_arn": "arn:aws:iam::222222222222:role/path/to/Role",
			"log_group_name":            "/acme/logs",
			"external_id":               "ext-123",
		},
	}
	nested := Nested("acme")
	nested.CreatedAt, nested.UpdatedAt = "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z"
	s3 := S3("acme")
	s3.Enabled = tenant.Bool(true)
	want := []tenant.DeliveryConfig{full, s3, nested}
	s := open(t, want)
	got, err := s.Configs(ctx(t), "acme")
	require.NoError(t, err)
	assertSameConfigs(t, sortedByType(want), got, "every field, settings and match rules survive")
}

// assertSameConfigs compares configs as JSON items, so that settings
// numbers compare by value whatever their Go type (json.Number, float64).
func assertSameConfigs(t *testing.T, want, got []tenant.DeliveryConfig, msg string) {
	t.Helper()
	items := func(configs []tenant.DeliveryConfig) []string {
		out := make([]string, len(configs))
		for i, c := range configs {
			b, err := json.Marshal(c)
			require.NoError(t, err)
			out[i] = string(b)
		}
		return out
	}
	assert.Equal(t, items(want), items(got), msg)
}

func testCancelled(t *testing.T, open func(*testing.T, []tenant.DeliveryConfig) tenant.ConfigStore, fromMemory bool) {
	acme, others := tenantConfigs()
	want := sortedByType(acme)
	s := open(t, append(slices.Clone(acme), others...))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(t *testing.T, tenantID string, want []tenant.DeliveryConfig) {
		t.Helper()
		got, err := s.Configs(cancelled, tenantID)
		if err == nil && fromMemory {
			assertSameConfigs(t, want, got, "a lookup answered from memory is right")
			return
		}
		require.Error(t, err, "a lookup with a cancelled context fails")
		assert.ErrorIs(t, err, context.Canceled)
		assert.True(t, fault.IsRetryable(err), "a context error is retryable: %v", err)
		assert.False(t, errors.As(err, new(*tenant.ItemsError)), "a failed lookup is no partial answer: %v", err)
	}
	t.Run("Cold", func(t *testing.T) {
		check(t, "acme", want)
		check(t, "nobody", []tenant.DeliveryConfig{})
	})
	t.Run("Warm", func(t *testing.T) {
		got, err := s.Configs(ctx(t), "acme")
		require.NoError(t, err)
		assertSameConfigs(t, want, got, "a lookup with a live context")
		check(t, "acme", want)
	})
}

func testPartialResults(t *testing.T, open func(t *testing.T, configs []tenant.DeliveryConfig, tenantID, typ string) tenant.ConfigStore) {
	acme, others := tenantConfigs()
	want := sortedByType(acme)
	s := open(t, append(slices.Clone(acme), others...), "acme", "s3:broken")
	for range 2 { // a cache answers the second from memory
		got, err := s.Configs(ctx(t), "acme")
		assertSameConfigs(t, want, got, "the good configs, ordered by type, next to the bad item")
		var items *tenant.ItemsError
		require.ErrorAs(t, err, &items, "the bad item is reported: %v", err)
		require.Len(t, items.Items, 1)
		assert.Equal(t, "acme", items.Items[0].TenantID)
		assert.Equal(t, "s3:broken", items.Items[0].Type)
		assert.ErrorContains(t, err, "s3:broken")
	}
	got, err := s.Configs(ctx(t), "globex")
	require.NoError(t, err, "another tenant's bad item does not concern this one")
	assert.Equal(t, []string{"s3"}, typesOf(got))
}
