package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
)

// IdentityWriter is a tenant.IdentityStore an operator can write, as the
// identity suite needs to seed it.
type IdentityWriter interface {
	tenant.IdentityStore
	Put(ctx context.Context, id tenant.Identity) error
	Delete(ctx context.Context, tenantID string) error
}

// RunIdentityStore runs the conformance suite of identity stores. open
// must return a new, empty store for each call.
func RunIdentityStore(t *testing.T, open func(t *testing.T) IdentityWriter) {
	acme := tenant.Identity{TenantID: "acme", Accounts: []string{"222222222222", "333333333333"}, ExternalID: "issued-by-the-operator"}
	t.Run("UnknownTenant", func(t *testing.T) {
		_, err := open(t).Identity(ctx(t), "nobody")
		assert.ErrorIs(t, err, tenant.ErrNoIdentity)
	})
	t.Run("PutGetRoundTrip", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.Put(ctx(t), acme))
		require.NoError(t, s.Put(ctx(t), tenant.Identity{TenantID: "globex", Accounts: []string{"444444444444"}}))
		got, err := s.Identity(ctx(t), "acme")
		require.NoError(t, err)
		assert.Equal(t, acme.TenantID, got.TenantID)
		assert.ElementsMatch(t, acme.Accounts, got.Accounts)
		assert.Equal(t, acme.ExternalID, got.ExternalID)
		other, err := s.Identity(ctx(t), "globex")
		require.NoError(t, err)
		assert.Equal(t, []string{"444444444444"}, other.Accounts)
		assert.Empty(t, other.ExternalID, "no ExternalId: the processor derives one")
	})
	t.Run("Replace", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.Put(ctx(t), acme))
		moved := tenant.Identity{TenantID: "acme", Accounts: []string{"555555555555"}}
		require.NoError(t, s.Put(ctx(t), moved))
		got, err := s.Identity(ctx(t), "acme")
		require.NoError(t, err)
		assert.Equal(t, []string{"555555555555"}, got.Accounts, "a put replaces the identity as a whole")
		assert.Empty(t, got.ExternalID)
	})
	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.Put(ctx(t), acme))
		require.NoError(t, s.Delete(ctx(t), "acme"))
		_, err := s.Identity(ctx(t), "acme")
		assert.ErrorIs(t, err, tenant.ErrNoIdentity)
	})
	t.Run("InvalidIsRefused", func(t *testing.T) {
		s := open(t)
		for _, bad := range []tenant.Identity{
			{TenantID: "acme"},
			{TenantID: "acme", Accounts: []string{"12"}},
			{TenantID: "../x", Accounts: []string{"222222222222"}},
			{TenantID: "acme", Accounts: []string{"222222222222"}, ExternalID: "has space"},
		} {
			assert.ErrorIs(t, s.Put(ctx(t), bad), tenant.ErrInvalidConfig, "%+v", bad)
		}
		_, err := s.Identity(ctx(t), "acme")
		assert.ErrorIs(t, err, tenant.ErrNoIdentity, "nothing was stored")
	})
	t.Run("ReturnsCopies", func(t *testing.T) {
		s := open(t)
		id := acme.Clone()
		require.NoError(t, s.Put(ctx(t), id))
		id.Accounts[0] = "999999999999"
		got, err := s.Identity(ctx(t), "acme")
		require.NoError(t, err)
		assert.NotContains(t, got.Accounts, "999999999999", "changing what was put changes nothing")
		got.Accounts[0] = "999999999999"
		again, err := s.Identity(ctx(t), "acme")
		require.NoError(t, err)
		assert.NotContains(t, again.Accounts, "999999999999", "nor does changing what was read")
	})
	t.Run("Cancelled", func(t *testing.T) {
		s := open(t)
		c, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Identity(c, "acme")
		assert.Error(t, err)
		assert.NotErrorIs(t, err, tenant.ErrNoIdentity, "a cancelled lookup is a failure, not an answer")
	})
}
