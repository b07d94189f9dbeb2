package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/metrics"
	"github.com/logdelivery/logdelivery/sqsworker"
)

// runSQS consumes SQS_QUEUE_URL until ctx is done, serving /metrics,
// /healthz and /readyz on METRICS_ADDR.
func runSQS(ctx context.Context, cfg aws.Config, opts func(*awsdispatch.Options), settle settlement, logger *slog.Logger) error {
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
	d, err := awsdispatch.New(cfg, chain(opts, func(o *awsdispatch.Options) { o.Observer = prom }))
	if err != nil {
		return err
	}
	w, err := sqsworker.New(sqs.NewFromConfig(cfg), queueURL, d, func(o *sqsworker.Options) {
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
	// must not restart pods. Readiness follows the queue.
	mux.Handle("GET /healthz", probe(w.Live))
	mux.Handle("GET /readyz", probe(w.Ready))
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
