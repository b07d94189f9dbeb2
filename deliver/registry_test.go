package deliver_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/groups"
	"github.com/logdelivery/logdelivery/tenant"
)

// hookSettings are the settings of a kind that nests them, for tests.
type hookSettings struct {
	URL     string            `json:"url,omitempty" required:"true" doc:"Where to send."`
	Gzip    bool              `json:"gzip,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Retries int               `json:"retries,omitempty"`
}

func (s *hookSettings) Validate(tenant.DeliveryConfig) []tenant.FieldError {
	if s.URL != "" && !strings.HasPrefix(s.URL, "https://") {
		return []tenant.FieldError{{Field: "url", Message: "must be https"}}
	}
	return nil
}

func hookKind() deliver.Kind {
	return deliver.Kind{Name: "webhook", NewSettings: func() deliver.Settings { return new(hookSettings) }, Records: true}
}

func registry(t *testing.T) *deliver.Registry {
	t.Helper()
	r, err := deliver.NewRegistry([]deliver.Kind{cloudwatch.Kind(), s3.Kind(), hookKind()})
	require.NoError(t, err)
	return r
}

func cw() tenant.DeliveryConfig {
	return tenant.DeliveryConfig{TenantID: "acme", Type: "cloudwatch", Settings: map[string]any{
		"log_distribution_role_arn": "arn:aws:iam::222222222222:role/CustomerLogDistribution-us-east-1",
		"log_group_name":            "/rosa/acme",
	}}
}

func bucket() tenant.DeliveryConfig {
	return tenant.DeliveryConfig{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-logs"}}
}

// problems returns the fields a validation error names.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var ve *tenant.ValidationError
	require.ErrorAs(t, err, &ve)
	var out []string
	for _, p := range ve.Problems {
		assert.NotEmpty(t, p.Message)
		out = append(out, p.Field)
	}
	return out
}

func set(name string, v any) func(*tenant.DeliveryConfig) {
	return func(c *tenant.DeliveryConfig) {
		if v == nil {
			delete(c.Settings, name)
			return
		}
		c.Settings[name] = v
	}
}

func TestValidConfigs(t *testing.T) {
	r := registry(t)
	for name, mutate := range map[string]func(*tenant.DeliveryConfig){
		"plain":            func(*tenant.DeliveryConfig) {},
		"named type":       func(c *tenant.DeliveryConfig) { c.Type = "cloudwatch:audit" },
		"role with path":   set("log_distribution_role_arn", "arn:aws:iam::222222222222:role/logging/team-a/Role+=,.@-1"),
		"china partition":  set("log_distribution_role_arn", "arn:aws-cn:iam::222222222222:role/R"),
		"govcloud":         set("log_distribution_role_arn", "arn:aws-us-gov:iam::222222222222:role/R"),
		"region":           func(c *tenant.DeliveryConfig) { c.TargetRegion = "ap-southeast-2" },
		"gov region":       func(c *tenant.DeliveryConfig) { c.TargetRegion = "us-gov-west-1" },
		"group name chars": set("log_group_name", "a.b-c_d/e#f"),
		"external id":      set("external_id", "123456789012"),
		"groups":           func(c *tenant.DeliveryConfig) { c.Groups = []string{"api", " Controller Manager "} },
	} {
		c := cw()
		mutate(&c)
		assert.NoError(t, r.Validate(c), name)
	}
	for name, mutate := range map[string]func(*tenant.DeliveryConfig){
		"plain":        func(*tenant.DeliveryConfig) {},
		"dotted":       set("bucket_name", "acme.logs.example"),
		"kms arn":      set("kms_key_id", "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
		"kms alias":    set("kms_key_id", "alias/logs"),
		"bucket owner": set("bucket_owner", "222222222222"),
		"prefix":       set("bucket_prefix", "custom/prefix"),
		"archive":      func(c *tenant.DeliveryConfig) { c.Type = "s3:archive" },
	} {
		c := bucket()
		mutate(&c)
		assert.NoError(t, r.Validate(c), name)
	}
}

func TestEachRule(t *testing.T) {
	r := registry(t)
	for _, tc := range []struct {
		name   string
		base   func() tenant.DeliveryConfig
		mutate func(*tenant.DeliveryConfig)
		field  string
		msg    string
	}{
		{"role missing", cw, set("log_distribution_role_arn", nil), "log_distribution_role_arn", "required"},
		{"role not iam", cw, set("log_distribution_role_arn", "arn:aws:s3:::bucket"), "log_distribution_role_arn", "not an IAM role ARN"},
		{"role bad account", cw, set("log_distribution_role_arn", "arn:aws:iam::2222:role/R"), "log_distribution_role_arn", ""},
		{"role bad partition", cw, set("log_distribution_role_arn", "arn:azure:iam::222222222222:role/R"), "log_distribution_role_arn", ""},
		{"user not role", cw, set("log_distribution_role_arn", "arn:aws:iam::222222222222:user/R"), "log_distribution_role_arn", ""},
		{"role not a string", cw, set("log_distribution_role_arn", 7.0), "log_distribution_role_arn", "must be a string"},
		{"group missing", cw, set("log_group_name", nil), "log_group_name", "required"},
		{"group chars", cw, set("log_group_name", "bad group"), "log_group_name", ""},
		{"group too long", cw, set("log_group_name", strings.Repeat("g", 513)), "log_group_name", ""},
		{"group reserved", cw, set("log_group_name", "aws/x"), "log_group_name", "reserved"},
		{"external id", cw, set("external_id", "has space"), "external_id", ""},
		{"field of another kind", cw, set("bucket_name", "acme-logs"), "bucket_name", `belongs to kind "s3"`},
		{"unknown field", cw, set("log_grup_name", "/x"), "log_grup_name", `is not a setting of kind "cloudwatch"`},
		{"unknown group", cw, func(c *tenant.DeliveryConfig) { c.Groups = []string{"API", "Authentcation"} }, "groups[1]", `known groups (case-insensitive): "API", "Authentication"`},
		{"unknown kind", cw, func(c *tenant.DeliveryConfig) { c.Type = "cloudwach" }, "type", `known kinds: "cloudwatch", "s3", "webhook"`},
		{"bucket missing", bucket, set("bucket_name", nil), "bucket_name", "required"},
		{"bucket short", bucket, set("bucket_name", "ab"), "bucket_name", ""},
		{"bucket upper", bucket, set("bucket_name", "Acme-Logs"), "bucket_name", ""},
		{"bucket ip", bucket, set("bucket_name", "192.168.5.4"), "bucket_name", ""},
		{"bucket dots", bucket, set("bucket_name", "a..b"), "bucket_name", ""},
		{"bucket dot dash", bucket, set("bucket_name", "a.-b"), "bucket_name", ""},
		{"bucket reserved prefix", bucket, set("bucket_name", "xn--abc"), "bucket_name", ""},
		{"bucket reserved suffix", bucket, set("bucket_name", "abc-s3alias"), "bucket_name", ""},
		{"prefix dot-dot", bucket, set("bucket_prefix", "a/../b"), "bucket_prefix", ""},
		{"prefix control", bucket, set("bucket_prefix", "a\nb"), "bucket_prefix", ""},
		{"owner", bucket, set("bucket_owner", "12"), "bucket_owner", ""},
		{"kms", bucket, set("kms_key_id", "not a key"), "kms_key_id", ""},
		{"s3 field on cloudwatch", bucket, set("log_group_name", "/x"), "log_group_name", `belongs to kind "cloudwatch"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.base()
			tc.mutate(&c)
			err := r.Validate(c)
			assert.Equal(t, []string{tc.field}, problems(t, err))
			assert.ErrorContains(t, err, tc.msg)
			assert.ErrorIs(t, err, tenant.ErrInvalidConfig)
		})
	}
}

func TestManyProblemsAtOnce(t *testing.T) {
	r := registry(t)
	c := tenant.DeliveryConfig{TenantID: "bad id", Type: "cloudwatch", TargetRegion: "nowhere", Groups: []string{"nope"},
		Settings: map[string]any{"log_group_name": "bad name", "bucket_name": "x"}}
	err := r.Validate(c)
	want := []string{"tenant_id", "target_region", "groups[0]", "bucket_name", "log_distribution_role_arn", "log_group_name"}
	assert.ElementsMatch(t, want, problems(t, err), "every problem at once: common fields, groups, settings, the kind's rules")
	for _, f := range want {
		assert.Contains(t, err.Error(), f, "the message names every field")
	}
}

func TestNestedSettings(t *testing.T) {
	r := registry(t)
	c := tenant.DeliveryConfig{TenantID: "acme", Type: "webhook:audit", Settings: map[string]any{
		"url": "https://hooks.example/x", "gzip": true, "headers": map[string]any{"X-Team": "pay"}, "retries": 3.0,
	}}
	s, err := r.Settings(c)
	require.NoError(t, err)
	assert.Equal(t, &hookSettings{URL: "https://hooks.example/x", Gzip: true, Headers: map[string]string{"X-Team": "pay"}, Retries: 3}, s)

	c.Settings = map[string]any{"url": "http://plain", "gzip": "yes", "headers": map[string]any{"X": 1.0}, "log_group_name": "/g", "retries": 1.5}
	err = r.Validate(c)
	assert.ElementsMatch(t, []string{"settings.gzip", "settings.headers", "settings.log_group_name", "settings.retries", "settings.url"}, problems(t, err),
		"nested settings are named settings.NAME, and the kind's rules run on what decoded")
	c.Settings = map[string]any{"url": "http://plain"}
	assert.Equal(t, []string{"settings.url"}, problems(t, r.Validate(c)), "the kind's own rule")
	c.Settings = nil
	assert.Equal(t, []string{"settings.url"}, problems(t, r.Validate(c)), "required")
}

func TestRegistry(t *testing.T) {
	r := registry(t)
	assert.Equal(t, []string{"cloudwatch", "s3", "webhook"}, r.Names())
	k, ok := r.Kind("cloudwatch")
	assert.True(t, ok)
	assert.True(t, k.Records)
	assert.Nil(t, r.Deliverer("cloudwatch"), "a validation-only registry")
	var names []string
	for _, f := range r.Fields("s3") {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"bucket_name", "bucket_prefix", "bucket_owner", "kms_key_id"}, names)
	assert.Nil(t, r.Fields("nope"))
	assert.Equal(t, "settings.url", deliver.SettingsField("webhook", "url"))
	assert.Equal(t, "bucket_name", deliver.SettingsField("s3", "bucket_name"))

	for name, kinds := range map[string][]deliver.Kind{
		"duplicate":        {s3.Kind(), s3.Kind()},
		"bad name":         {{Name: "Bad", NewSettings: hookKind().NewSettings}},
		"no settings":      {{Name: "x"}},
		"not a struct":     {{Name: "x", NewSettings: func() deliver.Settings { return badSettings{} }}},
		"common field tag": {{Name: "x", NewSettings: func() deliver.Settings { return new(clashSettings) }}},
	} {
		_, err := deliver.NewRegistry(kinds)
		assert.Error(t, err, name)
	}
	custom := groups.NewRegistry()
	require.NoError(t, custom.Register("Payments", "payments-api"))
	r, err := deliver.NewRegistry([]deliver.Kind{s3.Kind()}, func(o *deliver.RegistryOptions) { o.Groups = custom })
	require.NoError(t, err)
	c := bucket()
	c.Groups = []string{"payments"}
	assert.NoError(t, r.Validate(c))
}

type badSettings struct{}

func (badSettings) Validate(tenant.DeliveryConfig) []tenant.FieldError { return nil }

type clashSettings struct {
	TTL string `json:"ttl"`
}

func (*clashSettings) Validate(tenant.DeliveryConfig) []tenant.FieldError { return nil }

type closingDeliverer struct {
	closed int
	err    error
}

func (*closingDeliverer) Deliver(context.Context, *deliver.Delivery) (deliver.Receipt, error) {
	return deliver.Receipt{}, nil
}

func (c *closingDeliverer) Close() error { c.closed++; return c.err }

func TestRegistryCloseClosesEachDelivererOnce(t *testing.T) {
	shared := &closingDeliverer{}
	failing := &closingDeliverer{err: errors.New("flush failed")}
	a, b := s3.Kind(), cloudwatch.Kind()
	a.Deliverer, b.Deliverer = shared, shared
	h := hookKind()
	h.Deliverer = failing
	r, err := deliver.NewRegistry([]deliver.Kind{a, b, h, {Name: "func", NewSettings: hookKind().NewSettings,
		Deliverer: deliver.DelivererFunc(func(context.Context, *deliver.Delivery) (deliver.Receipt, error) { return deliver.Receipt{}, nil })}})
	require.NoError(t, err)
	err = r.Close()
	assert.ErrorContains(t, err, "flush failed")
	assert.ErrorContains(t, err, "webhook")
	assert.Equal(t, 1, shared.closed, "a deliverer of two kinds is closed once")
	assert.Equal(t, 1, failing.closed)
}

func TestSettingsObject(t *testing.T) {
	obj := deliver.SettingsObject(&s3.Settings{BucketName: "acme-logs", BucketOwner: "222222222222"})
	assert.Equal(t, map[string]any{"bucket_name": "acme-logs", "bucket_owner": "222222222222"}, obj)
	r := registry(t)
	assert.NoError(t, r.Validate(tenant.DeliveryConfig{TenantID: "acme", Type: "s3", Settings: obj}))
}
