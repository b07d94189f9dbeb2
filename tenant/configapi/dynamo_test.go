package configapi_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/configapi"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// The API over the DynamoDB store, on moto: the same handler and client
// as in production, against the real DynamoDB protocol.
func TestOverDynamoDBOnMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx := mototest.Context(t)
	ddb := dynamodb.NewFromConfig(srv.Config())
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, "tenant-configs"))
	store := dynamostore.New(ddb, "tenant-configs")

	keys := configapi.Keys{"ops": []byte("0123456789abcdef0123456789abcdef")}
	h, err := configapi.New(store, kinds(t), configapi.NewHMAC(keys))
	require.NoError(t, err)
	api := httptest.NewServer(h)
	t.Cleanup(api.Close)
	c, err := configapi.NewClient(api.URL, "ops", keys["ops"])
	require.NoError(t, err)

	// Create, and a second create conflicts.
	v1, err := c.Create(ctx, storetest.S3("acme"))
	require.NoError(t, err)
	assert.NotEmpty(t, v1.UpdatedAt)
	_, err = c.Create(ctx, storetest.S3("acme"))
	assert.True(t, errors.Is(err, tenant.ErrExists), "%v", err)

	// Patch with the current version; a patch with the old one is refused.
	v2, err := c.Patch(ctx, "acme", "s3", map[string]any{"desired_logs": []string{"payments"}}, tenant.Condition{IfUpdatedAt: v1.UpdatedAt})
	require.NoError(t, err)
	assert.Equal(t, []string{"payments"}, v2.DesiredLogs)
	assert.Equal(t, v1.CreatedAt, v2.CreatedAt)
	_, err = c.Patch(ctx, "acme", "s3", map[string]any{"enabled": false}, tenant.Condition{IfUpdatedAt: v1.UpdatedAt})
	assert.True(t, errors.Is(err, tenant.ErrConflict), "%v", err)

	// What the API wrote is what the processor reads.
	got, err := store.Configs(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, []string{"payments"}, got[0].DesiredLogs)
	assert.True(t, got[0].IsEnabled(), "the conflicting patch changed nothing")

	// Delete with a stale version is refused; with the current one it works.
	assert.True(t, errors.Is(c.Delete(ctx, "acme", "s3", tenant.Condition{IfUpdatedAt: v1.UpdatedAt}), tenant.ErrConflict))
	require.NoError(t, c.Delete(ctx, "acme", "s3", tenant.Condition{IfUpdatedAt: v2.UpdatedAt}))
	_, err = c.Get(ctx, "acme", "s3")
	assert.True(t, errors.Is(err, tenant.ErrNotFound), "%v", err)

	// List pages through every tenant's configs exactly once.
	want := map[string]bool{}
	for _, id := range []string{"t1", "t2", "t3", "t4", "t5"} {
		for _, cfg := range []tenant.DeliveryConfig{storetest.S3(id), storetest.CloudWatch(id)} {
			_, err := c.Create(ctx, cfg)
			require.NoError(t, err)
			want[cfg.TenantID+"/"+cfg.Type] = true
		}
	}
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		page, next, err := c.List(ctx, 3, cursor)
		require.NoError(t, err)
		for _, cfg := range page {
			k := cfg.TenantID + "/" + cfg.Type
			assert.False(t, seen[k], "%s listed twice", k)
			seen[k] = true
		}
		pages++
		require.Less(t, pages, 20)
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Equal(t, want, seen)
	assert.Greater(t, pages, 2, "the listing was paginated")
}

func kinds(t *testing.T) *deliver.Registry {
	t.Helper()
	// The processor's kinds, its webhook kind replaced by the test kind of
	// storetest's nested configs.
	r, err := deliver.NewRegistry(awsdispatch.Kinds(func(o *awsdispatch.Options) { o.Kinds = []deliver.Kind{storetest.NestedKind()} }))
	require.NoError(t, err)
	return r
}
