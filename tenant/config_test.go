package tenant_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
)

func cloudwatch() tenant.DeliveryConfig {
	return tenant.DeliveryConfig{
		TenantID: "acme", Type: "cloudwatch",
		LogDistributionRoleARN: "arn:aws:iam::222222222222:role/CustomerLogDistribution-us-east-1",
		LogGroupName:           "/rosa/acme",
	}
}

func s3() tenant.DeliveryConfig {
	return tenant.DeliveryConfig{TenantID: "acme", Type: "s3", BucketName: "acme-logs"}
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
	// Items exactly as the seed schema describes them.
	var c tenant.DeliveryConfig
	require.NoError(t, json.Unmarshal([]byte(`{
		"tenant_id": "acme", "type": "cloudwatch",
		"log_distribution_role_arn": "arn:aws:iam::222222222222:role/CustomerLogDistribution-us-east-1",
		"log_group_name": "/aws/rosa/acme/logs", "target_region": "us-east-1",
		"desired_logs": ["kube-apiserver"], "groups": ["API"],
		"created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"}`), &c))
	assert.NoError(t, c.Validate())
	assert.True(t, c.IsEnabled(), "enabled defaults to true when absent")
	assert.Equal(t, "cloudwatch", c.Kind())

	var s tenant.DeliveryConfig
	require.NoError(t, json.Unmarshal([]byte(`{"tenant_id":"acme","type":"s3","bucket_name":"acme-logs","enabled":false}`), &s))
	assert.NoError(t, s.Validate())
	assert.False(t, s.IsEnabled())
	assert.Equal(t, "ROSA/cluster-logs/", s.Prefix(), "default bucket prefix")
}

func TestValidConfigs(t *testing.T) {
	for name, mutate := range map[string]func(*tenant.DeliveryConfig){
		"plain":      func(*tenant.DeliveryConfig) {},
		"named type": func(c *tenant.DeliveryConfig) { c.Type = "cloudwatch:audit" },
		"role with path": func(c *tenant.DeliveryConfig) {
			c.LogDistributionRoleARN = "arn:aws:iam::222222222222:role/logging/team-a/Role+=,.@-1"
		},
		"china partition":  func(c *tenant.DeliveryConfig) { c.LogDistributionRoleARN = "arn:aws-cn:iam::222222222222:role/R" },
		"govcloud":         func(c *tenant.DeliveryConfig) { c.LogDistributionRoleARN = "arn:aws-us-gov:iam::222222222222:role/R" },
		"region":           func(c *tenant.DeliveryConfig) { c.TargetRegion = "ap-southeast-2" },
		"gov region":       func(c *tenant.DeliveryConfig) { c.TargetRegion = "us-gov-west-1" },
		"group name chars": func(c *tenant.DeliveryConfig) { c.LogGroupName = "a.b-c_d/e#f" },
		"external id":      func(c *tenant.DeliveryConfig) { c.ExternalID = "123456789012" },
	} {
		c := cloudwatch()
		mutate(&c)
		assert.NoError(t, c.Validate(), name)
	}
	for name, mutate := range map[string]func(*tenant.DeliveryConfig){
		"plain":  func(*tenant.DeliveryConfig) {},
		"dotted": func(c *tenant.DeliveryConfig) { c.BucketName = "acme.logs.example" },
		"kms arn": func(c *tenant.DeliveryConfig) {
			c.KMSKeyID = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		},
		"kms alias":    func(c *tenant.DeliveryConfig) { c.KMSKeyID = "alias/logs" },
		"bucket owner": func(c *tenant.DeliveryConfig) { c.BucketOwner = "222222222222" },
		"prefix":       func(c *tenant.DeliveryConfig) { c.BucketPrefix = "custom/prefix" },
		"archive":      func(c *tenant.DeliveryConfig) { c.Type = "s3:archive" },
	} {
		c := s3()
		mutate(&c)
		assert.NoError(t, c.Validate(), name)
	}
}

func TestEachRule(t *testing.T) {
	for _, tc := range []struct {
		name   string
		base   func() tenant.DeliveryConfig
		mutate func(*tenant.DeliveryConfig)
		field  string
	}{
		{"no tenant", cloudwatch, func(c *tenant.DeliveryConfig) { c.TenantID = "" }, "tenant_id"},
		{"tenant charset", cloudwatch, func(c *tenant.DeliveryConfig) { c.TenantID = "ac me" }, "tenant_id"},
		{"tenant leading dash", cloudwatch, func(c *tenant.DeliveryConfig) { c.TenantID = "-acme" }, "tenant_id"},
		{"tenant too long", cloudwatch, func(c *tenant.DeliveryConfig) { c.TenantID = strings.Repeat("a", 129) }, "tenant_id"},
		{"no type", cloudwatch, func(c *tenant.DeliveryConfig) { c.Type = "" }, "type"},
		{"bad type", cloudwatch, func(c *tenant.DeliveryConfig) { c.Type = "CloudWatch" }, "type"},
		{"bad type name", cloudwatch, func(c *tenant.DeliveryConfig) { c.Type = "cloudwatch:Archive!" }, "type"},
		{"type too long", cloudwatch, func(c *tenant.DeliveryConfig) { c.Type = strings.Repeat("a", 65) }, "type"},
		{"role missing", cloudwatch, func(c *tenant.DeliveryConfig) { c.LogDistributionRoleARN = "" }, "log_distribution_role_arn"},
		{"role not iam", cloudwatch, func(c *tenant.DeliveryConfig) { c.LogDistributionRoleARN = "arn:aws:s3:::bucket" }, "log_distribution_role_arn"},
		{"role bad account", cloudwatch, func(c *tenant.DeliveryConfig) { c.LogDistributionRoleARN = "arn:aws:iam::2222:role/R" }, "log_distribution_role_arn"},
		{"role bad partition", cloudwatch, func(c *tenant.DeliveryConfig) { c.LogDistributionRoleARN = "arn:azure:iam::222222222222:role/R" }, "log_distribution_role_arn"},
		{"user not role", cloudwatch, func(c *tenant.DeliveryConfig) { c.LogDistributionRoleARN = "arn:aws:iam::222222222222:user/R" }, "log_distribution_role_arn"},
		{"group missing", cloudwatch, func(c *tenant.DeliveryConfig) { c.LogGroupName = "" }, "log_group_name"},
		{"group chars", cloudwatch, func(c *tenant.DeliveryConfig) { c.LogGroupName = "bad group" }, "log_group_name"},
		{"group too long", cloudwatch, func(c *tenant.DeliveryConfig) { c.LogGroupName = strings.Repeat("g", 513) }, "log_group_name"},
		{"region", cloudwatch, func(c *tenant.DeliveryConfig) { c.TargetRegion = "US-EAST-1" }, "target_region"},
		{"ttl", cloudwatch, func(c *tenant.DeliveryConfig) { c.TTL = -1 }, "ttl"},
		{"desired log", cloudwatch, func(c *tenant.DeliveryConfig) { c.DesiredLogs = []string{"ok", "bad/app"} }, "desired_logs[1]"},
		{"blank group", cloudwatch, func(c *tenant.DeliveryConfig) { c.Groups = []string{" "} }, "groups[0]"},
		{"external id", cloudwatch, func(c *tenant.DeliveryConfig) { c.ExternalID = "has space" }, "external_id"},
		{"bucket missing", s3, func(c *tenant.DeliveryConfig) { c.BucketName = "" }, "bucket_name"},
		{"bucket short", s3, func(c *tenant.DeliveryConfig) { c.BucketName = "ab" }, "bucket_name"},
		{"bucket upper", s3, func(c *tenant.DeliveryConfig) { c.BucketName = "Acme-Logs" }, "bucket_name"},
		{"bucket ip", s3, func(c *tenant.DeliveryConfig) { c.BucketName = "192.168.5.4" }, "bucket_name"},
		{"bucket dots", s3, func(c *tenant.DeliveryConfig) { c.BucketName = "a..b" }, "bucket_name"},
		{"bucket dot dash", s3, func(c *tenant.DeliveryConfig) { c.BucketName = "a.-b" }, "bucket_name"},
		{"bucket reserved prefix", s3, func(c *tenant.DeliveryConfig) { c.BucketName = "xn--abc" }, "bucket_name"},
		{"bucket reserved suffix", s3, func(c *tenant.DeliveryConfig) { c.BucketName = "abc-s3alias" }, "bucket_name"},
		{"prefix dot-dot", s3, func(c *tenant.DeliveryConfig) { c.BucketPrefix = "a/../b" }, "bucket_prefix"},
		{"prefix control", s3, func(c *tenant.DeliveryConfig) { c.BucketPrefix = "a\nb" }, "bucket_prefix"},
		{"owner", s3, func(c *tenant.DeliveryConfig) { c.BucketOwner = "12" }, "bucket_owner"},
		{"kms", s3, func(c *tenant.DeliveryConfig) { c.KMSKeyID = "not a key" }, "kms_key_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.base()
			tc.mutate(&c)
			assert.Equal(t, []string{tc.field}, fields(t, c.Validate()))
		})
	}
}

func TestManyProblemsAtOnce(t *testing.T) {
	c := tenant.DeliveryConfig{TenantID: "bad id", Type: "cloudwatch", TargetRegion: "nowhere", LogGroupName: "bad name"}
	err := c.Validate()
	assert.ElementsMatch(t, []string{"tenant_id", "target_region", "log_distribution_role_arn", "log_group_name"}, fields(t, err))
	for _, f := range []string{"tenant_id", "target_region", "log_distribution_role_arn", "log_group_name"} {
		assert.Contains(t, err.Error(), f, "the message names every field")
	}
}

func TestOtherKindsGetCommonChecksOnly(t *testing.T) {
	c := tenant.DeliveryConfig{TenantID: "acme", Type: "webhook"}
	assert.NoError(t, c.Validate())
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

func TestPrefix(t *testing.T) {
	for in, want := range map[string]string{"": "ROSA/cluster-logs/", "a": "a/", "/a/b/": "a/b/", "a//": "a/", "/": ""} {
		c := s3()
		c.BucketPrefix = in
		assert.Equal(t, want, c.Prefix(), "%q", in)
	}
}

func TestValidateTenantID(t *testing.T) {
	assert.NoError(t, tenant.ValidateTenantID("acme-1.prod_x"))
	err := tenant.ValidateTenantID("../etc")
	assert.True(t, errors.Is(err, tenant.ErrInvalidConfig))
}
