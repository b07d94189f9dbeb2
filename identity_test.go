package logdelivery_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// The confused deputy: tenant A's config names tenant B's role and B's
// bucket. With identities, nothing is delivered and the results say why.
func TestIdentitiesRefuseAnotherTenantsAccounts(t *testing.T) {
	ids, err := memstore.NewIdentities(
		tenant.Identity{TenantID: "acme", Accounts: []string{"222222222222"}},
		tenant.Identity{TenantID: "globex", Accounts: []string{"333333333333"}, ExternalID: "issued-to-globex"},
	)
	require.NoError(t, err)
	stolenRole := storetest.WithSetting(storetest.CloudWatch("acme"), "log_distribution_role_arn", "arn:aws:iam::333333333333:role/LogDistributionRole")
	stolenRole.Type = "cloudwatch:b"
	stolenBucket := storetest.WithSetting(storetest.S3("acme"), "bucket_owner", "333333333333")
	stolenBucket.Type = "s3:b"
	own := storetest.CloudWatch("acme") // its role is in 222222222222
	ownBucket := storetest.S3("acme")   // no owner given: the tenant's one account is expected
	globexOwn := storetest.WithSetting(storetest.CloudWatch("globex"), "log_distribution_role_arn", "arn:aws:iam::333333333333:role/LogDistributionRole")
	globexAcmes := storetest.CloudWatch("globex") // names a role in acme's account
	globexAcmes.Type = "cloudwatch:a"
	store := newStore(t, own, stolenRole, ownBucket, stolenBucket, globexOwn, globexAcmes)
	rec := &delivertest.Recorder{}
	d := newDispatcher(t, store, map[string]deliver.Deliverer{"cloudwatch": rec, "s3": rec}, func(o *logdelivery.Options) {
		o.Identities = ids
		o.ExternalIDs = func(tenantID string) string { return "derived-for-" + tenantID }
	})

	rs := byDest(d.Dispatch(context.Background(), obj("m1", "c/acme/app/pod/f.gz"), obj("m2", "c/globex/app/pod/f.gz")))
	for _, typ := range []string{"cloudwatch:b", "s3:b"} {
		r := rs["m1|"+typ]
		assert.Equal(t, logdelivery.Failed, r.Outcome, typ)
		assert.True(t, fault.IsPermanent(r.Err), typ)
		assert.ErrorContains(t, r.Err, `account 333333333333 is not one of tenant "acme"'s accounts (222222222222)`, typ)
	}
	assert.ErrorContains(t, rs["m1|cloudwatch:b"].Err, "log_distribution_role_arn")
	assert.ErrorContains(t, rs["m1|s3:b"].Err, "bucket_owner")
	assert.Equal(t, logdelivery.Delivered, rs["m1|cloudwatch"].Outcome)
	assert.Equal(t, logdelivery.Delivered, rs["m1|s3"].Outcome)
	assert.Equal(t, logdelivery.Delivered, rs["m2|cloudwatch"].Outcome)
	assert.ErrorContains(t, rs["m2|cloudwatch:a"].Err, `account 222222222222 is not one of tenant "globex"'s accounts`, "the other way round too")

	externalIDs := map[string]string{}
	for _, dl := range rec.Deliveries() {
		require.NotNil(t, dl.Identity)
		assert.Equal(t, dl.Config.TenantID, dl.Identity.TenantID, "each delivery carries its own tenant's identity")
		externalIDs[dl.Config.TenantID] = dl.Identity.ExternalID
	}
	assert.Equal(t, "derived-for-acme", externalIDs["acme"], "derived when the operator issued none")
	assert.Equal(t, "issued-to-globex", externalIDs["globex"], "the operator's when issued")
}

func TestTenantWithoutIdentityIsRetried(t *testing.T) {
	ids, err := memstore.NewIdentities()
	require.NoError(t, err)
	rec := &delivertest.Recorder{}
	d := newDispatcher(t, newStore(t, storetest.S3("acme")), map[string]deliver.Deliverer{"s3": rec}, func(o *logdelivery.Options) {
		o.Identities = ids
		o.ExternalIDs = func(string) string { return "x" }
	})
	rs := d.Dispatch(context.Background(), obj("m1", "c/acme/app/pod/f.gz"))
	require.Len(t, rs, 1)
	assert.True(t, fault.IsRetryable(rs[0].Err), "the operator's to fix: retried, never dropped")
	assert.ErrorIs(t, rs[0].Err, logdelivery.ErrNoIdentity)
	assert.ErrorContains(t, rs[0].Err, `tenant "acme" has no identity record`)
	assert.Empty(t, rec.Deliveries())
}

func TestWithoutIdentitiesDeliveriesCarryNone(t *testing.T) {
	rec := &delivertest.Recorder{}
	d := newDispatcher(t, newStore(t, storetest.S3("acme")), map[string]deliver.Deliverer{"s3": rec})
	d.Dispatch(context.Background(), obj("m1", "c/acme/app/pod/f.gz"))
	require.Len(t, rec.Deliveries(), 1)
	assert.Nil(t, rec.Deliveries()[0].Identity, "the seed's compatibility mode")
}
