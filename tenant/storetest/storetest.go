// Package storetest is the conformance suite of tenant.Store and
// tenant.ConfigStore implementations. Every store in this module runs
// them; run them against your own store too:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) tenant.Store { return newEmptyStore(t) })
//	}
//
// Run checks writable stores; RunConfigStore checks what the dispatcher
// reads, of any store, read-only ones and caches included.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/tenant"
)

// Run runs the suite. open must return a new, empty store for each call.
func Run(t *testing.T, open func(t *testing.T) tenant.Store) {
	t.Run("UnknownTenantHasNoConfigs", func(t *testing.T) { testUnknownTenant(t, open(t)) })
	t.Run("CreateGetRoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("CreateExisting", func(t *testing.T) { testCreateExisting(t, open(t)) })
	t.Run("ConfigsOfOneTenant", func(t *testing.T) { testConfigsOfOneTenant(t, open(t)) })
	t.Run("ManyConfigsPerTenant", func(t *testing.T) { testManyConfigs(t, open(t)) })
	t.Run("Replace", func(t *testing.T) { testReplace(t, open(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("ListPages", func(t *testing.T) { testList(t, open(t)) })
	t.Run("ReturnsCopies", func(t *testing.T) { testCopies(t, open(t)) })
	t.Run("ConcurrentCreate", func(t *testing.T) { testConcurrentCreate(t, open(t)) })
}

// CloudWatch returns a valid cloudwatch config of tenant, for tests.
func CloudWatch(tenantID string) tenant.DeliveryConfig {
	return tenant.DeliveryConfig{
		TenantID:     tenantID,
		Type:         tenant.KindCloudWatch,
		TargetRegion: "us-east-1",
		Settings: map[string]any{
			"log_distribution_role_arn": "arn:aws:iam::222222222222:role/CustomerLogDistribution-us-east-1",
			"log_group_name":            "/rosa/" + tenantID,
		},
	}
}

// S3 returns a valid s3 config of tenant, for tests.
func S3(tenantID string) tenant.DeliveryConfig {
	return tenant.DeliveryConfig{
		TenantID:     tenantID,
		Type:         tenant.KindS3,
		TargetRegion: "us-east-1",
		Settings: map[string]any{
			"bucket_name":   "tenant-logs-" + tenantID,
			"bucket_prefix": "ROSA/cluster-logs/",
		},
	}
}

// Nested returns a config of a kind that nests its settings, with settings
// of every JSON type, for round-trip tests. Its kind ("webhook") need not be
// registered: stores keep settings without judging them.
func Nested(tenantID string) tenant.DeliveryConfig {
	return tenant.DeliveryConfig{
		TenantID: tenantID,
		Type:     "webhook:audit",
		Match: []tenant.MatchRule{
			{Exclude: &tenant.MatchCriteria{Labels: map[string]string{"tier": "debug"}}},
			{Select: &tenant.MatchCriteria{ContainerNames: []string{"api"}, Namespaces: []string{"payments"}}},
		},
		Settings: map[string]any{
			"url":       "https://hooks.example.com/logs",
			"gzip":      true,
			"max_bytes": json.Number("1048576"),
			"headers":   map[string]any{"X-Team": "payments"},
			"formats":   []any{"ndjson", "array"},
		},
	}
}

// Setting returns the string setting name of c, or "".
func Setting(c tenant.DeliveryConfig, name string) string {
	s, _ := c.Settings[name].(string)
	return s
}

// WithSetting returns c with the setting name set to v.
func WithSetting(c tenant.DeliveryConfig, name string, v any) tenant.DeliveryConfig {
	c = c.Clone()
	if c.Settings == nil {
		c.Settings = map[string]any{}
	}
	c.Settings[name] = v
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func testUnknownTenant(t *testing.T, s tenant.Store) {
	got, err := s.Configs(ctx(t), "nobody")
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = s.Get(ctx(t), "nobody", "s3")
	assert.ErrorIs(t, err, tenant.ErrNotFound)
}

func testRoundTrip(t *testing.T, s tenant.Store) {
	in := tenant.DeliveryConfig{
		TenantID:     "acme",
		Type:         "cloudwatch",
		Enabled:      tenant.Bool(false),
		DesiredLogs:  []string{"payments", "kube-apiserver"},
		Groups:       []string{"API", "scheduler"},
		TargetRegion: "eu-west-1",
		TTL:          4102444800,
		Settings: map[string]any{
			"log_distribution_role_arn": "arn:aws:iam::222222222222:role/path/to/Role",
			"log_group_name":            "/acme/logs",
		},
	}
	created, err := s.Create(ctx(t), in)
	require.NoError(t, err)
	assert.NotEmpty(t, created.CreatedAt, "created_at is set")
	assert.Equal(t, created.CreatedAt, created.UpdatedAt, "a new config has created_at = updated_at")
	_, err = time.Parse(time.RFC3339Nano, created.UpdatedAt)
	assert.NoError(t, err, "updated_at is RFC 3339")

	got, err := s.Get(ctx(t), "acme", "cloudwatch")
	require.NoError(t, err)
	assert.Equal(t, created, got)
	in.CreatedAt, in.UpdatedAt = created.CreatedAt, created.UpdatedAt
	assert.Equal(t, in, got, "every field survives a round trip")
	require.NotNil(t, got.Enabled)
	assert.False(t, *got.Enabled, "enabled=false is kept, not defaulted")

	// An absent enabled stays absent (and so defaults to true).
	s3 := S3("acme")
	_, err = s.Create(ctx(t), s3)
	require.NoError(t, err)
	got, err = s.Get(ctx(t), "acme", "s3")
	require.NoError(t, err)
	assert.Nil(t, got.Enabled)
	assert.True(t, got.IsEnabled())
	assert.Equal(t, Setting(s3, "bucket_name"), Setting(got, "bucket_name"))

	// Nested settings of every JSON type, and match rules.
	nested := Nested("acme")
	created, err = s.Create(ctx(t), nested)
	require.NoError(t, err)
	got, err = s.Get(ctx(t), "acme", nested.Type)
	require.NoError(t, err)
	nested.CreatedAt, nested.UpdatedAt = created.CreatedAt, created.UpdatedAt
	assert.Equal(t, nested, got, "nested settings and match rules survive a round trip")
}

func testCreateExisting(t *testing.T, s tenant.Store) {
	_, err := s.Create(ctx(t), S3("acme"))
	require.NoError(t, err)
	c := WithSetting(S3("acme"), "bucket_name", "other-bucket")
	_, err = s.Create(ctx(t), c)
	assert.ErrorIs(t, err, tenant.ErrExists)
	got, err := s.Get(ctx(t), "acme", "s3")
	require.NoError(t, err)
	assert.Equal(t, "tenant-logs-acme", Setting(got, "bucket_name"), "a failed create changes nothing")
}

func testConfigsOfOneTenant(t *testing.T, s tenant.Store) {
	archive := WithSetting(S3("acme"), "bucket_name", "acme-archive")
	archive.Type = "s3:archive"
	for _, c := range []tenant.DeliveryConfig{CloudWatch("acme"), S3("acme"), archive, S3("acme2"), CloudWatch("globex")} {
		_, err := s.Create(ctx(t), c)
		require.NoError(t, err)
	}
	got, err := s.Configs(ctx(t), "acme")
	require.NoError(t, err)
	types := map[string]string{}
	for _, c := range got {
		assert.Equal(t, "acme", c.TenantID)
		types[c.Type] = Setting(c, "bucket_name") + Setting(c, "log_group_name")
	}
	assert.Equal(t, map[string]string{
		"cloudwatch": "/rosa/acme",
		"s3":         "tenant-logs-acme",
		"s3:archive": "acme-archive",
	}, types)
}

func testManyConfigs(t *testing.T, s tenant.Store) {
	const n = 40
	for i := range n {
		c := S3("big")
		c.Type = fmt.Sprintf("s3:dest%02d", i)
		c.DesiredLogs = []string{fmt.Sprintf("app-%d", i)}
		_, err := s.Create(ctx(t), c)
		require.NoError(t, err)
	}
	got, err := s.Configs(ctx(t), "big")
	require.NoError(t, err)
	assert.Len(t, got, n, "every config of a tenant is returned, however many")
}

func testReplace(t *testing.T, s tenant.Store) {
	_, err := s.Replace(ctx(t), S3("acme"), tenant.Condition{})
	assert.ErrorIs(t, err, tenant.ErrNotFound, "replace of a missing config")

	v1, err := s.Create(ctx(t), WithSetting(S3("acme"), "bucket_owner", "333333333333"))
	require.NoError(t, err)

	c := WithSetting(S3("acme"), "bucket_name", "acme-new")
	v2, err := s.Replace(ctx(t), c, tenant.Condition{IfUpdatedAt: v1.UpdatedAt})
	require.NoError(t, err)
	assert.Equal(t, "acme-new", Setting(v2, "bucket_name"))
	assert.Equal(t, v1.CreatedAt, v2.CreatedAt, "created_at is kept")
	assert.NotEqual(t, v1.UpdatedAt, v2.UpdatedAt, "updated_at changes on every write")
	got, err := s.Get(ctx(t), "acme", "s3")
	require.NoError(t, err)
	assert.Equal(t, v2, got, "replace returns the config as stored")
	assert.NotContains(t, got.Settings, "bucket_owner", "a replace removes the settings it does not carry")

	c = WithSetting(c, "bucket_name", "acme-stale")
	_, err = s.Replace(ctx(t), c, tenant.Condition{IfUpdatedAt: v1.UpdatedAt})
	assert.ErrorIs(t, err, tenant.ErrConflict, "replace with a stale updated_at")

	got, err = s.Get(ctx(t), "acme", "s3")
	require.NoError(t, err)
	assert.Equal(t, "acme-new", Setting(got, "bucket_name"), "a conflicting replace changes nothing")

	c = WithSetting(c, "bucket_name", "acme-unconditional")
	_, err = s.Replace(ctx(t), c, tenant.Condition{})
	require.NoError(t, err, "replace without a condition")
}

func testDelete(t *testing.T, s tenant.Store) {
	assert.ErrorIs(t, s.Delete(ctx(t), "acme", "s3", tenant.Condition{}), tenant.ErrNotFound)
	v1, err := s.Create(ctx(t), S3("acme"))
	require.NoError(t, err)
	_, err = s.Create(ctx(t), CloudWatch("acme"))
	require.NoError(t, err)

	err = s.Delete(ctx(t), "acme", "s3", tenant.Condition{IfUpdatedAt: "2001-01-01T00:00:00Z"})
	assert.ErrorIs(t, err, tenant.ErrConflict)
	require.NoError(t, s.Delete(ctx(t), "acme", "s3", tenant.Condition{IfUpdatedAt: v1.UpdatedAt}))

	_, err = s.Get(ctx(t), "acme", "s3")
	assert.ErrorIs(t, err, tenant.ErrNotFound)
	got, err := s.Configs(ctx(t), "acme")
	require.NoError(t, err)
	require.Len(t, got, 1, "only the deleted config is gone")
	assert.Equal(t, "cloudwatch", got[0].Type)
}

func testList(t *testing.T, s tenant.Store) {
	want := map[string]bool{}
	for _, id := range []string{"t1", "t2", "t3", "t4"} {
		for _, c := range []tenant.DeliveryConfig{S3(id), CloudWatch(id)} {
			_, err := s.Create(ctx(t), c)
			require.NoError(t, err)
			want[c.TenantID+"/"+c.Type] = true
		}
	}
	got := map[string]bool{}
	cursor, pages := "", 0
	for {
		page, next, err := s.List(ctx(t), 3, cursor)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(page), 3, "a page holds at most limit configs")
		for _, c := range page {
			k := c.TenantID + "/" + c.Type
			assert.False(t, got[k], "config %s listed twice", k)
			got[k] = true
		}
		pages++
		require.Less(t, pages, 20, "pagination terminates")
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Equal(t, want, got, "pages together list every config once")

	_, _, err := s.List(ctx(t), 3, "not-a-cursor!")
	assert.ErrorIs(t, err, tenant.ErrInvalidCursor)
}

func testCopies(t *testing.T, s tenant.Store) {
	c := S3("acme")
	c.DesiredLogs = []string{"a", "b"}
	_, err := s.Create(ctx(t), c)
	require.NoError(t, err)
	c.DesiredLogs[0] = "changed-after-create"

	got, err := s.Configs(ctx(t), "acme")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, []string{"a", "b"}, got[0].DesiredLogs)
	got[0].DesiredLogs[0] = "changed-after-read"
	got[0].Settings["bucket_name"] = "changed-after-read"

	again, err := s.Get(ctx(t), "acme", "s3")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, again.DesiredLogs, "callers cannot change stored configs")
	assert.Equal(t, "tenant-logs-acme", Setting(again, "bucket_name"), "nor their settings")
}

func testConcurrentCreate(t *testing.T, s tenant.Store) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			c := WithSetting(S3("race"), "bucket_name", fmt.Sprintf("bucket-%d", i))
			_, errs[i] = s.Create(ctx(t), c)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			assert.ErrorIs(t, err, tenant.ErrExists)
		}
	}
	assert.Equal(t, 1, won, "exactly one concurrent create wins")
	got, err := s.Configs(ctx(t), "race")
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

// NestedSettings are the settings of the kind of Nested configs.
type NestedSettings struct {
	URL      string            `json:"url,omitempty" required:"true" doc:"Where the hook sends."`
	Gzip     bool              `json:"gzip,omitempty" doc:"Compress bodies."`
	MaxBytes int64             `json:"max_bytes,omitempty" doc:"Largest body."`
	Headers  map[string]string `json:"headers,omitempty" doc:"Static headers."`
	Formats  []string          `json:"formats,omitempty" doc:"Body formats."`
}

// Validate accepts every NestedSettings.
func (*NestedSettings) Validate(tenant.DeliveryConfig) []tenant.FieldError { return nil }

// NestedKind returns the kind of Nested configs ("webhook"), without a
// deliverer, for registries of tests that store Nested configs through a
// validating layer such as the configuration API.
func NestedKind() deliver.Kind {
	return deliver.Kind{Name: "webhook", Summary: "A test kind that nests its settings.",
		NewSettings: func() deliver.Settings { return new(NestedSettings) }}
}
