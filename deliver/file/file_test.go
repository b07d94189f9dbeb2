package file_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/file"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func TestCopiesUnderTheS3Layout(t *testing.T) {
	content := gz(t, `{"message":"hello"}`+"\n")
	key := "c1/acme/payments/pod-1/1693396021-x.log.gz"
	opener := file.Opener{FS: fstest.MapFS{key: {Data: content}}}
	out := t.TempDir()
	d, err := file.New(out)
	require.NoError(t, err)

	k, err := keyparse.Parse(key)
	require.NoError(t, err)
	dl := &deliver.Delivery{
		Object: deliver.Object{Bucket: "central", Key: key},
		Key:    k,
		Config: tenant.DeliveryConfig{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-logs"}},
		Open:   func(ctx context.Context) (*deliver.Body, error) { return opener.Open(ctx, deliver.Object{Key: key}) },
	}
	for range 2 { // idempotent: a second delivery leaves one identical file
		r, err := d.Deliver(context.Background(), dl)
		require.NoError(t, err)
		assert.Equal(t, 1, r.Objects)
		assert.Equal(t, int64(len(content)), r.Bytes)
	}
	want := filepath.Join(out, "acme-logs", "ROSA", "cluster-logs", "acme", "c1", "payments", "pod-1", "1693396021-x.log.gz")
	got, err := os.ReadFile(want)
	require.NoError(t, err)
	assert.Equal(t, content, got, "bytes copied unchanged")
	entries, err := os.ReadDir(filepath.Dir(want))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary files left behind")
}

func TestOpener(t *testing.T) {
	fsys := fstest.MapFS{"a/b.log.gz": {Data: []byte("x")}, "dir/x": {Data: nil}}
	o := file.Opener{FS: fsys}
	b, err := o.Open(context.Background(), deliver.Object{Key: "a/b.log.gz"})
	require.NoError(t, err)
	defer b.Close()
	assert.Equal(t, "gzip", b.ContentEncoding)
	assert.Equal(t, "application/x-ndjson", b.ContentType)
	assert.Equal(t, int64(1), b.Size)

	for _, key := range []string{"missing.gz", "../etc/passwd", "dir"} {
		_, err := o.Open(context.Background(), deliver.Object{Key: key})
		require.Error(t, err, key)
		assert.False(t, fault.IsRetryable(err), "%s: cannot succeed later", key)
	}
}
