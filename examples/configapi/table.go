package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// openTable opens the DynamoDB store of table, with the AWS settings of the
// environment (AWS_REGION, credentials, AWS_ENDPOINT_URL), in defaultRegion
// when they name none.
func openTable(ctx context.Context, table, defaultRegion string, logger *slog.Logger) (tenant.Store, string, error) {
	cfg, err := awsConfig(ctx, defaultRegion)
	if err != nil {
		return nil, "", err
	}
	cfg.Logger = awsdispatch.SDKLogger(logger) // JSON lines only
	store := dynamostore.New(dynamodb.NewFromConfig(cfg), table, func(o *dynamostore.Options) { o.Logger = logger })
	return store, "DynamoDB table " + table, nil
}

// openIdentities opens the identity table, if any, cached.
func openIdentities(ctx context.Context, table, defaultRegion string) (tenant.IdentityStore, error) {
	if table == "" {
		return nil, nil
	}
	cfg, err := awsConfig(ctx, defaultRegion)
	if err != nil {
		return nil, err
	}
	return tenant.NewIdentityCache(dynamostore.NewIdentities(dynamodb.NewFromConfig(cfg), table)), nil
}

func awsConfig(ctx context.Context, defaultRegion string) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	return cfg, nil
}
