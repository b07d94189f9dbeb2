package dynamostore

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// configStoreHarness returns the open functions of RunConfigStore for a
// client: each makes a new table holding the configs as encoded items
// (their timestamps as given), the bad item written raw.
func configStoreHarness(client func(t *testing.T) *dynamodb.Client) (
	open func(t *testing.T, configs []tenant.DeliveryConfig) tenant.ConfigStore,
	options func(o *storetest.ConfigStoreOptions),
) {
	put := func(t *testing.T, configs []tenant.DeliveryConfig, raw ...map[string]types.AttributeValue) tenant.ConfigStore {
		c := client(t)
		table := newTable(t, c)
		for _, cfg := range configs {
			item, err := encode(cfg)
			require.NoError(t, err)
			putRaw(t, c, table, item)
		}
		putRaw(t, c, table, raw...)
		return New(c, table, func(o *Options) { o.QueryLimit = 2 }) // several pages per tenant
	}
	open = func(t *testing.T, configs []tenant.DeliveryConfig) tenant.ConfigStore { return put(t, configs) }
	options = func(o *storetest.ConfigStoreOptions) {
		o.OpenWithBadItem = func(t *testing.T, configs []tenant.DeliveryConfig, tenantID, typ string) tenant.ConfigStore {
			return put(t, configs, map[string]types.AttributeValue{
				"tenant_id": s(tenantID), "type": s(typ), "bucket_name": s("x"), "enabled": s("maybe"),
			})
		}
	}
	return open, options
}

func TestConfigStoreConformanceFake(t *testing.T) {
	open, options := configStoreHarness(func(t *testing.T) *dynamodb.Client {
		c, _ := fakeClient(t)
		return c
	})
	storetest.RunConfigStore(t, open, options)
}

func TestConfigStoreConformanceMoto(t *testing.T) {
	srv := mototest.Start(t)
	client := dynamodb.NewFromConfig(srv.Config())
	open, options := configStoreHarness(func(*testing.T) *dynamodb.Client { return client })
	storetest.RunConfigStore(t, open, options)
}
