package credentials_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/fault"
)

func TestParseSecretRef(t *testing.T) {
	type parts struct{ service, partition, region, account, name, key, arn string }
	for _, tc := range []struct {
		ref  string
		want parts
	}{
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/loki-AbCdEf",
			parts{"secretsmanager", "aws", "us-east-1", "123456789012", "logdelivery/acme/loki-AbCdEf", "",
				"arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/loki-AbCdEf"}},
		{"arn:aws:secretsmanager:eu-west-1:222222222222:secret:logdelivery/acme/kafka-AbCdEf#password",
			parts{"secretsmanager", "aws", "eu-west-1", "222222222222", "logdelivery/acme/kafka-AbCdEf", "password",
				"arn:aws:secretsmanager:eu-west-1:222222222222:secret:logdelivery/acme/kafka-AbCdEf"}},
		{"arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:a+b=c.d@e_f-g#key with spaces#and:colons",
			parts{"secretsmanager", "aws-us-gov", "us-gov-west-1", "123456789012", "a+b=c.d@e_f-g", "key with spaces#and:colons",
				"arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:a+b=c.d@e_f-g"}},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/logdelivery/acme/token",
			parts{"ssm", "aws", "us-east-1", "123456789012", "/logdelivery/acme/token", "",
				"arn:aws:ssm:us-east-1:123456789012:parameter/logdelivery/acme/token"}},
		{"arn:aws-cn:ssm:cn-north-1:123456789012:parameter/flat_name.v1",
			parts{"ssm", "aws-cn", "cn-north-1", "123456789012", "flat_name.v1", "",
				"arn:aws-cn:ssm:cn-north-1:123456789012:parameter/flat_name.v1"}},
		{"arn:aws-eusc:ssm:eusc-de-east-1:123456789012:parameter/a/b",
			parts{"ssm", "aws-eusc", "eusc-de-east-1", "123456789012", "/a/b", "",
				"arn:aws-eusc:ssm:eusc-de-east-1:123456789012:parameter/a/b"}},
		{"file:acme/loki-password", parts{"file", "", "", "", "acme/loki-password", "", ""}},
		{"file:acme/with space/ü.txt#not-a-key", parts{"file", "", "", "", "acme/with space/ü.txt#not-a-key", "", ""}},
		{"file:...hidden/..x", parts{"file", "", "", "", "...hidden/..x", "", ""}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			r, err := credentials.ParseSecretRef(tc.ref)
			require.NoError(t, err)
			got := parts{r.Service(), r.Partition(), r.Region(), r.Account(), r.Name(), r.Key(), r.ARN()}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.ref, r.String())
			assert.False(t, r.IsZero())
		})
	}
}

func TestParseSecretRefErrors(t *testing.T) {
	const sm = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
	const ps = "arn:aws:ssm:us-east-1:123456789012:parameter/"
	for _, tc := range []struct {
		ref, part, reason string
	}{
		{"", "reference", "is empty"},
		{"hunter2-the-pasted-password", "reference", `must start with "arn:"`},
		{"https://vault/x", "reference", `must start with "arn:"`},
		{"arn:aws:secretsmanager:us-east-1:123456789012", "reference", "is not an ARN"},
		{"arn:aws:s3:us-east-1:123456789012:secret:x", "service", `"s3" is not`},
		{"arn:awz:secretsmanager:us-east-1:123456789012:secret:x", "partition", `"awz"`},
		{"arn:aws:secretsmanager:us-east:123456789012:secret:x", "region", `"us-east" is not an AWS region`},
		{"arn:aws:secretsmanager::123456789012:secret:x", "region", `"" is not`},
		{"arn:aws:secretsmanager:us-east-1:12345:secret:x", "account", "12-digit"},
		{"arn:aws:secretsmanager:us-east-1::secret:x", "account", "12-digit"},
		{"arn:aws:secretsmanager:us-east-1:123456789012:parameter/x", "resource", `"secret:NAME"`},
		{sm, "secret name", "is empty"},
		{sm + "#key", "secret name", "is empty"},
		{sm + "a b", "secret name", `character ' ' at byte 1`},
		{sm + "a:b", "secret name", `character ':'`},
		{sm + "x#", "key", "is empty"},
		{sm + "x#a\nb", "key", "control character"},
		{sm + "x#" + strings.Repeat("k", 257), "key", "longer than 256"},
		{sm + strings.Repeat("n", 520), "secret name", "longer than 519"},
		{"arn:aws:ssm:us-east-1:123456789012:secret:x", "resource", `"parameter/NAME"`},
		{ps, "parameter name", "is empty"},
		{ps + "a//b", "parameter name", "empty path segment"},
		{ps + "a/b/", "parameter name", "empty path segment"},
		{ps + "/a", "parameter name", "empty path segment"},
		{ps + "a/b#k", "key", "Parameter Store references have none"},
		{ps + "a+b", "parameter name", `character '+'`},
		{ps + "a:1", "parameter name", `character ':'`},
		{"file:", "file name", "is empty"},
		{"file:/etc/passwd", "file name", "relative"},
		{"file:../other/x", "file name", `"." or ".."`},
		{"file:acme/../other/x", "file name", `"." or ".."`},
		{"file:acme/./x", "file name", `"." or ".."`},
		{"file:acme/..", "file name", `"." or ".."`},
		{"file:acme//x", "file name", "empty path segment"},
		{"file:acme/", "file name", "empty path segment"},
		{`file:acme\..\x`, "file name", `character '\\'`},
		{"file:acme/\x00x", "file name", `character '\x00'`},
		{"file:acme/\x1bx", "file name", "character"},
		{"file:\xff", "reference", "UTF-8"},
		{"file:" + strings.Repeat("a", 2048), "reference", "longer than 2048"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			_, err := credentials.ParseSecretRef(tc.ref)
			require.Error(t, err)
			assert.ErrorIs(t, err, credentials.ErrInvalidSecretRef)
			assert.True(t, fault.IsPermanent(err), "invalid references are permanent")
			var re *credentials.SecretRefError
			require.True(t, errors.As(err, &re))
			assert.Equal(t, tc.part, re.Part)
			assert.Contains(t, err.Error(), tc.reason)
			assert.True(t, strings.HasPrefix(err.Error(), "invalid secret reference: "+tc.part+": "), err.Error())
			if len(tc.ref) > 12 {
				assert.NotContains(t, err.Error(), tc.ref, "the reference is never quoted whole")
			}
		})
	}
}

func TestSecretRefText(t *testing.T) {
	type config struct {
		Password credentials.SecretRef `json:"password"`
		Token    credentials.SecretRef `json:"token,omitzero"`
	}
	const ref = "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/loki-AbCdEf#password"
	var c config
	require.NoError(t, json.Unmarshal([]byte(`{"password":"`+ref+`"}`), &c))
	assert.Equal(t, "password", c.Password.Key())
	assert.True(t, c.Token.IsZero())
	out, err := json.Marshal(c)
	require.NoError(t, err)
	assert.JSONEq(t, `{"password":"`+ref+`"}`, string(out))

	err = json.Unmarshal([]byte(`{"password":"file:../x"}`), &c)
	assert.ErrorIs(t, err, credentials.ErrInvalidSecretRef)

	var zero credentials.SecretRef
	assert.Equal(t, "", zero.String())
	assert.Equal(t, "", zero.ARN())
	assert.Equal(t, "", zero.Service())
}

func FuzzParseSecretRef(f *testing.F) {
	for _, s := range []string{
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/loki-AbCdEf",
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/kafka#password",
		"arn:aws:ssm:us-east-1:123456789012:parameter/logdelivery/acme/token",
		"arn:aws:ssm:us-east-1:123456789012:parameter/flat",
		"arn:aws:ssm:us-east-1:123456789012:parameter//x",
		"file:acme/loki",
		"file:../etc/passwd",
		"file:a\\b",
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:x##",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := credentials.ParseSecretRef(s)
		if err != nil {
			if !errors.Is(err, credentials.ErrInvalidSecretRef) {
				t.Fatalf("error %v does not match ErrInvalidSecretRef", err)
			}
			if !r.IsZero() {
				t.Fatalf("a failed parse returned %v", r)
			}
			return
		}
		if r.IsZero() {
			t.Fatalf("%q parsed to the zero SecretRef", s)
		}
		if r.String() != s {
			t.Fatalf("%q parsed to %q", s, r.String())
		}
		again, err := credentials.ParseSecretRef(r.String())
		if err != nil {
			t.Fatalf("String() %q of a parsed ref does not parse: %v", r.String(), err)
		}
		if again != r {
			t.Fatalf("%q re-parsed to %+v, not %+v", s, again, r)
		}
		if r.Service() == credentials.ServiceFile {
			for seg := range strings.SplitSeq(r.Name(), "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Fatalf("file name %q has segment %q", r.Name(), seg)
				}
			}
			if strings.ContainsAny(r.Name(), "\\\x00") {
				t.Fatalf("file name %q has a backslash or NUL", r.Name())
			}
		}
	})
}
