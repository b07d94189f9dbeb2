package dynamostore

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func newIdentityTable(t *testing.T, client *dynamodb.Client) string {
	t.Helper()
	name := fmt.Sprintf("tenant-identities-%d", tables.Add(1))
	require.NoError(t, CreateIdentityTable(ctx(t), client, name))
	return name
}

func TestIdentitiesConformanceFake(t *testing.T) {
	storetest.RunIdentityStore(t, func(t *testing.T) storetest.IdentityWriter {
		client, _ := fakeClient(t)
		return NewIdentities(client, newIdentityTable(t, client))
	})
}

func TestIdentitiesConformanceMoto(t *testing.T) {
	srv := mototest.Start(t)
	client := dynamodb.NewFromConfig(srv.Config())
	storetest.RunIdentityStore(t, func(t *testing.T) storetest.IdentityWriter {
		return NewIdentities(client, newIdentityTable(t, client))
	})
}
