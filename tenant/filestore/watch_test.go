package filestore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/filestore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

type reloads struct {
	mu      sync.Mutex
	applied int
	refused []error
}

func (r *reloads) Reloaded(source string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if source != filestore.SourceConfigs {
		panic(source)
	}
	if err == nil {
		r.applied++
	} else {
		r.refused = append(r.refused, err)
	}
}

const v1 = `
- {tenant_id: acme, type: s3, bucket_name: acme-logs}
`

const v2 = `
- {tenant_id: acme, type: s3, bucket_name: acme-logs-2}
- {tenant_id: globex, type: s3, bucket_name: globex-logs}
`

// Good items next to bad ones: as a reload, refused as a whole.
const broken = `
- {tenant_id: acme, type: s3, bucket_name: changed}
- {tenant_id: globex, type: s3, bucket_name: 12}
- {tenant_id: initech}
- {tenant_id: acme, type: s3, bucket_name: duplicate}
`

func bucketsOf(t *testing.T, s tenant.ConfigStore, tenantID string) []string {
	t.Helper()
	cs, err := s.Configs(context.Background(), tenantID)
	require.NoError(t, err)
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprint(c.Settings["bucket_name"]))
	}
	return out
}

func TestCheckLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "configs.yaml")
	write := func(s string) { require.NoError(t, os.WriteFile(path, []byte(s), 0o600)) }
	write(v1)
	obs := &reloads{}
	kinds, err := deliver.NewRegistry([]deliver.Kind{s3.Kind()})
	require.NoError(t, err)
	s, err := filestore.Open(path, func(o *filestore.Options) { o.ReloadObserver, o.Validator = obs, kinds })
	require.NoError(t, err)
	applied, err := s.Check()
	require.NoError(t, err)
	assert.False(t, applied, "the version Open read is in force")

	write(v2)
	applied, err = s.Check()
	require.NoError(t, err)
	assert.True(t, applied)
	assert.Equal(t, []string{"acme-logs-2"}, bucketsOf(t, s, "acme"))
	assert.Equal(t, []string{"globex-logs"}, bucketsOf(t, s, "globex"))

	for _, bad := range []string{broken, "tenant_id: acme", "- [", ""} {
		if bad == "" {
			require.NoError(t, os.Remove(path))
		} else {
			write(bad)
		}
		applied, err = s.Check()
		assert.False(t, applied)
		require.Error(t, err, "%q", bad)
		assert.Equal(t, []string{"acme-logs-2"}, bucketsOf(t, s, "acme"), "an invalid version never changes what is served")
		assert.Equal(t, []string{"globex-logs"}, bucketsOf(t, s, "globex"))
		assert.Empty(t, s.Problems())
	}
	write(broken)
	_, err = s.Check()
	var ie *filestore.InvalidError
	require.ErrorAs(t, err, &ie)
	assert.Len(t, ie.Items, 3, "every problem at once: %v", err)
	assert.ErrorContains(t, err, "3 unusable items")
	assert.ErrorContains(t, err, "delivery config globex/s3")
	assert.ErrorContains(t, err, "tenant_id and type are required")
	assert.ErrorIs(t, err, tenant.ErrExists, "the duplicate")
	st := s.ReloadStatus()
	assert.Equal(t, 5, st.Refused)
	assert.Equal(t, err, st.Err)

	write(v1)
	applied, err = s.Check()
	require.NoError(t, err)
	assert.True(t, applied)
	assert.Equal(t, []string{"acme-logs"}, bucketsOf(t, s, "acme"))
	assert.Empty(t, bucketsOf(t, s, "globex"))
	obs.mu.Lock()
	assert.Equal(t, 2, obs.applied)
	assert.Len(t, obs.refused, 5)
	obs.mu.Unlock()
}

// The store's own writes are the version in force, even when they keep
// items it could not use (as it preserves them verbatim).
func TestOwnWritesAreNotRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "configs.yaml")
	require.NoError(t, os.WriteFile(path, []byte(seedYAML), 0o600))
	s, err := filestore.Open(path)
	require.NoError(t, err)
	require.NotEmpty(t, s.Problems())
	_, err = s.Create(context.Background(), storetest.S3("newco"))
	require.NoError(t, err)
	_, err = s.Check()
	assert.NoError(t, err)
	assert.NotEmpty(t, bucketsOf(t, s, "newco"))
}

func TestWatchUnderConcurrentReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "configs.yaml")
	write := func(s string) {
		tmp := path + ".tmp"
		require.NoError(t, os.WriteFile(tmp, []byte(s), 0o600))
		require.NoError(t, os.Rename(tmp, path))
	}
	write(v1)
	kinds, err := deliver.NewRegistry([]deliver.Kind{s3.Kind()})
	require.NoError(t, err)
	s, err := filestore.Open(path, func(o *filestore.Options) { o.ReloadInterval, o.Validator = time.Millisecond, kinds })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Watch(ctx) })
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				cs, err := s.Configs(context.Background(), "acme")
				if !assert.NoError(t, err) || !assert.Len(t, cs, 1) {
					return
				}
				assert.Contains(t, []string{"acme-logs", "acme-logs-2"}, fmt.Sprint(cs[0].Settings["bucket_name"]), "only valid versions are ever served")
			}
		})
	}
	for i := range 50 {
		switch i % 3 {
		case 0:
			write(v2)
		case 1:
			write(broken)
		case 2:
			write(v1)
		}
		time.Sleep(2 * time.Millisecond)
	}
	write(v2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if cs, _ := s.Configs(context.Background(), "globex"); len(cs) == 1 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the last version was not applied")
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
}
