package configapi

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// The client over the handler over the DynamoDB store is a conforming
// tenant.Store: every store operation survives the trip through the API
// and DynamoDB's real protocol.
func TestDynamoStoreConformanceThroughAPI(t *testing.T) {
	srv := mototest.Start(t)
	ddb := dynamodb.NewFromConfig(srv.Config())
	var tables atomic.Int64
	storetest.Run(t, func(t *testing.T) tenant.Store {
		table := fmt.Sprintf("delivery-configs-%d", tables.Add(1))
		require.NoError(t, dynamostore.CreateTable(mototest.Context(t), ddb, table))
		return newEnv(t, withStore(dynamostore.New(ddb, table))).client
	})
}
