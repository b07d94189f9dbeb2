package loki_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/loki"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/tenant"
)

func validate(t *testing.T, k deliver.Kind, settings map[string]any) []tenant.FieldError {
	t.Helper()
	reg, err := deliver.NewRegistry([]deliver.Kind{k})
	require.NoError(t, err)
	err = reg.Validate(tenant.DeliveryConfig{TenantID: "acme", Type: loki.KindName, Settings: settings})
	if err == nil {
		return nil
	}
	assert.True(t, fault.IsPermanent(err), "a settings problem is the tenant's: permanent (422)")
	var ve *tenant.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	return ve.Problems
}

// Every rule of the settings, through the registry as the configuration
// API validates an item (a *tenant.ValidationError is its 422).
func TestSettingsValidation(t *testing.T) {
	const u = "https://loki.acme.com"
	for _, tc := range []struct {
		name     string
		settings map[string]any
		field    string // the problem's field; "" for valid settings
		msg      string
	}{
		{name: "Minimal", settings: map[string]any{"url": u}},
		{name: "Full", settings: map[string]any{
			"url": u + "/loki/api/v1/push", "org_id": "acme-prod", "labels": map[string]any{"env": "prod", "team": "{namespace}-{application}"},
			"label_fields":    map[string]any{"namespace": "namespace", "app": "pod_labels.app.kubernetes.io/name", "stream": "stream"},
			"metadata_fields": map[string]any{"pod": "pod", "node": "host", "container": "container"},
			"auth":            map[string]any{"username": "acme", "password_ref": "file:acme/loki"},
			"batch_bytes":     2 << 20, "batch_entries": 5000, "timeout_seconds": 30, "max_line_size": 1 << 20, "oversize_lines": "drop",
		}},
		{name: "Bearer", settings: map[string]any{"url": u, "auth": map[string]any{"token_ref": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:logdelivery/acme/loki-AbCdEf"}}},
		{name: "MissingURL", settings: map[string]any{"labels": map[string]any{"a": "b"}}, field: "settings.url", msg: "is required"},
		{name: "HTTP", settings: map[string]any{"url": "http://loki.acme.com"}, field: "settings.url", msg: "http scheme is not allowed"},
		{name: "Loopback", settings: map[string]any{"url": "https://127.0.0.1"}, field: "settings.url", msg: "loopback"},
		{name: "Metadata", settings: map[string]any{"url": "https://169.254.169.254"}, field: "settings.url", msg: "metadata"},
		{name: "Private", settings: map[string]any{"url": "https://10.0.0.5"}, field: "settings.url", msg: "private"},
		{name: "LokiPortNotAllowed", settings: map[string]any{"url": "https://loki.acme.com:3100"}, field: "settings.url", msg: "port 3100 is not allowed"},
		{name: "Userinfo", settings: map[string]any{"url": "https://user:pw@loki.acme.com"}, field: "settings.url", msg: "userinfo"},
		{name: "Query", settings: map[string]any{"url": u + "?token=x"}, field: "settings.url", msg: "query string"},
		{name: "OrgIDPipe", settings: map[string]any{"url": u, "org_id": "acme|globex"}, field: "settings.org_id", msg: "'|'"},
		{name: "OrgIDDots", settings: map[string]any{"url": u, "org_id": ".."}, field: "settings.org_id", msg: `".."`},
		{name: "OrgIDLong", settings: map[string]any{"url": u, "org_id": strings.Repeat("a", 151)}, field: "settings.org_id", msg: "150"},
		{name: "OrgIDPunctuation", settings: map[string]any{"url": u, "org_id": "a!-_.*'()b"}},
		{name: "LabelName", settings: map[string]any{"url": u, "labels": map[string]any{"app.name": "x"}}, field: "settings.labels.app.name", msg: "not a label name"},
		{name: "LabelNameDigit", settings: map[string]any{"url": u, "labels": map[string]any{"1a": "x"}}, field: "settings.labels.1a", msg: "not a label name"},
		{name: "ReservedLabel", settings: map[string]any{"url": u, "labels": map[string]any{"__name__": "x"}}, field: "settings.labels.__name__", msg: "reserved"},
		{name: "EmptyLabelValue", settings: map[string]any{"url": u, "labels": map[string]any{"a": ""}}, field: "settings.labels.a", msg: "empty"},
		{name: "UnknownPlaceholder", settings: map[string]any{"url": u, "labels": map[string]any{"a": "{tenant_id}"}}, field: "settings.labels.a", msg: "{namespace} and {application}"},
		{name: "OrgIDPlaceholder", settings: map[string]any{"url": u, "labels": map[string]any{"a": "{org_id}"}}, field: "settings.labels.a", msg: "placeholders"},
		{name: "LoneBrace", settings: map[string]any{"url": u, "labels": map[string]any{"a": "x}"}}, field: "settings.labels.a", msg: "placeholders"},
		{name: "UnknownField", settings: map[string]any{"url": u, "label_fields": map[string]any{"tenant": "tenant_id"}}, field: "settings.label_fields.tenant", msg: "not a record field"},
		{name: "BadPodLabel", settings: map[string]any{"url": u, "label_fields": map[string]any{"x": "pod_labels.-bad"}}, field: "settings.label_fields.x", msg: "Kubernetes label key"},
		{name: "DuplicateLabel", settings: map[string]any{"url": u, "labels": map[string]any{"app": "x"}, "label_fields": map[string]any{"app": "application"}},
			field: "settings.label_fields.app", msg: "also set by labels.app"},
		{name: "DefaultFieldClash", settings: map[string]any{"url": u, "labels": map[string]any{"namespace": "x"}}, field: "settings.labels", msg: "default label_fields"},
		{name: "TooManyLabels", settings: map[string]any{"url": u, "labels": manyLabels(13)}, field: "settings.labels", msg: "16 labels"},
		{name: "MetadataName", settings: map[string]any{"url": u, "metadata_fields": map[string]any{"pod-uid": "pod"}}, field: "settings.metadata_fields.pod-uid", msg: "not a label name"},
		{name: "UsernameWithoutPassword", settings: map[string]any{"url": u, "auth": map[string]any{"username": "acme"}}, field: "settings.auth.password_ref", msg: "required"},
		{name: "PasswordWithoutUsername", settings: map[string]any{"url": u, "auth": map[string]any{"password_ref": "file:acme/p"}}, field: "settings.auth.username", msg: "required"},
		{name: "BasicAndBearer", settings: map[string]any{"url": u, "auth": map[string]any{"username": "a", "password_ref": "file:acme/p", "token_ref": "file:acme/t"}},
			field: "settings.auth", msg: "exclude each other"},
		{name: "SecretValueNotReference", settings: map[string]any{"url": u, "auth": map[string]any{"token_ref": "hunter2"}}, field: "settings.auth", msg: "invalid secret reference"},
		{name: "UnknownAuthField", settings: map[string]any{"url": u, "auth": map[string]any{"password": "hunter2"}}, field: "settings.auth", msg: "unknown field"},
		{name: "BatchBytesSmall", settings: map[string]any{"url": u, "batch_bytes": 100}, field: "settings.batch_bytes", msg: "4096 to 16777216"},
		{name: "BatchEntriesLarge", settings: map[string]any{"url": u, "batch_entries": 1_000_000}, field: "settings.batch_entries", msg: "1 to 100000"},
		{name: "Timeout", settings: map[string]any{"url": u, "timeout_seconds": 600}, field: "settings.timeout_seconds", msg: "1 to 60"},
		{name: "LineOverBatch", settings: map[string]any{"url": u, "batch_bytes": 8192, "max_line_size": 10000}, field: "settings.max_line_size", msg: "batch_bytes (8192)"},
		{name: "Oversize", settings: map[string]any{"url": u, "oversize_lines": "split"}, field: "settings.oversize_lines", msg: `"truncate" or "drop"`},
		{name: "WrongType", settings: map[string]any{"url": u, "labels": []any{"a"}}, field: "settings.labels", msg: "must be an object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := validate(t, loki.Kind(), tc.settings)
			if tc.field == "" {
				assert.Empty(t, problems)
				return
			}
			require.NotEmpty(t, problems, "settings %v", tc.settings)
			var fields []string
			for _, p := range problems {
				fields = append(fields, p.Field)
				if p.Field == tc.field {
					assert.Contains(t, p.Message, tc.msg)
				}
			}
			assert.Contains(t, fields, tc.field, "problems %v", problems)
		})
	}
}

func manyLabels(n int) map[string]any {
	m := map[string]any{}
	for i := range n {
		m["l"+strings.Repeat("x", i)] = "v"
	}
	return m
}

// Kind validates with the strict default policy; KindWith and
// (*Deliverer).Kind with the operator's, so that a processor allowing an
// internal Loki on port 3100 accepts it and a configuration API of the
// same policy does too.
func TestKindPolicies(t *testing.T) {
	settings := map[string]any{"url": "http://127.0.0.1:3100"}
	assert.NotEmpty(t, validate(t, loki.Kind(), settings))
	assert.Empty(t, validate(t, loki.KindWith(testPolicy), settings))
	assert.Empty(t, validate(t, newDeliverer(t).Kind(), settings))
	strict, err := loki.New()
	require.NoError(t, err)
	assert.NotEmpty(t, validate(t, strict.Kind(), settings))
}

// Settings ask the decoder for the host and pod labels only when they use
// them.
func TestRecordFields(t *testing.T) {
	s := &loki.Settings{}
	assert.Equal(t, deliver.Fields(0), s.RecordFields())
	s.MetadataFields = map[string]string{"node": "host"}
	assert.Equal(t, deliver.FieldHost, s.RecordFields())
	s.LabelFields = map[string]string{"app": "pod_labels.app"}
	assert.Equal(t, deliver.FieldHost|deliver.FieldLabels, s.RecordFields())
}

func TestNewOptions(t *testing.T) {
	for name, fn := range map[string]func(*loki.Options){
		"BatchBytes":   func(o *loki.Options) { o.BatchBytes = 10 },
		"BatchEntries": func(o *loki.Options) { o.BatchEntries = -1 },
		"LineOver":     func(o *loki.Options) { o.BatchBytes, o.MaxLineSize = 8192, 9000 },
		"Timeout":      func(o *loki.Options) { o.Timeout = time.Hour },
		"Retry":        func(o *loki.Options) { o.RetryBase, o.RetryMax = time.Second, time.Millisecond },
		"Attempts":     func(o *loki.Options) { o.MaxAttempts = -1 },
		"Policy":       func(o *loki.Options) { o.Egress.Ports = []int{70000} },
	} {
		_, err := loki.New(fn)
		assert.Error(t, err, name)
	}
}
