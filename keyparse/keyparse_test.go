package keyparse_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/keyparse"
)

func TestParseDefault(t *testing.T) {
	k, err := keyparse.Parse("prod-1/payments/api-server/api-server-7d9f-x2/1693396021-ab12.log.gz")
	require.NoError(t, err)
	assert.Equal(t, keyparse.Key{
		Cluster: "prod-1", Namespace: "payments", Tenant: "payments",
		Application: "api-server", Pod: "api-server-7d9f-x2", File: "1693396021-ab12.log.gz",
	}, k)
}

func TestParseRejects(t *testing.T) {
	for name, key := range map[string]string{
		"empty":              "",
		"too few segments":   "c/ns/app/file.gz",
		"too many segments":  "c/ns/app/pod/extra/file.gz",
		"empty segment":      "c//app/pod/file.gz",
		"leading slash":      "/c/ns/app/pod/file.gz",
		"trailing slash":     "c/ns/app/pod/",
		"dot segment":        "c/./app/pod/file.gz",
		"dot-dot segment":    "c/ns/../pod/file.gz",
		"control character":  "c/ns/app/po\x00d/file.gz",
		"newline":            "c/ns/app/pod/fi\nle.gz",
		"DEL":                "c/ns/app/pod/file\x7f.gz",
		"C1 control":         "c/ns/app/pod/file\u0085.gz",
		"invalid UTF-8":      "c/ns/app/pod/\xff.gz",
		"longer than 1024 B": "c/ns/app/pod/" + strings.Repeat("f", 1020),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := keyparse.Parse(key)
			require.Error(t, err)
			assert.ErrorIs(t, err, keyparse.ErrInvalidKey)
			var ke *keyparse.KeyError
			require.ErrorAs(t, err, &ke)
			assert.NotEmpty(t, ke.Reason, "the error says why")
		})
	}
}

func TestTemplateWithExplicitTenantAndLiterals(t *testing.T) {
	tmpl, err := keyparse.New("logs/{cluster_id}/t-{tenant_id}/{namespace}/{application}/{pod_name}/{file}")
	require.NoError(t, err)
	k, err := tmpl.Parse("logs/c1/t-acme/kube-system/etcd/etcd-0/f.gz")
	require.NoError(t, err)
	assert.Equal(t, "acme", k.Tenant, "an explicit tenant segment wins over the namespace")
	assert.Equal(t, "kube-system", k.Namespace)

	for _, bad := range []string{
		"other/c1/t-acme/ns/etcd/etcd-0/f.gz", // literal differs
		"logs/c1/x-acme/ns/etcd/etcd-0/f.gz",  // prefix differs
		"logs/c1/t-/ns/etcd/etcd-0/f.gz",      // empty value between prefix and suffix
	} {
		_, err := tmpl.Parse(bad)
		assert.ErrorIs(t, err, keyparse.ErrInvalidKey, bad)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	tmpl := keyparse.Default()
	k := keyparse.Key{Cluster: "c", Namespace: "ns", Tenant: "ns", Application: "a b+c", Pod: "p", File: "ü.gz"}
	s, err := tmpl.Format(k)
	require.NoError(t, err)
	assert.Equal(t, "c/ns/a b+c/p/ü.gz", s)
	back, err := tmpl.Parse(s)
	require.NoError(t, err)
	assert.Equal(t, k, back)

	_, err = tmpl.Format(keyparse.Key{Cluster: "c", Namespace: "a/b", Application: "x", Pod: "p", File: "f"})
	assert.ErrorIs(t, err, keyparse.ErrInvalidKey, "a value with / cannot be a segment")
	_, err = tmpl.Format(keyparse.Key{Cluster: "c", Namespace: "ns", Application: "x", Pod: "..", File: "f"})
	assert.ErrorIs(t, err, keyparse.ErrInvalidKey)
}

func TestExpandWithPrefix(t *testing.T) {
	tmpl, err := keyparse.New("{bucket_prefix}{tenant_id}/{cluster_id}/{application}/{pod_name}/{file}")
	require.NoError(t, err)
	k := keyparse.Key{Cluster: "c", Tenant: "acme", Application: "app", Pod: "p", File: "f.gz"}
	s, err := tmpl.Expand(k, map[string]string{"bucket_prefix": "ROSA/cluster-logs/"})
	require.NoError(t, err)
	assert.Equal(t, "ROSA/cluster-logs/acme/c/app/p/f.gz", s)
	_, err = tmpl.Expand(k, nil)
	assert.ErrorIs(t, err, keyparse.ErrInvalidKey, "a missing var is an error, not an empty string")
	_, err = tmpl.Parse("x/acme/c/app/p/f.gz")
	assert.ErrorIs(t, err, keyparse.ErrInvalidTemplate, "a format-only template cannot parse")
}

func TestBadTemplates(t *testing.T) {
	for _, p := range []string{"", "{cluster_id", "cluster_id}", "{}", "{Bad}", "{a-b}"} {
		_, err := keyparse.New(p)
		assert.ErrorIs(t, err, keyparse.ErrInvalidTemplate, p)
	}
	// Valid to format, not to parse.
	for _, p := range []string{
		"{cluster_id}/{application}/{file}",            // no tenant
		"{namespace}/{namespace}/{file}",               // repeated field
		"{namespace}{application}/{file}",              // two fields in a segment
		"{namespace}//{file}",                          // empty segment
		"{namespace}/{unknown}/{file}",                 // not a key field
		"{namespace}/{application}/{pod_name}/{file}/", // trailing slash
	} {
		tmpl, err := keyparse.New(p)
		require.NoError(t, err, p)
		_, err = tmpl.Parse("a/b/c")
		assert.ErrorIs(t, err, keyparse.ErrInvalidTemplate, p)
	}
}

func TestDecodeNotificationKey(t *testing.T) {
	for in, want := range map[string]string{
		"c/ns/app/pod/red+flower.log.gz":    "c/ns/app/pod/red flower.log.gz",
		"c/ns/app/pod/a%2Bb.gz":             "c/ns/app/pod/a+b.gz",
		"c/ns/app/pod/%C3%BC.gz":            "c/ns/app/pod/ü.gz",
		"c/ns/app/pod/10%3A47%3A07.log.bz2": "c/ns/app/pod/10:47:07.log.bz2",
	} {
		got, err := keyparse.DecodeNotificationKey(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	_, err := keyparse.DecodeNotificationKey("bad%zzkey")
	assert.ErrorIs(t, err, keyparse.ErrInvalidKey)
}

func TestFileTime(t *testing.T) {
	for file, want := range map[string]time.Time{
		"1693396021-0f3a.log.gz":    time.Unix(1693396021, 0).UTC(),
		"1693396021123-0f3a.log.gz": time.UnixMilli(1693396021123).UTC(),
		"2023-08-30T11-27-01Z.gz":   time.Date(2023, 8, 30, 11, 27, 1, 0, time.UTC),
		"2023-08-30T11:27:01Z-x.gz": time.Date(2023, 8, 30, 11, 27, 1, 0, time.UTC),
		"1693396021":                time.Unix(1693396021, 0).UTC(),
	} {
		got, ok := keyparse.Key{File: file}.FileTime()
		require.True(t, ok, file)
		assert.True(t, want.Equal(got), "%s: got %s", file, got)
	}
	for _, file := range []string{"app.log.gz", "123-x.gz", "16933960211x.gz", "2023-13-30T11-27-01Z.gz"} {
		_, ok := keyparse.Key{File: file}.FileTime()
		assert.False(t, ok, file)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"c/ns/app/pod/f.gz", "c//a/p/f", "../../etc/passwd", "a/b/c/d/\x00", "c/ns/app/pod/%zz", "c/ns/a+b/p/f"} {
		f.Add(s)
	}
	tmpl := keyparse.Default()
	f.Fuzz(func(t *testing.T, key string) {
		k, err := tmpl.Parse(key)
		if err != nil {
			if !errors.Is(err, keyparse.ErrInvalidKey) {
				t.Fatalf("error %v does not wrap ErrInvalidKey", err)
			}
			return
		}
		for _, v := range []string{k.Cluster, k.Namespace, k.Tenant, k.Application, k.Pod, k.File} {
			if v == "" || v == "." || v == ".." || strings.Contains(v, "/") || !utf8.ValidString(v) {
				t.Fatalf("accepted bad segment %q in %q", v, key)
			}
		}
		back, err := tmpl.Format(k)
		if err != nil || back != key {
			t.Fatalf("round trip: %q -> %+v -> %q, %v", key, k, back, err)
		}
		if _, err := keyparse.DecodeNotificationKey(key); err != nil && !errors.Is(err, keyparse.ErrInvalidKey) {
			t.Fatalf("decode error %v does not wrap ErrInvalidKey", err)
		}
	})
}
