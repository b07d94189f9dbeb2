// Command processor runs logdelivery in one of three modes, configured by
// the same environment variables as the reference processor so that it can
// replace it:
//
//	-mode lambda   AWS Lambda handler for SQS events (the default inside Lambda)
//	-mode sqs      long-running SQS worker; serves /metrics and /healthz
//	-mode manual   reads SQS message bodies (JSON documents, one after
//	               another) from stdin, prints one JSON line per (object,
//	               destination) result, exits 0 only if nothing needs a retry
//
// Environment: EXECUTION_MODE (instead of -mode), TENANT_CONFIG_TABLE or
// TENANT_CONFIG_FILE (DynamoDB table, or a local YAML/JSON file of configs),
// CENTRAL_LOG_DISTRIBUTION_ROLE_ARN, SQS_QUEUE_URL (sqs mode), AWS_REGION,
// AWS_ENDPOINT_URL, AWS_S3_USE_PATH_STYLE, METRICS_ADDR (sqs mode, default
// ":9090"), TENANT_IDENTITY_TABLE (the operator's tenant identities: binds
// every config to its tenant's accounts; without it the processor runs in
// the seed's compatibility mode and warns), EXTERNAL_ID_KEY (base64, at
// least 32 bytes: the key tenants' ExternalIds are derived from). Logs go
// to stderr.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/lambdahandler"
	"github.com/logdelivery/logdelivery/metrics"
	"github.com/logdelivery/logdelivery/tenant/filestore"
)

func main() {
	mode := flag.String("mode", "", "lambda, sqs or manual (default: $EXECUTION_MODE, or lambda inside AWS Lambda)")
	flag.Parse()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	code, err := run(*mode, logger)
	if err != nil {
		logger.Error("processor failed", "error", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func run(mode string, logger *slog.Logger) (int, error) {
	if mode == "" {
		mode = os.Getenv("EXECUTION_MODE")
	}
	if mode == "" && os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		mode = "lambda"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return 0, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	pathStyle, _ := strconv.ParseBool(os.Getenv("AWS_S3_USE_PATH_STYLE"))
	var externalIDKey []byte
	if k := os.Getenv("EXTERNAL_ID_KEY"); k != "" {
		if externalIDKey, err = base64.StdEncoding.DecodeString(k); err != nil {
			return 0, fmt.Errorf("EXTERNAL_ID_KEY is not base64: %w", err)
		}
	}
	opts := func(o *awsdispatch.Options) {
		o.Table = os.Getenv("TENANT_CONFIG_TABLE")
		o.IdentityTable = os.Getenv("TENANT_IDENTITY_TABLE")
		o.ExternalIDKey = externalIDKey
		o.CentralRoleARN = os.Getenv("CENTRAL_LOG_DISTRIBUTION_ROLE_ARN")
		o.UsePathStyle = pathStyle
		o.Logger = logger
	}
	if path := os.Getenv("TENANT_CONFIG_FILE"); path != "" {
		store, err := filestore.Open(path)
		if err != nil {
			return 0, err
		}
		for _, p := range store.Problems() {
			logger.Warn("unusable delivery config in file", "error", p)
		}
		opts = chain(opts, func(o *awsdispatch.Options) { o.Store = store })
	}

	switch mode {
	case "lambda":
		emf := metrics.NewEMF(os.Stdout)
		d, err := awsdispatch.New(cfg, chain(opts, func(o *awsdispatch.Options) { o.Observer = emf }))
		if err != nil {
			return 0, err
		}
		h, err := lambdahandler.New(d, func(o *lambdahandler.Options) { o.Flusher = emf; o.Logger = logger })
		if err != nil {
			return 0, err
		}
		lambda.StartWithOptions(h.Handle, lambda.WithContext(ctx), lambda.WithEnableSIGTERM(func() {
			if err := h.Close(); err != nil {
				logger.Error("closing the dispatcher", "error", err)
			}
		}))
		return 0, nil
	case "sqs":
		return 0, runSQS(ctx, cfg, opts, logger)
	case "manual":
		d, err := awsdispatch.New(cfg, opts)
		if err != nil {
			return 0, err
		}
		defer d.Close()
		return runManual(ctx, d, os.Stdin, os.Stdout, logger), nil
	case "":
		return 0, errors.New("no mode: pass -mode lambda|sqs|manual or set EXECUTION_MODE")
	}
	return 0, fmt.Errorf("unknown mode %q: want lambda, sqs or manual", mode)
}

func chain(fns ...func(*awsdispatch.Options)) func(*awsdispatch.Options) {
	return func(o *awsdispatch.Options) {
		for _, fn := range fns {
			fn(o)
		}
	}
}

// dispatcher is what the modes need of a Dispatcher.
type dispatcher interface {
	DispatchMessages(ctx context.Context, msgs ...logdelivery.Message) []logdelivery.MessageResult
}
