// Command lambda is the minimal Lambda function for logdelivery: copy it
// into your own project. It reads S3 object notifications from SQS,
// delivers each object to its tenant's destinations, reports per-message
// failures (ReportBatchItemFailures) and writes per-tenant metrics in
// CloudWatch Embedded Metric Format.
//
// Environment: TENANT_CONFIG_TABLE (DynamoDB table of delivery configs),
// CENTRAL_LOG_DISTRIBUTION_ROLE_ARN (the central role every delivery starts
// from), and the usual AWS_REGION.
package main

import (
	"context"
	"log"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/lambdahandler"
	"github.com/logdelivery/logdelivery/metrics"
)

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("loading AWS configuration: %v", err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	emf := metrics.NewEMF(os.Stdout) // CloudWatch turns these lines into metrics

	dispatcher, err := awsdispatch.New(cfg, func(o *awsdispatch.Options) {
		o.Table = os.Getenv("TENANT_CONFIG_TABLE")
		o.CentralRoleARN = os.Getenv("CENTRAL_LOG_DISTRIBUTION_ROLE_ARN")
		o.Observer = emf
		o.Logger = logger
	})
	if err != nil {
		log.Fatalf("building the dispatcher: %v", err)
	}

	handler, err := lambdahandler.New(dispatcher, func(o *lambdahandler.Options) {
		o.Flusher = emf
		o.Logger = logger
	})
	if err != nil {
		logger.Error("starting", "error", err)
		os.Exit(1)
	}
	// SIGTERM reaches functions with an extension at shutdown: release what
	// the deliverers hold then.
	lambda.StartWithOptions(handler.Handle, lambda.WithEnableSIGTERM(func() {
		if err := handler.Close(); err != nil {
			logger.Error("closing the dispatcher", "error", err)
		}
	}))
}
