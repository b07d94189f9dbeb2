package memstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tenant.Store {
		s, err := memstore.New(nil)
		require.NoError(t, err)
		return s
	})
}

func TestNewRejectsDuplicates(t *testing.T) {
	_, err := memstore.New([]tenant.DeliveryConfig{storetest.S3("a"), storetest.S3("a")})
	require.ErrorIs(t, err, tenant.ErrExists)
}
