package memstore_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func TestIdentitiesConformance(t *testing.T) {
	storetest.RunIdentityStore(t, func(t *testing.T) storetest.IdentityWriter {
		s, err := memstore.NewIdentities()
		require.NoError(t, err)
		return s
	})
}

func TestNewIdentitiesValidates(t *testing.T) {
	_, err := memstore.NewIdentities(tenant.Identity{TenantID: "acme"})
	assert.ErrorIs(t, err, tenant.ErrInvalidConfig)
	ok := tenant.Identity{TenantID: "acme", Accounts: []string{"222222222222"}}
	_, err = memstore.NewIdentities(ok, ok)
	assert.Error(t, err, "two identities of one tenant")
}
