package credentials_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/fault"
)

// secretsDir makes a secrets directory with files (name: contents) and
// returns its path.
func secretsDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "secrets")
	for name, v := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(v), 0o600))
	}
	require.NoError(t, os.MkdirAll(dir, 0o700))
	return dir
}

func newFileSecrets(t *testing.T, dir string, optFns ...func(*credentials.FileSecretsOptions)) *credentials.FileSecrets {
	t.Helper()
	f, err := credentials.NewFileSecrets(dir, optFns...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func fileSecret(t *testing.T, f credentials.Secrets, tenantID, ref string) (credentials.Secret, error) {
	t.Helper()
	return f.Secret(context.Background(), tenantID, mustRef(t, ref))
}

func TestFileSecretsValues(t *testing.T) {
	dir := secretsDir(t, map[string]string{
		"acme/plain":        "hunter2",
		"acme/newline":      "hunter2\n",
		"acme/crlf":         "hunter2\r\n",
		"acme/two":          "hunter2\n\n",
		"acme/cr":           "hunter2\r",
		"acme/empty":        "",
		"acme/deep/er/name": "deep",
		"acme/space name ü": "unicode",
	})
	f := newFileSecrets(t, dir)
	for ref, want := range map[string]string{
		"file:acme/plain":        "hunter2",
		"file:acme/newline":      "hunter2",
		"file:acme/crlf":         "hunter2",
		"file:acme/two":          "hunter2\n",
		"file:acme/cr":           "hunter2\r",
		"file:acme/empty":        "",
		"file:acme/deep/er/name": "deep",
		"file:acme/space name ü": "unicode",
	} {
		v, err := fileSecret(t, f, "acme", ref)
		require.NoError(t, err, ref)
		assert.Equal(t, want, v.Reveal(), ref)
	}

	// No cache: a rewritten file is read at once.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "acme", "plain"), []byte("rotated"), 0o600))
	v, err := fileSecret(t, f, "acme", "file:acme/plain")
	require.NoError(t, err)
	assert.Equal(t, "rotated", v.Reveal())
}

func TestFileSecretsConfinement(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	require.NoError(t, os.WriteFile(outside, []byte(secretValue), 0o600))
	dir := secretsDir(t, map[string]string{
		"acme/ok": "acme's",
		"other/x": secretValue,
	})
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "acme", "absolute-link")))
	require.NoError(t, os.Symlink("../../outside", filepath.Join(dir, "acme", "relative-link")))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "acme", "passwd")))
	require.NoError(t, os.Symlink(base, filepath.Join(dir, "acme", "dir-link")))
	require.NoError(t, os.Symlink("../other/x", filepath.Join(dir, "acme", "inside-link")))
	f := newFileSecrets(t, dir)

	for _, tc := range []struct {
		name, tenant, ref, contains string
		refused                     bool
	}{
		{name: "another tenant's file", tenant: "acme", ref: "file:other/x", contains: `file names of tenant "acme" must start with "acme/"`, refused: true},
		{name: "a longer tenant id", tenant: "acme", ref: "file:acme-corp/x", contains: `"acme/"`, refused: true},
		{name: "no tenant directory", tenant: "acme", ref: "file:acmex", contains: `"acme/"`, refused: true},
		{name: "tenant id with a slash", tenant: "acme/ok", ref: "file:acme/ok/x", contains: "invalid tenant id"},
		{name: "tenant id dot-dot", tenant: "..", ref: "file:../x", contains: "invalid secret reference"}, // not even parsed
		{name: "ARN reference", tenant: "acme", ref: acmeSecret, contains: "secretsmanager references are not served here", refused: true},
		{name: "absolute symlink out", tenant: "acme", ref: "file:acme/absolute-link", contains: "path escapes"},
		{name: "relative symlink out", tenant: "acme", ref: "file:acme/relative-link", contains: "path escapes"},
		{name: "symlink to /etc/passwd", tenant: "acme", ref: "file:acme/passwd", contains: "path escapes"},
		{name: "through a directory link", tenant: "acme", ref: "file:acme/dir-link/outside", contains: "path escapes"},
		{name: "missing", tenant: "acme", ref: "file:acme/missing", contains: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := credentials.ParseSecretRef(tc.ref)
			if err != nil {
				assert.Contains(t, err.Error(), tc.contains)
				return
			}
			_, err = f.Secret(context.Background(), tc.tenant, ref)
			require.Error(t, err)
			assert.True(t, fault.IsPermanent(err), "%v is permanent", err)
			assert.Contains(t, err.Error(), tc.contains)
			assert.Equal(t, tc.refused, errors.Is(err, credentials.ErrSecretRefused))
			var se *credentials.SecretError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.ref, se.Ref.String())
			assert.NotContains(t, err.Error(), secretValue)
			assert.NotContains(t, err.Error(), base, "errors name the file relative to the directory")
		})
	}

	// A link inside the directory is followed: the operator decides what
	// it shares.
	v, err := fileSecret(t, f, "acme", "file:acme/inside-link")
	require.NoError(t, err)
	assert.Equal(t, secretValue, v.Reveal())
}

func TestFileSecretsFiles(t *testing.T) {
	dir := secretsDir(t, map[string]string{
		"acme/big":   strings.Repeat("x", 65),
		"acme/limit": strings.Repeat("x", 64),
		"acme/sub/x": "",
	})
	f := newFileSecrets(t, dir, func(o *credentials.FileSecretsOptions) { o.MaxSize = 64 })
	_, err := fileSecret(t, f, "acme", "file:acme/big")
	assert.True(t, fault.IsPermanent(err))
	assert.Contains(t, err.Error(), "acme/big is larger than 64 bytes")
	v, err := fileSecret(t, f, "acme", "file:acme/limit")
	require.NoError(t, err)
	assert.Len(t, v.Reveal(), 64)
	_, err = fileSecret(t, f, "acme", "file:acme/sub")
	assert.True(t, fault.IsPermanent(err))
	assert.Contains(t, err.Error(), "acme/sub is not a regular file")

	// The default limit is 64 KiB.
	dir = secretsDir(t, map[string]string{"acme/big": strings.Repeat("x", 64<<10+1)})
	f = newFileSecrets(t, dir)
	_, err = fileSecret(t, f, "acme", "file:acme/big")
	assert.True(t, fault.IsPermanent(err))

	require.NoError(t, f.Close())
	_, err = fileSecret(t, f, "acme", "file:acme/big")
	assert.Error(t, err, "a closed FileSecrets fails")
}

func TestFileSecretsRules(t *testing.T) {
	dir := secretsDir(t, map[string]string{"tenants/acme/x": "v", "shared/x": "s"})
	f := newFileSecrets(t, dir, func(o *credentials.FileSecretsOptions) { o.NamePrefix = "tenants/{tenant_id}/" })
	v, err := fileSecret(t, f, "acme", "file:tenants/acme/x")
	require.NoError(t, err)
	assert.Equal(t, "v", v.Reveal())
	_, err = fileSecret(t, f, "acme", "file:shared/x")
	assert.ErrorIs(t, err, credentials.ErrSecretRefused)
	assert.Contains(t, err.Error(), `"tenants/acme/"`)

	f = newFileSecrets(t, dir, func(o *credentials.FileSecretsOptions) {
		o.Allow = func(_ string, ref credentials.SecretRef) error {
			if strings.HasPrefix(ref.Name(), "shared/") {
				return nil
			}
			return errors.New("only shared/ files")
		}
	})
	v, err = fileSecret(t, f, "acme", "file:shared/x")
	require.NoError(t, err)
	assert.Equal(t, "s", v.Reveal())
	_, err = fileSecret(t, f, "acme", "file:tenants/acme/x")
	assert.ErrorIs(t, err, credentials.ErrSecretRefused)
	assert.Contains(t, err.Error(), "only shared/ files")

	for name, fn := range map[string]func(*credentials.FileSecretsOptions){
		"negative MaxSize": func(o *credentials.FileSecretsOptions) { o.MaxSize = -1 },
		"prefix and rule": func(o *credentials.FileSecretsOptions) {
			o.NamePrefix = "{tenant_id}/"
			o.Allow = func(string, credentials.SecretRef) error { return nil }
		},
		"bad prefix": func(o *credentials.FileSecretsOptions) { o.NamePrefix = "shared/" },
	} {
		_, err := credentials.NewFileSecrets(dir, fn)
		assert.Error(t, err, name)
	}
	_, err = credentials.NewFileSecrets(filepath.Join(dir, "missing"))
	assert.Error(t, err)
	_, err = credentials.NewFileSecrets(filepath.Join(dir, "shared", "x"))
	assert.Error(t, err, "not a directory")
}

func TestSecretsBySource(t *testing.T) {
	dir := secretsDir(t, map[string]string{"acme/x": "from-file"})
	fx := newAWSFixture(t)
	fx.aws.setString(acmeSecret, "from-aws")
	both := credentials.SecretsBySource{AWS: fx.s, File: newFileSecrets(t, dir)}
	v, err := fileSecret(t, both, "acme", "file:acme/x")
	require.NoError(t, err)
	assert.Equal(t, "from-file", v.Reveal())
	v, err = fileSecret(t, both, "acme", acmeSecret)
	require.NoError(t, err)
	assert.Equal(t, "from-aws", v.Reveal())

	_, err = fileSecret(t, credentials.SecretsBySource{File: both.File}, "acme", acmeSecret)
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorIs(t, err, credentials.ErrSecretRefused)
	assert.Contains(t, err.Error(), "no resolver for secretsmanager references")
	_, err = credentials.SecretsBySource{}.Secret(context.Background(), "acme", credentials.SecretRef{})
	assert.True(t, fault.IsPermanent(err))
}
