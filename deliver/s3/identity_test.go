package s3

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/tenant"
)

// With the tenant's identity, a copy expects the tenant's own account as
// the bucket owner, and a bucket owner of another account is refused
// before any call.
func TestDeliverExpectsTheTenantsAccount(t *testing.T) {
	f := newFixture(t)
	dl := delivery(t, testKey, s3Config(func(c *tenant.DeliveryConfig) { delete(c.Settings, "bucket_owner") }))
	dl.Identity = &tenant.Identity{TenantID: "acme", Accounts: []string{"222222222222"}}
	f.put(t, dl.Object.Key, []byte("x"), "", "")
	_, err := f.deliverer(t).Deliver(ctx(t), dl)
	require.NoError(t, err)
	cp := find(t, f.rec.take(), "CopyObject")
	assert.Equal(t, "222222222222", cp.Header.Get("X-Amz-Expected-Bucket-Owner"), "the tenant's only account")

	dl = delivery(t, testKey, s3Config(func(c *tenant.DeliveryConfig) { c.Settings["bucket_owner"] = "333333333333" }))
	dl.Identity = &tenant.Identity{TenantID: "acme", Accounts: []string{"222222222222"}}
	rcpt, err := f.deliverer(t).Deliver(ctx(t), dl)
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorContains(t, err, "bucket_owner: account 333333333333 is not one of tenant \"acme\"'s accounts")
	assert.Zero(t, rcpt.Calls, "refused before any call")
	assert.Empty(t, f.rec.take())
}
