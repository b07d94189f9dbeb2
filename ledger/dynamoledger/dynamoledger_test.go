package dynamoledger_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/ledger"
	"github.com/logdelivery/logdelivery/ledger/dynamoledger"
	"github.com/logdelivery/logdelivery/ledger/ledgertest"
)

var tables atomic.Int64

func TestConformanceMoto(t *testing.T) {
	srv := mototest.Start(t)
	client := dynamodb.NewFromConfig(srv.Config())
	ledgertest.Run(t, func(t *testing.T, now func() time.Time, ttl time.Duration) ledger.Ledger {
		table := fmt.Sprintf("ledger-%d", tables.Add(1))
		require.NoError(t, dynamoledger.CreateTable(mototest.Context(t), client, table))
		l, err := dynamoledger.New(client, table, func(o *dynamoledger.Options) { o.Now, o.TTL = now, ttl })
		require.NoError(t, err)
		return l
	})
}

func TestNewValidates(t *testing.T) {
	_, err := dynamoledger.New(nil, "t")
	require.Error(t, err)
	_, err = dynamoledger.New(&dynamodb.Client{}, "t", func(o *dynamoledger.Options) { o.TTL = -1 })
	require.Error(t, err)
}
