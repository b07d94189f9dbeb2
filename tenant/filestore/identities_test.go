package filestore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/filestore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func TestIdentitiesConformance(t *testing.T) {
	for _, name := range []string{"identities.json", "identities.yaml"} {
		t.Run(name, func(t *testing.T) {
			storetest.RunIdentityStore(t, func(t *testing.T) storetest.IdentityWriter {
				s, err := filestore.OpenIdentities(filepath.Join(t.TempDir(), name))
				require.NoError(t, err)
				return s
			})
		})
	}
}

func TestIdentitiesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identities.yaml")
	require.NoError(t, os.WriteFile(path, []byte("- tenant_id: acme\n  accounts: ['222222222222']\n"), 0o600))
	s, err := filestore.OpenIdentities(path)
	require.NoError(t, err)
	id, err := s.Identity(context.Background(), "acme")
	require.NoError(t, err)
	assert.Equal(t, []string{"222222222222"}, id.Accounts)

	require.NoError(t, s.Put(context.Background(), tenant.Identity{TenantID: "globex", Accounts: []string{"333333333333"}}))
	again, err := filestore.OpenIdentities(path)
	require.NoError(t, err)
	_, err = again.Identity(context.Background(), "globex")
	require.NoError(t, err, "writes are saved")

	for name, content := range map[string]string{
		"invalid.yaml":  "- tenant_id: acme\n  accounts: ['12']\n",
		"unknown.yaml":  "- tenant_id: acme\n  accounts: ['222222222222']\n  acounts: []\n",
		"twice.yaml":    "- {tenant_id: acme, accounts: ['222222222222']}\n- {tenant_id: acme, accounts: ['222222222222']}\n",
		"notalist.json": `{"tenant_id":"acme"}`,
	} {
		p := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		_, err := filestore.OpenIdentities(p)
		assert.Error(t, err, name)
	}
}
