package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// openTable opens the DynamoDB store of table, with the AWS settings of the
// environment (AWS_REGION, credentials, AWS_ENDPOINT_URL).
func openTable(ctx context.Context, table string, logger *slog.Logger) (tenant.Store, string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("loading AWS configuration: %w", err)
	}
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	store := dynamostore.New(dynamodb.NewFromConfig(cfg), table, func(o *dynamostore.Options) { o.Logger = logger })
	return store, "DynamoDB table " + table, nil
}
