package filestore_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/filestore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func TestConfigStoreConformance(t *testing.T) {
	for _, name := range []string{"configs.json", "configs.yaml"} {
		t.Run(filepath.Ext(name)[1:], func(t *testing.T) {
			storetest.RunConfigStore(t,
				func(t *testing.T, configs []tenant.DeliveryConfig) tenant.ConfigStore {
					return openFile(t, name, configs)
				},
				func(o *storetest.ConfigStoreOptions) {
					o.OpenWithBadItem = func(t *testing.T, configs []tenant.DeliveryConfig, tenantID, typ string) tenant.ConfigStore {
						bad := fmt.Sprintf(`{"tenant_id": %q, "type": %q, "bucket_name": "x", "enabled": "maybe"}`, tenantID, typ)
						return openFile(t, name, configs, json.RawMessage(bad))
					}
				})
		})
	}
}

// openFile writes configs, then the raw items, to a new file and opens it.
func openFile(t *testing.T, name string, configs []tenant.DeliveryConfig, raw ...json.RawMessage) *filestore.Store {
	t.Helper()
	items := make([]json.RawMessage, 0, len(configs)+len(raw))
	for _, c := range configs {
		b, err := json.Marshal(c)
		require.NoError(t, err)
		items = append(items, b)
	}
	data, err := json.Marshal(append(items, raw...))
	require.NoError(t, err)
	if filepath.Ext(name) == ".yaml" {
		data, err = yaml.JSONToYAML(data)
		require.NoError(t, err)
	}
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	s, err := filestore.Open(path)
	require.NoError(t, err)
	return s
}
