package configapi

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// bucketOf returns the bucket of the tenant's s3 config as a cache serves
// it ("" when it serves none).
func bucketOf(t *testing.T, c *tenant.Cache, tenantID string) string {
	t.Helper()
	cs, err := c.Configs(context.Background(), tenantID)
	require.NoError(t, err)
	for _, cfg := range cs {
		if cfg.Type == tenant.KindS3 {
			b, _ := cfg.Settings["bucket_name"].(string)
			return b
		}
	}
	return ""
}

// The processor's cache in front of the same store serves every write of
// the API at once, not after its TTL.
func TestWritesInvalidateTheTenantsCacheEntry(t *testing.T) {
	mem, err := memstore.New(nil)
	require.NoError(t, err)
	cache := tenant.NewCache(mem)
	e := newEnv(t, withStore(mem), withOptions(func(o *Options) { o.Invalidator = cache }))

	assert.Empty(t, bucketOf(t, cache, "acme"), "cached: acme has no config")
	assert.Empty(t, bucketOf(t, cache, "globex"))
	etag := e.seed()
	assert.Equal(t, "tenant-logs-acme", bucketOf(t, cache, "acme"), "the create is served at once")

	put := e.do(request{method: http.MethodPut, path: acmeS3, body: `{"bucket_name":"acme-new"}`, header: map[string]string{"If-Match": etag}})
	require.Equal(t, http.StatusOK, put.status, "%s", put.body)
	assert.Equal(t, "acme-new", bucketOf(t, cache, "acme"), "and the replace")

	patch := e.do(request{method: http.MethodPatch, path: acmeS3, body: `{"bucket_name":"acme-patched"}`})
	require.Equal(t, http.StatusOK, patch.status, "%s", patch.body)
	assert.Equal(t, "acme-patched", bucketOf(t, cache, "acme"), "and the patch")

	del := e.do(request{method: http.MethodDelete, path: acmeS3})
	require.Equal(t, http.StatusNoContent, del.status)
	assert.Empty(t, bucketOf(t, cache, "acme"), "and the delete")

	// Only the tenant written is invalidated.
	_, err = mem.Create(context.Background(), s3Config("globex")) // behind the API's back
	require.NoError(t, err)
	e.seed()
	assert.Empty(t, bucketOf(t, cache, "globex"), "another tenant's entry stays until its TTL")

	// Without an Invalidator, the cache serves its entry until the TTL.
	mem2, err := memstore.New(nil)
	require.NoError(t, err)
	cache2 := tenant.NewCache(mem2)
	e2 := newEnv(t, withStore(mem2))
	assert.Empty(t, bucketOf(t, cache2, "acme"))
	e2.seed()
	assert.Empty(t, bucketOf(t, cache2, "acme"), "stale until the TTL")
}
