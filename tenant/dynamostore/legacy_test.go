package dynamostore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// The reference's processor reads desired_logs [""] as every application
// (container/internal/models/types.go, ApplicationEnabled).
func TestEmptyDesiredLogsMeanAll(t *testing.T) {
	assert.Nil(t, dynamostore.NormalizeLegacy(tenant.DeliveryConfig{DesiredLogs: []string{""}}).DesiredLogs)
	assert.Equal(t, []string{"", "api"}, dynamostore.NormalizeLegacy(tenant.DeliveryConfig{DesiredLogs: []string{"", "api"}}).DesiredLogs,
		"only the reference's exact spelling is read as every application")

	mem, err := memstore.New(nil)
	require.NoError(t, err)
	ctx := context.Background()
	legacy := storetest.S3("acme")
	legacy.DesiredLogs = []string{""}
	_, err = mem.Create(ctx, legacy)
	require.NoError(t, err)

	cfgs, err := mem.Configs(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, []string{""}, cfgs[0].DesiredLogs, "by default the list is read as stored (and is invalid)")

	s := dynamostore.EmptyDesiredLogsMeanAll(mem)
	st, ok := s.(tenant.Store)
	require.True(t, ok, "a Store stays a Store")
	cfgs, err = st.Configs(ctx, "acme")
	require.NoError(t, err)
	assert.Nil(t, cfgs[0].DesiredLogs)
	cfg, err := st.Get(ctx, "acme", legacy.Type)
	require.NoError(t, err)
	assert.Nil(t, cfg.DesiredLogs)
	page, _, err := st.List(ctx, 10, "")
	require.NoError(t, err)
	assert.Nil(t, page[0].DesiredLogs)

	only := dynamostore.EmptyDesiredLogsMeanAll(struct{ tenant.ConfigStore }{mem})
	_, isStore := only.(tenant.Store)
	assert.False(t, isStore)
	cfgs, err = only.Configs(ctx, "acme")
	require.NoError(t, err)
	assert.Nil(t, cfgs[0].DesiredLogs)
}
