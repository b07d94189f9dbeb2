package credentials_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/fault"
)

const secretValue = "s3cr3t-hunter2-value"

func TestSecretRedacted(t *testing.T) {
	s := credentials.NewSecret(secretValue)
	assert.Equal(t, secretValue, s.Reveal())
	assert.Equal(t, []byte(secretValue), s.Bytes())
	assert.False(t, s.IsZero())
	assert.True(t, credentials.Secret{}.IsZero())
	assert.Equal(t, "", credentials.Secret{}.Reveal())

	type holder struct {
		Exported credentials.Secret
		hidden   credentials.Secret
		Ptr      *credentials.Secret
	}
	h := holder{Exported: s, hidden: s, Ptr: &s}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s", "%T"} {
		for _, v := range []any{s, &s, h, &h, []credentials.Secret{s}, map[string]credentials.Secret{"k": s}} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, secretValue, "%s of %T", verb, v)
			assert.NotContains(t, out, fmt.Sprintf("%x", secretValue), "%s of %T", verb, v)
			assert.NotContains(t, strings.ToLower(out), fmt.Sprintf("%x", secretValue), "%s of %T", verb, v)
		}
	}
	assert.Equal(t, "[redacted]", fmt.Sprintf("%v", s))
	assert.Equal(t, "[redacted]", fmt.Sprintf("%#v", s))
	assert.Equal(t, "[redacted]", fmt.Sprintf("%q", s))
	assert.Equal(t, "[redacted]", s.String())
	assert.Equal(t, "[redacted]", s.GoString())
	assert.Equal(t, "[redacted]", fmt.Sprint(s))
	assert.Equal(t, "[redacted]", fmt.Sprintln(s)[:10])

	out, err := json.Marshal(h)
	require.NoError(t, err)
	assert.JSONEq(t, `{"Exported":"[redacted]","Ptr":"[redacted]"}`, string(out))
	text, err := s.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "[redacted]", string(text))
	out, err = json.Marshal(map[credentials.Secret]int{s: 1}) // a TextMarshaler map key
	require.NoError(t, err)
	assert.NotContains(t, string(out), secretValue)

	// A config cannot carry a value: Secret does not unmarshal.
	assert.Error(t, json.Unmarshal([]byte(`"`+secretValue+`"`), new(credentials.Secret)))

	var buf bytes.Buffer
	for _, hd := range []slog.Handler{
		slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
		slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
	} {
		log := slog.New(hd)
		log.Info("secret", "value", s, "ptr", &s, "holder", h, "any", any(holder{hidden: s}))
		log.Info("group", slog.Group("g", slog.Any("s", s)))
		log.With("s", s).Debug("with")
	}
	assert.Contains(t, buf.String(), "[redacted]")
	assert.NotContains(t, buf.String(), secretValue)
}

// Errors wrapping a Secret by mistake still do not show it.
func TestSecretInErrors(t *testing.T) {
	s := credentials.NewSecret(secretValue)
	err := fmt.Errorf("sending %v with %s: %w", s, s, errors.New("boom"))
	assert.NotContains(t, err.Error(), secretValue)
}

func TestNamePrefixRule(t *testing.T) {
	rule, err := credentials.NamePrefixRule(credentials.DefaultNamePrefix)
	require.NoError(t, err)
	for _, tc := range []struct {
		tenant, ref string
		ok          bool
	}{
		{"acme", "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/loki-AbCdEf", true},
		{"acme", "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/a/b#k", true},
		{"acme", "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/", false},
		{"acme", "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme-corp/x", false},
		{"acme", "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/other/x", false},
		{"acme", "arn:aws:secretsmanager:us-east-1:123456789012:secret:/logdelivery/acme/x", false},
		{"acme", "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acmex", false},
		{"acme", "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-password", false},
		{"acme", "arn:aws:ssm:us-east-1:123456789012:parameter/logdelivery/acme/token", true},
		{"acme", "arn:aws:ssm:us-east-1:123456789012:parameter/logdelivery/other/token", false},
		{"acme", "arn:aws:ssm:us-east-1:123456789012:parameter/logdeliveryacmetoken", false},
		{"acme", "file:logdelivery/acme/x", true},
		{"acme", "file:acme/x", false},
	} {
		ref, err := credentials.ParseSecretRef(tc.ref)
		require.NoError(t, err)
		err = rule(tc.tenant, ref)
		if tc.ok {
			assert.NoError(t, err, tc.ref)
		} else {
			assert.Error(t, err, tc.ref)
		}
	}
	ref, _ := credentials.ParseSecretRef("arn:aws:ssm:us-east-1:123456789012:parameter/x/y")
	assert.EqualError(t, rule("acme", ref), `parameter names of tenant "acme" must start with "/logdelivery/acme/" (and go on after it)`)

	for _, bad := range []string{"", "logdelivery/", "logdelivery/{tenant_id}", "logdelivery/{tenant_id}-x/",
		"{tenant_id}/{tenant_id}/", "/logdelivery/{tenant_id}/", "log delivery/{tenant_id}/", "{tenant}/"} {
		_, err := credentials.NamePrefixRule(bad)
		assert.Error(t, err, bad)
	}
	for _, good := range []string{"{tenant_id}/", "teams/{tenant_id}/logdelivery/", "x-{tenant_id}/"} {
		_, err := credentials.NamePrefixRule(good)
		assert.NoError(t, err, good)
	}
}

func TestValidateSecretTenantID(t *testing.T) {
	for _, id := range []string{"acme", "a", "team-a.b_c", strings.Repeat("a", 128)} {
		assert.NoError(t, credentials.ValidateSecretTenantID(id), id)
	}
	for _, id := range []string{"", "a/b", "../a", ".a", "-a", "a b", "a\x00", "ü", strings.Repeat("a", 129), "{tenant_id}"} {
		err := credentials.ValidateSecretTenantID(id)
		assert.Error(t, err, id)
		assert.True(t, fault.IsPermanent(err))
	}
}
