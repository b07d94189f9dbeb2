package tenant_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/tenant"
)

func s3() tenant.DeliveryConfig {
	return tenant.DeliveryConfig{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-logs"}}
}

// fields returns the fields named by a validation error.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var ve *tenant.ValidationError
	require.ErrorAs(t, err, &ve)
	require.ErrorIs(t, err, tenant.ErrInvalidConfig)
	var out []string
	for _, p := range ve.Problems {
		assert.NotEmpty(t, p.Message)
		out = append(out, p.Field)
	}
	return out
}

func TestSeedItemsDecode(t *testing.T) {
	// Items exactly as the seed schema describes them: the kind's settings
	// are attributes of the item.
	var c tenant.DeliveryConfig
	require.NoError(t, json.Unmarshal([]byte(`{
		"tenant_id": "acme", "type": "cloudwatch",
		"log_distribution_role_arn": "arn:aws:iam::222222222222:role/CustomerLogDistribution-us-east-1",
		"log_group_name": "/aws/rosa/acme/logs", "target_region": "us-east-1",
		"desired_logs": ["kube-apiserver"], "groups": ["API"],
		"created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"}`), &c))
	assert.Empty(t, c.CommonProblems())
	assert.True(t, c.IsEnabled(), "enabled defaults to true when absent")
	assert.Equal(t, "cloudwatch", c.Kind())
	assert.Equal(t, map[string]any{
		"log_distribution_role_arn": "arn:aws:iam::222222222222:role/CustomerLogDistribution-us-east-1",
		"log_group_name":            "/aws/rosa/acme/logs",
	}, c.Settings)
	assert.Equal(t, []string{"kube-apiserver"}, c.DesiredLogs)
	assert.Equal(t, "2025-01-01T00:00:00Z", c.UpdatedAt)

	var s tenant.DeliveryConfig
	require.NoError(t, json.Unmarshal([]byte(`{"tenant_id":"acme","type":"s3","bucket_name":"acme-logs","enabled":false}`), &s))
	assert.False(t, s.IsEnabled())
	assert.Equal(t, "acme-logs", s.Settings["bucket_name"])
}

func TestItemsRoundTrip(t *testing.T) {
	for _, item := range []string{
		`{"bucket_name":"acme-logs","bucket_prefix":"p/","desired_logs":["a"],"enabled":true,"tenant_id":"acme","type":"s3:archive","ttl":4102444800}`,
		`{"groups":["API"],"log_distribution_role_arn":"arn:aws:iam::222222222222:role/R","log_group_name":"/g","tenant_id":"acme","type":"cloudwatch"}`,
		`{"match":[{"exclude":{"labels":{"tier":"debug"}}},{"select":{}}],"settings":{"headers":{"X":"y"},"max":5,"url":"https://e.example/x"},"tenant_id":"acme","type":"webhook"}`,
	} {
		var c tenant.DeliveryConfig
		require.NoError(t, json.Unmarshal([]byte(item), &c), item)
		out, err := json.Marshal(c)
		require.NoError(t, err)
		assert.JSONEq(t, item, string(out), "an item encodes back as it was")
	}
}

func TestSettingsPlacement(t *testing.T) {
	var c tenant.DeliveryConfig
	err := json.Unmarshal([]byte(`{"tenant_id":"acme","type":"loki","url":"https://loki.example/x","settings":{"org_id":"acme"}}`), &c)
	assert.Equal(t, []string{"url"}, fields(t, err), "kinds other than cloudwatch and s3 keep their settings under settings")
	assert.ErrorContains(t, err, `go in "settings"`)

	err = json.Unmarshal([]byte(`{"tenant_id":"acme","type":"s3","settings":{"bucket_name":"x"}}`), &c)
	assert.Equal(t, []string{"settings"}, fields(t, err), "cloudwatch and s3 keep theirs at the top level")

	require.NoError(t, json.Unmarshal([]byte(`{"tenant_id":"acme","type":"loki","settings":{"url":"https://loki.example/x"}}`), &c))
	assert.Equal(t, map[string]any{"url": "https://loki.example/x"}, c.Settings)
}

func TestDecodeTypeErrors(t *testing.T) {
	var c tenant.DeliveryConfig
	err := json.Unmarshal([]byte(`{"tenant_id":7,"type":"s3","enabled":"yes","desired_logs":["a",3],"groups":"API","ttl":1.5,"match":{"select":{}},"target_region":false}`), &c)
	assert.ElementsMatch(t, []string{"tenant_id", "enabled", "desired_logs[1]", "groups", "ttl", "match", "target_region"}, fields(t, err), "every problem at once")
	assert.ErrorContains(t, err, "must be true or false, not a string")

	err = json.Unmarshal([]byte(`{"tenant_id":"acme","type":"s3","match":[{"select":{"labelz":{}}}]}`), &c)
	assert.Equal(t, []string{"match[0]"}, fields(t, err))
	assert.ErrorContains(t, err, "labelz")

	assert.Error(t, json.Unmarshal([]byte(`null`), &c))
	assert.Error(t, json.Unmarshal([]byte(`[1]`), &c))
}

func TestValidationErrorIsPermanent(t *testing.T) {
	var c tenant.DeliveryConfig
	err := json.Unmarshal([]byte(`{"tenant_id":"acme","type":"s3","enabled":"x"}`), &c)
	assert.True(t, fault.IsPermanent(err), "retrying an invalid config cannot succeed")
}

func TestCommonRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*tenant.DeliveryConfig)
		field  string
	}{
		{"no tenant", func(c *tenant.DeliveryConfig) { c.TenantID = "" }, "tenant_id"},
		{"tenant charset", func(c *tenant.DeliveryConfig) { c.TenantID = "ac me" }, "tenant_id"},
		{"tenant leading dash", func(c *tenant.DeliveryConfig) { c.TenantID = "-acme" }, "tenant_id"},
		{"tenant too long", func(c *tenant.DeliveryConfig) { c.TenantID = strings.Repeat("a", 129) }, "tenant_id"},
		{"no type", func(c *tenant.DeliveryConfig) { c.Type = "" }, "type"},
		{"bad type", func(c *tenant.DeliveryConfig) { c.Type = "CloudWatch" }, "type"},
		{"bad type name", func(c *tenant.DeliveryConfig) { c.Type = "cloudwatch:Archive!" }, "type"},
		{"type too long", func(c *tenant.DeliveryConfig) { c.Type = strings.Repeat("a", 65) }, "type"},
		{"region", func(c *tenant.DeliveryConfig) { c.TargetRegion = "US-EAST-1" }, "target_region"},
		{"ttl", func(c *tenant.DeliveryConfig) { c.TTL = -1 }, "ttl"},
		{"desired log", func(c *tenant.DeliveryConfig) { c.DesiredLogs = []string{"ok", "bad/app"} }, "desired_logs[1]"},
		{"blank group", func(c *tenant.DeliveryConfig) { c.Groups = []string{" "} }, "groups[0]"},
		{"match both", func(c *tenant.DeliveryConfig) {
			c.Match = []tenant.MatchRule{{Select: &tenant.MatchCriteria{}, Exclude: &tenant.MatchCriteria{}}}
		}, "match[0]"},
		{"match neither", func(c *tenant.DeliveryConfig) { c.Match = []tenant.MatchRule{{}} }, "match[0]"},
		{"match label key", func(c *tenant.DeliveryConfig) {
			c.Match = []tenant.MatchRule{{Select: &tenant.MatchCriteria{Labels: map[string]string{"bad key!": "x"}}}}
		}, "match[0].select.labels"},
		{"match label prefix", func(c *tenant.DeliveryConfig) {
			c.Match = []tenant.MatchRule{{Select: &tenant.MatchCriteria{Labels: map[string]string{"Example.COM/app": "x"}}}}
		}, "match[0].select.labels"},
		{"match label value", func(c *tenant.DeliveryConfig) {
			c.Match = []tenant.MatchRule{{Exclude: &tenant.MatchCriteria{Labels: map[string]string{"app": "-bad"}}}}
		}, "match[0].exclude.labels.app"},
		{"match namespace", func(c *tenant.DeliveryConfig) {
			c.Match = []tenant.MatchRule{{Select: &tenant.MatchCriteria{Namespaces: []string{"Payments"}}}}
		}, "match[0].select.namespaces[0]"},
		{"match container", func(c *tenant.DeliveryConfig) {
			c.Match = []tenant.MatchRule{{Select: &tenant.MatchCriteria{ContainerNames: []string{"a_b"}}}}
		}, "match[0].select.container_names[0]"},
		{"match host", func(c *tenant.DeliveryConfig) {
			c.Match = []tenant.MatchRule{{Select: &tenant.MatchCriteria{Hosts: []string{"node..1"}}}}
		}, "match[0].select.hosts[0]"},
		{"match application", func(c *tenant.DeliveryConfig) {
			c.Match = []tenant.MatchRule{{Select: &tenant.MatchCriteria{Applications: []string{"a/b"}}}}
		}, "match[0].select.applications[0]"},
		{"too many rules", func(c *tenant.DeliveryConfig) {
			c.Match = make([]tenant.MatchRule, tenant.MaxMatchRules+1)
		}, "match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s3()
			tc.mutate(&c)
			assert.Equal(t, []string{tc.field}, fields(t, tenant.NewValidationError(c, c.CommonProblems())))
		})
	}
}

func TestValidMatchRules(t *testing.T) {
	c := s3()
	c.Match = []tenant.MatchRule{
		{Exclude: &tenant.MatchCriteria{Labels: map[string]string{"app.kubernetes.io/tier": "debug", "empty": ""}}},
		{Select: &tenant.MatchCriteria{NamespaceLabels: map[string]string{"team": "payments"}, Namespaces: []string{"pay-1"},
			ContainerNames: []string{"api"}, Hosts: []string{"ip-10-0-0-1.ec2.internal"}, Applications: []string{"Payments API"}}},
		{Select: &tenant.MatchCriteria{}},
	}
	assert.Empty(t, c.CommonProblems())
}

func TestCloneIsDeep(t *testing.T) {
	c := s3()
	c.Enabled = tenant.Bool(true)
	c.DesiredLogs = []string{"a"}
	c.Match = []tenant.MatchRule{{Select: &tenant.MatchCriteria{Labels: map[string]string{"app": "x"}, Hosts: []string{"h"}}}}
	c.Settings["nested"] = map[string]any{"list": []any{"x"}}
	d := c.Clone()
	*d.Enabled = false
	d.DesiredLogs[0] = "b"
	d.Match[0].Select.Labels["app"] = "y"
	d.Match[0].Select.Hosts[0] = "g"
	d.Settings["bucket_name"] = "other"
	d.Settings["nested"].(map[string]any)["list"].([]any)[0] = "y"
	assert.True(t, *c.Enabled)
	assert.Equal(t, []string{"a"}, c.DesiredLogs)
	assert.Equal(t, "x", c.Match[0].Select.Labels["app"])
	assert.Equal(t, []string{"h"}, c.Match[0].Select.Hosts)
	assert.Equal(t, "acme-logs", c.Settings["bucket_name"])
	assert.Equal(t, "x", c.Settings["nested"].(map[string]any)["list"].([]any)[0])
}

func TestTTL(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := s3()
	assert.False(t, c.Expired(now), "no ttl: never expires")
	c.TTL = now.Unix() + 1
	assert.False(t, c.Expired(now))
	c.TTL = now.Unix()
	assert.True(t, c.Expired(now), "expired at the ttl second, before DynamoDB deletes it")
}

func TestValidateTenantID(t *testing.T) {
	assert.NoError(t, tenant.ValidateTenantID("acme-1.prod_x"))
	err := tenant.ValidateTenantID("../etc")
	assert.True(t, errors.Is(err, tenant.ErrInvalidConfig))
}

func FuzzDecodeObject(f *testing.F) {
	f.Add(`{"tenant_id":"acme","type":"cloudwatch","log_group_name":"/g","enabled":"true"}`)
	f.Add(`{"tenant_id":"acme","type":"loki","settings":{"url":"https://x","labels":{"a":"b"}},"match":[{"select":{"labels":{"app":"x"}}}]}`)
	f.Add(`{"type":"s3","ttl":1e3,"desired_logs":[null]}`)
	f.Fuzz(func(t *testing.T, item string) {
		var c tenant.DeliveryConfig
		if err := json.Unmarshal([]byte(item), &c); err != nil {
			return
		}
		_ = c.CommonProblems()
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("a decoded config does not encode: %v", err)
		}
		var again tenant.DeliveryConfig
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("an encoded config does not decode: %v\n%s", err, out)
		}
		out2, _ := json.Marshal(again)
		if string(out) != string(out2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", out, out2)
		}
	})
}

func TestRevision(t *testing.T) {
	a := s3()
	r := a.Revision()
	assert.Len(t, r, 16)
	b := a.Clone()
	b.Enabled, b.TTL, b.CreatedAt, b.UpdatedAt = tenant.Bool(false), 5, "x", "y"
	assert.Equal(t, r, b.Revision(), "saving, disabling and expiry do not make a new revision")
	c := a.Clone()
	c.Settings["bucket_name"] = "other-bucket"
	assert.NotEqual(t, r, c.Revision(), "a new destination is a new revision")
	d := a.Clone()
	d.DesiredLogs = []string{"api"}
	assert.NotEqual(t, r, d.Revision())
}
