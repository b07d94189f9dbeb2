package memstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func TestConfigStoreConformance(t *testing.T) {
	storetest.RunConfigStore(t, func(t *testing.T, configs []tenant.DeliveryConfig) tenant.ConfigStore {
		s, err := memstore.New(configs)
		require.NoError(t, err)
		return s
	})
}
