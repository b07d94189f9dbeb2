// Command processor runs logdelivery in one of four modes, configured by
// the same environment variables as the reference processor so that it can
// replace it:
//
//	-mode lambda   AWS Lambda handler for SQS events (the default inside Lambda)
//	-mode sqs      long-running SQS worker; serves /metrics, /healthz and /readyz
//	-mode manual   reads SQS message bodies (JSON documents, one after
//	               another) from stdin, prints one JSON line per (object,
//	               destination) result, exits 0 only if nothing needs a retry;
//	               with REPLAY_QUEUE_URL (a failure or dead-letter queue) it
//	               drains that queue instead, deleting what it delivers
//	-mode scan     lists SOURCE_BUCKET every SCAN_INTERVAL seconds (default
//	               10) and delivers the objects it has not delivered yet,
//	               remembered in a checkpoint (see scan.go): SCAN_CHECKPOINT,
//	               "s3://bucket/key" or a file path (default: a file in the
//	               temporary directory); SCAN_SUFFIX (default ".json.gz", the
//	               reference's), SCAN_GRACE (default 15m)
//
//	-mode explain  prints, for each argument (an object key, s3://bucket/key,
//	               or an SQS message body; stdin without arguments), what
//	               delivering it would do, without delivering or downloading:
//	               the parsed key, the tenant, its configs, which destinations
//	               would receive it and why each other one would not; -json
//	               prints logdelivery.Explanation documents
//	-check         (or -mode check) checks once that the tenant config
//	               table (or file), the identity and ledger tables, the
//	               central role and the queues (SQS_QUEUE_URL,
//	               FAILURE_QUEUE_URL) can be reached; prints one line per
//	               check ("ok" or "FAIL" and the problem); exits 1 on a problem
//
// In sqs mode /readyz is not ready while the queue, a table or the
// central role cannot be reached (probed every READINESS_PROBE_INTERVAL,
// default 30s) or when at least READINESS_MIN_FAILURES (default 10)
// deliveries and none successful in the last READINESS_WINDOW (default
// 5m) failed retryably; /healthz only fails when the receive loop is stuck.
//
// Environment: EXECUTION_MODE (instead of -mode), TENANT_CONFIG_TABLE or
// TENANT_CONFIG_FILE (DynamoDB table, or a local YAML/JSON file of configs),
// CENTRAL_LOG_DISTRIBUTION_ROLE_ARN, SQS_QUEUE_URL (sqs mode), AWS_REGION,
// AWS_ENDPOINT_URL, AWS_S3_USE_PATH_STYLE, METRICS_ADDR (sqs mode, default
// ":9090"), TENANT_IDENTITY_TABLE (the operator's tenant identities: binds
// every config to its tenant's accounts; without it the processor runs in
// the seed's compatibility mode and warns), EXTERNAL_ID_KEY (base64, at
// least 32 bytes: the key tenants' ExternalIds are derived from). Logs go
// to stderr, at LOG_LEVEL (DEBUG, INFO (default), WARN or ERROR).
//
// EGRESS_POLICY (JSON, such as {"ports":[443,3100]}; default the strict
// policy) says which tenant URLs the HTTP kinds (Loki) may reach; give
// examples/configapi the same.
//
// Live configuration: LIMITS_FILE is a per-tenant limits overrides file
// (Loki's shape, see package limits; events/s, bytes/s and concurrent
// deliveries per tenant and destination kind), LIMITS_MAX_WAIT (default
// 5s) how long a delivery waits for its tenant's limits before its message
// is retried after the hint. LIMITS_FILE and TENANT_CONFIG_FILE are polled
// every CONFIG_RELOAD_INTERVAL (default 10s): a new version is applied
// whole, or refused with every problem logged while the last good one
// stays; an invalid LIMITS_FILE at start fails the start.
//
// Delivery guarantee: LEDGER_TABLE (DynamoDB) or LEDGER_DIR (a directory)
// holds the ledger that makes delivery effectively-once per destination;
// without either, delivery is at-least-once. FAILURE_QUEUE_URL (lambda and
// sqs modes) parks permanently failed messages there, with their reasons;
// without it they stay in the queue for its redrive policy.
// DELETE_PERMANENT_FAILURES=true deletes them instead, as the reference
// does (their logs are lost).
//
// The SQS worker's tuning (sqs mode): SQS_WAIT_TIME, SQS_VISIBILITY_TIMEOUT,
// SQS_RETRY_DELAY, SQS_SHUTDOWN_TIMEOUT (durations such as "30s") and
// SQS_MAX_IN_FLIGHT; sqsworker.Options documents each default.
//
// As in the reference, TENANT_CONFIG_TABLE defaults to
// "tenant-configurations" and the region to us-east-1 when the AWS
// settings name none; MAX_BATCH_SIZE and RETRY_ATTEMPTS must be integers
// when set (RETRY_ATTEMPTS bounds the passes of scan mode that retry an
// object; MAX_BATCH_SIZE is accepted and not needed: batches follow
// CloudWatch's limits).
//
// Compatibility knobs, each off by default (the seed's behaviour):
//
//	S3_KEY_TEMPLATE              key template of copies in tenants' buckets;
//	                             "reference": {bucket_prefix}{tenant_id}/{application}/{pod_name}/{file}
//	CLOUDWATCH_STREAM_TEMPLATE   log stream template; "reference": {pod_name}
//	CLOUDWATCH_CREATE_LOG_GROUP  "true" creates a tenant's missing log group
//	DESIRED_LOGS_EMPTY_MEANS_ALL "true" reads desired_logs [""] as every application
//	REFERENCE_METRICS            "true" also writes the reference's CloudWatch metrics
//	                             (HCPLF/LogForwarding) as EMF on stdout
//	REFERENCE_COMPAT             "true" turns every knob above to the reference's behaviour
//	                             (a knob set explicitly still wins)
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
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/lambdahandler"
	"github.com/logdelivery/logdelivery/ledger"
	"github.com/logdelivery/logdelivery/metrics"
	"github.com/logdelivery/logdelivery/tenant/filestore"
)

func main() {
	mode := flag.String("mode", "", "lambda, sqs, manual, scan, explain or check (default: $EXECUTION_MODE, or lambda inside AWS Lambda)")
	check := flag.Bool("check", false, "check that the tables, the central role and the queues can be reached, print one line per check, exit 1 on a problem")
	flag.Parse()
	if *check {
		*mode = "check"
	}
	level, err := parseLogLevel(os.Getenv("LOG_LEVEL"))
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err != nil {
		logger.Warn("LOG_LEVEL not understood; logging at INFO", "error", err) // as the reference does
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, *mode, logger)
	if err != nil {
		logger.Error("processor failed", "error", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func run(ctx context.Context, mode string, logger *slog.Logger) (int, error) {
	if mode == "" {
		mode = os.Getenv("EXECUTION_MODE")
	}
	if mode == "" && os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		mode = "lambda"
	}

	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return 0, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion // the reference's default
	}
	cfg.Logger = awsdispatch.SDKLogger(logger) // JSON lines only, never the SDK's plain text
	knobs, err := readKnobs(os.Getenv)
	if err != nil {
		return 0, err
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
	settle, err := readSettlement(os.Getenv)
	if err != nil {
		return 0, err
	}
	policy, err := egress.ParsePolicy(os.Getenv("EGRESS_POLICY"))
	if err != nil {
		return 0, err
	}
	lv, err := readLive(os.Getenv, logger) // LIMITS_FILE, CONFIG_RELOAD_INTERVAL (limits.go)
	if err != nil {
		return 0, err
	}
	lv.watch(ctx)
	opts := func(o *awsdispatch.Options) {
		o.Table = os.Getenv("TENANT_CONFIG_TABLE")
		if o.Table == "" {
			o.Table = defaultTable // the reference's default
		}
		o.IdentityTable = os.Getenv("TENANT_IDENTITY_TABLE")
		o.ExternalIDKey = externalIDKey
		o.CentralRoleARN = os.Getenv("CENTRAL_LOG_DISTRIBUTION_ROLE_ARN")
		o.UsePathStyle = pathStyle
		o.Logger = logger
		o.LedgerTable = settle.ledgerTable
		o.Egress = policy
		knobs.apply(o)
		lv.apply(o)
	}
	if settle.ledgerDir != "" {
		led, err := ledger.OpenFile(settle.ledgerDir)
		if err != nil {
			return 0, err
		}
		defer led.Close()
		opts = chain(opts, func(o *awsdispatch.Options) { o.Ledger = led })
	}
	if path := os.Getenv("TENANT_CONFIG_FILE"); path != "" {
		store, err := filestore.Open(path, func(o *filestore.Options) {
			o.ReloadInterval, o.ReloadObserver, o.Logger = lv.interval, lv.observers, logger
		})
		if err != nil {
			return 0, err
		}
		for _, p := range store.Problems() {
			logger.Warn("unusable delivery config in file", "error", p)
		}
		go store.Watch(ctx) // a new version is applied whole, or refused
		lv.sources = append(lv.sources, filestore.SourceConfigs)
		// No cache in front of a file: a reload is in force at once.
		opts = chain(opts, func(o *awsdispatch.Options) { o.Store, o.CacheTTL = store, -1 })
	}

	switch mode {
	case "lambda":
		emf := metrics.NewEMF(os.Stdout, func(o *metrics.EMFOptions) { o.Reference = knobs.referenceMetrics })
		lv.observers.add(emf, emf)
		d, err := awsdispatch.New(cfg, chain(opts, func(o *awsdispatch.Options) { o.Observer = emf }))
		if err != nil {
			return 0, err
		}
		h, err := lambdahandler.New(d, func(o *lambdahandler.Options) {
			o.Flusher = emf
			o.Logger = logger
			if settle.failureQueueURL != "" {
				o.FailureQueue, o.FailureQueueURL = sqs.NewFromConfig(cfg), settle.failureQueueURL
			}
			o.DeletePermanentFailures = settle.deletePermanentFailures
			o.Visibility = sqs.NewFromConfig(cfg) // a limited tenant's message back after its hint
		})
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
		return 0, runSQS(ctx, cfg, chain(opts, knobs.observeReference(ctx, logger)), settle, lv, logger)
	case "scan":
		return 0, runScan(ctx, cfg, chain(opts, knobs.observeReference(ctx, logger)), pathStyle, knobs.retryAttempts, logger)
	case "manual":
		d, err := awsdispatch.New(cfg, opts)
		if err != nil {
			return 0, err
		}
		defer d.Close()
		if url := os.Getenv("REPLAY_QUEUE_URL"); url != "" {
			return runReplay(ctx, d, sqs.NewFromConfig(cfg), url, os.Stdout, logger), nil
		}
		return runManual(ctx, d, os.Stdin, os.Stdout, logger), nil
	case "check":
		return runCheck(ctx, cfg, opts, settle, os.Stdout), nil
	case "explain":
		d, err := awsdispatch.New(cfg, opts)
		if err != nil {
			return 0, err
		}
		defer d.Close()
		return runExplain(ctx, d, flag.Args(), os.Stdin, os.Stdout, *explainJSON), nil
	case "":
		return 0, errors.New("no mode: pass -mode lambda|sqs|manual|scan|explain|check or set EXECUTION_MODE")
	}
	return 0, fmt.Errorf("unknown mode %q: want lambda, sqs, manual, scan, explain or check", mode)
}

// settlement is how deliveries are recorded and failed messages settled.
type settlement struct {
	ledgerTable, ledgerDir  string
	failureQueueURL         string
	deletePermanentFailures bool
}

func readSettlement(getenv func(string) string) (settlement, error) {
	s := settlement{
		ledgerTable:     getenv("LEDGER_TABLE"),
		ledgerDir:       getenv("LEDGER_DIR"),
		failureQueueURL: getenv("FAILURE_QUEUE_URL"),
	}
	var err error
	if s.deletePermanentFailures, err = boolVar(getenv, "DELETE_PERMANENT_FAILURES", false); err != nil {
		return s, err
	}
	switch {
	case s.ledgerTable != "" && s.ledgerDir != "":
		return s, errors.New("LEDGER_TABLE and LEDGER_DIR exclude each other: one ledger")
	case s.failureQueueURL != "" && s.deletePermanentFailures:
		return s, errors.New("FAILURE_QUEUE_URL and DELETE_PERMANENT_FAILURES=true exclude each other: park failed messages or delete them")
	}
	return s, nil
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
