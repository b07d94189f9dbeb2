package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/filestore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func TestConformanceJSON(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tenant.Store {
		s, err := filestore.Open(filepath.Join(t.TempDir(), "configs.json"), func(o *filestore.Options) { o.Create = true })
		require.NoError(t, err)
		return s
	})
}

func TestConformanceYAML(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tenant.Store {
		s, err := filestore.Open(filepath.Join(t.TempDir(), "configs.yaml"), func(o *filestore.Options) { o.Create = true })
		require.NoError(t, err)
		return s
	})
}

const seedYAML = `
- tenant_id: acme
  type: cloudwatch
  log_distribution_role_arn: arn:aws:iam::222222222222:role/LogDistribution
  log_group_name: /acme/logs
  target_region: us-east-1
  groups: [API]
- tenant_id: acme
  type: s3
  bucket_name: acme-logs
  enabled: false
- tenant_id: acme
  type: s3:archive
  bucket_nme: typo-in-field-name
- tenant_id: globex
  type: s3
  bucket_name: 12
- {}
`

func TestBadItemsAreReportedNotFatal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "configs.yaml")
	require.NoError(t, os.WriteFile(path, []byte(seedYAML), 0o600))
	kinds, err := deliver.NewRegistry([]deliver.Kind{cloudwatch.Kind(), s3.Kind()})
	require.NoError(t, err)
	s, err := filestore.Open(path, func(o *filestore.Options) { o.Validator = kinds })
	require.NoError(t, err)
	assert.Len(t, s.Problems(), 3)

	got, err := s.Configs(context.Background(), "acme")
	require.Len(t, got, 2, "the tenant's valid configs still load")
	var items *tenant.ItemsError
	require.ErrorAs(t, err, &items)
	require.Len(t, items.Items, 1)
	assert.Equal(t, "s3:archive", items.Items[0].Type)
	assert.Contains(t, items.Items[0].Error(), "bucket_nme", "the error names the bad field")

	got, err = s.Configs(context.Background(), "globex")
	assert.Empty(t, got)
	assert.ErrorAs(t, err, &items)

	// Writing keeps the bad items in the file, untouched.
	_, err = s.Create(context.Background(), storetest.CloudWatch("initech"))
	require.NoError(t, err)
	again, err := filestore.Open(path, func(o *filestore.Options) { o.Validator = kinds })
	require.NoError(t, err)
	assert.Len(t, again.Problems(), 3, "bad items survive a write")
	plain, err := filestore.Open(path)
	require.NoError(t, err)
	assert.Len(t, plain.Problems(), 1, "without a validator only undecodable items are problems")
	got, err = again.Configs(context.Background(), "initech")
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

func TestMalformedFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"object.json": `{"tenant_id": "a"}`,
		"broken.json": `[{"tenant_id": `,
		"bad.yaml":    "- a: [",
	} {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		_, err := filestore.Open(path)
		assert.Error(t, err, name)
		assert.Contains(t, err.Error(), name, "the error names the file")
	}
	_, err := filestore.Open(filepath.Join(dir, "missing.json"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "configs.json")
	require.NoError(t, os.WriteFile(path, []byte(`[]`), 0o600))
	s, err := filestore.Open(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(`[{"tenant_id":"a","type":"s3","bucket_name":"abc"}]`), 0o600))
	got, err := s.Configs(context.Background(), "a")
	require.NoError(t, err)
	assert.Empty(t, got, "no reload yet")
	require.NoError(t, s.Reload())
	got, err = s.Configs(context.Background(), "a")
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

func TestFailedSaveChangesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "configs.json")
	s, err := filestore.Open(path, func(o *filestore.Options) { o.Create = true })
	require.NoError(t, err)
	// A non-empty directory where the file should be: the rename fails.
	require.NoError(t, os.MkdirAll(filepath.Join(path, "child"), 0o700))
	_, err = s.Create(context.Background(), storetest.S3("a"))
	require.Error(t, err)
	_, err = s.Get(context.Background(), "a", "s3")
	assert.ErrorIs(t, err, tenant.ErrNotFound, "the store is unchanged when the file cannot be written")
}

// A reload never loses a write of the same store that raced it: the lock
// is held from the read of the file to the swap. (Before, a reload that
// read the file before a write and swapped after it put a stale list in
// memory, and the next write saved that list, dropping the config from the
// file for good.)
func TestReloadDoesNotLoseConcurrentWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "configs.json")
	s, err := filestore.Open(path, func(o *filestore.Options) { o.Create = true })
	require.NoError(t, err)
	const writes = 60
	stop, stopped := make(chan struct{}), make(chan error, 1)
	go func() {
		var first error
		for {
			select {
			case <-stop:
				stopped <- first
				return
			default:
			}
			if err := s.Reload(); err != nil && first == nil {
				first = err
			}
		}
	}()
	for i := range writes {
		_, err := s.Create(context.Background(), storetest.S3(fmt.Sprintf("tenant-%02d", i)))
		require.NoError(t, err)
	}
	close(stop)
	require.NoError(t, <-stopped)
	again, err := filestore.Open(path)
	require.NoError(t, err)
	all, _, err := again.List(context.Background(), writes+1, "")
	require.NoError(t, err)
	assert.Equal(t, writes, len(all), "every write is in the file, whatever the reloads that raced it")
}
