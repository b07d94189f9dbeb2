package tenant_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/filestore"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// TestCacheConformance runs the ConfigStore suite against a Cache in front
// of a memstore, and in front of a filestore for items that cannot be
// decoded (an answer with a *tenant.ItemsError is cached like any other).
func TestCacheConformance(t *testing.T) {
	storetest.RunConfigStore(t,
		func(t *testing.T, configs []tenant.DeliveryConfig) tenant.ConfigStore {
			s, err := memstore.New(configs)
			require.NoError(t, err)
			return tenant.NewCache(s)
		},
		func(o *storetest.ConfigStoreOptions) {
			o.AnswersFromMemory = true
			o.OpenWithBadItem = func(t *testing.T, configs []tenant.DeliveryConfig, tenantID, typ string) tenant.ConfigStore {
				items := []any{json.RawMessage(fmt.Sprintf(`{"tenant_id": %q, "type": %q, "enabled": "maybe"}`, tenantID, typ))}
				for _, c := range configs {
					items = append(items, c)
				}
				data, err := json.Marshal(items)
				require.NoError(t, err)
				path := filepath.Join(t.TempDir(), "configs.json")
				require.NoError(t, os.WriteFile(path, data, 0o600))
				s, err := filestore.Open(path)
				require.NoError(t, err)
				return tenant.NewCache(s)
			}
		})
}
