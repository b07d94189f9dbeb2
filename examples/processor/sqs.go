package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/health"
	"github.com/logdelivery/logdelivery/metrics"
	"github.com/logdelivery/logdelivery/sqsworker"
)

// runSQS consumes SQS_QUEUE_URL until ctx is done, serving /metrics,
// /healthz and /readyz on METRICS_ADDR.
func runSQS(ctx context.Context, cfg aws.Config, opts func(*awsdispatch.Options), settle settlement, lv *live, logger *slog.Logger) error {
	queueURL := os.Getenv("SQS_QUEUE_URL")
	if queueURL == "" {
		return errors.New("sqs mode needs SQS_QUEUE_URL")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	prom, err := metrics.NewPrometheus(reg)
	if err != nil {
		return err
	}
	workerMetrics, err := metrics.NewWorker(reg)
	if err != nil {
		return err
	}
	if err := lv.register(reg); err != nil {
		return err
	}
	readyOpts, err := readReadiness(os.Getenv)
	if err != nil {
		return err
	}
	ready, err := health.NewReadiness(readyOpts, func(o *health.Options) {
		o.Probes = append(awsdispatch.Probes(cfg, opts), queueProbes(cfg, settle)...)
		o.Logger = logger
	})
	if err != nil {
		return err
	}
	go ready.Run(ctx)
	d, err := awsdispatch.New(cfg, chain(opts, func(o *awsdispatch.Options) { o.Observer = metrics.Multi(prom, ready) }))
	if err != nil {
		return err
	}
	tuning, err := readWorkerTuning(os.Getenv)
	if err != nil {
		return err
	}
	w, err := sqsworker.New(sqs.NewFromConfig(cfg), queueURL, d, tuning, func(o *sqsworker.Options) {
		o.Logger = logger
		o.Observer = workerMetrics
		o.FailureQueueURL = settle.failureQueueURL
		o.DeletePermanentFailures = settle.deletePermanentFailures
	})
	if err != nil {
		return err
	}

	probe := func(check func() error) http.HandlerFunc {
		return func(rw http.ResponseWriter, _ *http.Request) {
			if err := check(); err != nil {
				http.Error(rw, err.Error(), http.StatusServiceUnavailable)
				return
			}
			rw.Write([]byte("ok\n"))
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Liveness only fails when the receive loop is stuck: an SQS outage
	// must not restart pods. Readiness follows the queue, the tables and
	// the central role (probed every READINESS_PROBE_INTERVAL), and the
	// deliveries: not ready when all of the last READINESS_WINDOW failed
	// retryably.
	mux.Handle("GET /healthz", probe(w.Live))
	mux.Handle("GET /readyz", probe(func() error { return errors.Join(w.Ready(), ready.Ready()) }))
	addr := os.Getenv("METRICS_ADDR")
	if addr == "" {
		addr = ":9090"
	}
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server failed", "error", err)
		}
	}()
	logger.Info("consuming", "queue", queueURL, "metrics", addr)
	err = w.Run(ctx)
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return err
}

// readWorkerTuning reads the worker's optional settings: SQS_WAIT_TIME,
// SQS_VISIBILITY_TIMEOUT, SQS_RETRY_DELAY, SQS_SHUTDOWN_TIMEOUT (Go
// durations such as "30s") and SQS_MAX_IN_FLIGHT. Unset means the
// worker's default; sqsworker.New checks the ranges.
func readWorkerTuning(getenv func(string) string) (func(*sqsworker.Options), error) {
	var fns []func(*sqsworker.Options)
	for name, field := range map[string]func(*sqsworker.Options) *time.Duration{
		"SQS_WAIT_TIME":          func(o *sqsworker.Options) *time.Duration { return &o.WaitTime },
		"SQS_VISIBILITY_TIMEOUT": func(o *sqsworker.Options) *time.Duration { return &o.VisibilityTimeout },
		"SQS_RETRY_DELAY":        func(o *sqsworker.Options) *time.Duration { return &o.RetryDelay },
		"SQS_SHUTDOWN_TIMEOUT":   func(o *sqsworker.Options) *time.Duration { return &o.ShutdownTimeout },
	} {
		v := getenv(name)
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("%s %q: want a duration such as 30s", name, v)
		}
		fns = append(fns, func(o *sqsworker.Options) { *field(o) = d })
	}
	if v := getenv("SQS_MAX_IN_FLIGHT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("SQS_MAX_IN_FLIGHT %q: want an integer", v)
		}
		fns = append(fns, func(o *sqsworker.Options) { o.MaxInFlight = n })
	}
	return func(o *sqsworker.Options) {
		for _, fn := range fns {
			fn(o)
		}
	}, nil
}
