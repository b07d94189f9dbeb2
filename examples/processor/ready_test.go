package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/mototest"
)

// lockedBuffer is a bytes.Buffer a process writes to while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The case: a misspelled table. /healthz stays ok (a restart
// would not help) while /readyz says what is wrong — from the probes at
// once, and from the deliveries when they all fail; at SIGTERM the worker
// logs its totals.
func TestReadinessOnMoto(t *testing.T) {
	srv := mototest.Start(t)
	env := motoTenant(t, srv)
	client := sqs.NewFromConfig(srv.Config())
	q, err := client.CreateQueue(mototest.Context(t), &sqs.CreateQueueInput{QueueName: aws.String("notifications")})
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	env["SQS_QUEUE_URL"] = aws.ToString(q.QueueUrl)
	env["TENANT_CONFIG_TABLE"] = "confgis"
	env["METRICS_ADDR"] = addr
	env["READINESS_PROBE_INTERVAL"] = "1s"
	env["READINESS_MIN_FAILURES"] = "1"
	env["SQS_WAIT_TIME"] = "1s"
	env["SQS_RETRY_DELAY"] = "1s"

	cmd := processorProcess(t, env, "-mode", "sqs")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})

	get := func(path string) (int, string) {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not happen; stderr:\n%s", what, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var status int
	var body string
	waitFor("/readyz naming the table", func() bool {
		status, body = get("/readyz")
		return status == http.StatusServiceUnavailable && strings.Contains(body, `tenant config table "confgis": no such table`)
	})
	code, _ := get("/healthz")
	assert.Equal(t, http.StatusOK, code, "liveness does not depend on the table")

	_, err = client.SendMessage(mototest.Context(t), &sqs.SendMessageInput{QueueUrl: q.QueueUrl,
		MessageBody: aws.String(notification("c1/acme/payment/pod-1/1.json.gz"))})
	require.NoError(t, err)
	waitFor("/readyz naming the failed deliveries", func() bool {
		status, body = get("/readyz")
		return strings.Contains(body, "failed retryably")
	})
	assert.Equal(t, http.StatusServiceUnavailable, status)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "stderr:\n%s", stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the worker did not stop; stderr:\n%s", stderr.String())
	}
	var stopped map[string]any
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "not JSON: %s", sc.Text())
		if line["msg"] == "stopped" {
			stopped = line
		}
	}
	require.NotNil(t, stopped, "the totals at shutdown")
	totals := stopped["totals"].(map[string]any)
	assert.GreaterOrEqual(t, totals["messages"], 1.0)
	assert.GreaterOrEqual(t, totals["messages_by_outcome"].(map[string]any)["retry"], 1.0)
}
