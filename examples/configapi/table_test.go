package main

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/configapi"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// The binary serves the API over the DynamoDB table the environment names.
func TestRunWithDynamoDBTable(t *testing.T) {
	srv := mototest.Start(t)
	ctx, cancel := context.WithCancel(mototest.Context(t))
	defer cancel()
	ddb := dynamodb.NewFromConfig(srv.Config())
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, "tenant-configs"))
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	t.Setenv("AWS_REGION", mototest.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")

	vars := map[string]string{
		"CONFIG_API_ADDR":      "127.0.0.1:0",
		"TENANT_CONFIG_TABLE":  "tenant-configs",
		"CONFIG_API_KEYS":      "ops:" + secretA,
		"CONFIG_API_GRANTS":    "ops=*",
		"CONFIG_API_LOG_LEVEL": "warn",
	}
	addr, stop := serve(t, ctx, cancel, vars)
	c, err := configapi.NewClient("http://"+addr, "ops", []byte(secretA))
	require.NoError(t, err)
	_, err = c.Create(ctx, tenant.DeliveryConfig{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-logs"}})
	require.NoError(t, err)

	got, err := dynamostore.New(ddb, "tenant-configs").Configs(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, got, 1, "the write reached the table")

	stop()
}
