package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/sqsworker"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

const (
	okBody    = `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"central"},"object":{"key":"c/ok/app/pod/1.gz"}}}]}`
	flakyBody = `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"central"},"object":{"key":"c/flaky/app/pod/1.gz"}}}]}`
)

func newDispatcher(t *testing.T) *logdelivery.Dispatcher {
	store, err := memstore.New(nil)
	require.NoError(t, err)
	for _, id := range []string{"ok", "flaky"} {
		_, err := store.Create(context.Background(), storetest.S3(id))
		require.NoError(t, err)
	}
	rec := &delivertest.Recorder{Func: func(_ context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		if d.Key.Tenant == "flaky" {
			return deliver.Receipt{}, errors.New("SlowDown")
		}
		return deliver.Receipt{Objects: 1}, nil
	}}
	d, err := logdelivery.NewDispatcher(store, kindsOf(t, s3.Kind().With(rec)))
	require.NoError(t, err)
	return d
}

func results(t *testing.T, out string) []map[string]any {
	var rs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		rs = append(rs, m)
	}
	return rs
}

func TestManual(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	var out bytes.Buffer
	in := okBody + "\n" + `{"Service":"Amazon S3","Event":"s3:TestEvent"}` + "\n" + `{"not":"a notification"}` + okBody
	code := runManual(context.Background(), newDispatcher(t), strings.NewReader(in), &out, logger)
	assert.Equal(t, 0, code, "nothing needs a retry: the bad body is permanent")
	rs := results(t, out.String())
	require.Len(t, rs, 3)
	assert.Equal(t, "delivered", rs[0]["outcome"])
	assert.Equal(t, "stdin-1", rs[0]["id"])
	assert.Equal(t, "ok", rs[0]["tenant"])
	assert.Equal(t, "stdin-3", rs[1]["id"])
	assert.Equal(t, "failed", rs[1]["outcome"])
	assert.Contains(t, rs[1]["error"], "malformed notification")
	assert.Equal(t, "stdin-4", rs[2]["id"], "documents need no separator")

	out.Reset()
	code = runManual(context.Background(), newDispatcher(t), strings.NewReader(okBody+flakyBody), &out, logger)
	assert.Equal(t, 1, code, "a retryable failure fails the run")
	rs = results(t, out.String())
	require.Len(t, rs, 2)
	assert.Equal(t, true, rs[1]["retryable"])

	out.Reset()
	code = runManual(context.Background(), newDispatcher(t), strings.NewReader(okBody+"\n{broken"), &out, logger)
	assert.Equal(t, 3, code, "unreadable input is reported")
	assert.Len(t, results(t, out.String()), 1, "documents before the broken one are still processed")
	assert.Contains(t, logs.String(), "stdin document 2")
}

func TestRunRejectsUnknownMode(t *testing.T) {
	t.Setenv("EXECUTION_MODE", "")
	t.Setenv("AWS_LAMBDA_RUNTIME_API", "")
	t.Setenv("AWS_REGION", "us-east-1")
	_, err := run(context.Background(), "", slog.New(slog.DiscardHandler))
	assert.ErrorContains(t, err, "no mode")
	_, err = run(context.Background(), "batch", slog.New(slog.DiscardHandler))
	assert.ErrorContains(t, err, `unknown mode "batch"`)
	t.Setenv("SQS_QUEUE_URL", "")
	t.Setenv("TENANT_CONFIG_TABLE", "configs")
	_, err = run(context.Background(), "sqs", slog.New(slog.DiscardHandler))
	assert.ErrorContains(t, err, "SQS_QUEUE_URL")
}

func kindsOf(t *testing.T, kinds ...deliver.Kind) *deliver.Registry {
	t.Helper()
	r, err := deliver.NewRegistry(kinds)
	require.NoError(t, err)
	return r
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestReadWorkerTuning(t *testing.T) {
	fn, err := readWorkerTuning(env(map[string]string{"SQS_RETRY_DELAY": "5s", "SQS_SHUTDOWN_TIMEOUT": "1m", "SQS_MAX_IN_FLIGHT": "7"}))
	require.NoError(t, err)
	var o sqsworker.Options
	fn(&o)
	assert.Equal(t, 5*time.Second, o.RetryDelay)
	assert.Equal(t, time.Minute, o.ShutdownTimeout)
	assert.Equal(t, 7, o.MaxInFlight)
	assert.Zero(t, o.WaitTime, "unset keeps the worker's default")

	for _, bad := range []map[string]string{{"SQS_WAIT_TIME": "20"}, {"SQS_MAX_IN_FLIGHT": "many"}} {
		_, err := readWorkerTuning(env(bad))
		assert.Error(t, err, "%v", bad)
	}
}

func TestReadSettlement(t *testing.T) {
	s, err := readSettlement(env(map[string]string{"LEDGER_TABLE": "ledger", "FAILURE_QUEUE_URL": "https://sqs/failures"}))
	require.NoError(t, err)
	assert.Equal(t, settlement{ledgerTable: "ledger", failureQueueURL: "https://sqs/failures"}, s)
	for _, bad := range []map[string]string{
		{"LEDGER_TABLE": "t", "LEDGER_DIR": "/tmp/l"},
		{"FAILURE_QUEUE_URL": "q", "DELETE_PERMANENT_FAILURES": "true"},
		{"DELETE_PERMANENT_FAILURES": "yes"},
	} {
		_, err := readSettlement(env(bad))
		assert.Error(t, err, "%v", bad)
	}
}
