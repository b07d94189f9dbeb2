package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/ledger/dynamoledger"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// The effectively-once suite runs the processor binary (examples/processor,
// sqs mode, with a DynamoDB ledger and a failure queue) against moto
// through a fault-injecting proxy, and kills it: the real process, the real
// protocol, the real restart.
const (
	onceObjects       = 3    // objects per round, one pod (one stream) each
	onceEvents        = 300  // events per object
	onceMessageSize   = 8000 // bytes per message: ~125 events per PutLogEvents batch, 3 batches per object
	onceLokiPush      = 100  // entries per Loki push: 3 per object
	onceCrashRounds   = 20
	onceRoundDeadline = 90 * time.Second
)

func TestEffectivelyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the processor binary; not in -short")
	}
	srv := mototest.Start(t)
	h := newOnceHarness(t, srv)

	// Without a crash: every event once, nothing duplicated, and the
	// number of requests a delivery takes, which sets the range of the
	// crash points.
	var requests int
	t.Run("NoCrash", func(t *testing.T) {
		r := h.round(t, "clean")
		p := r.start(t, nil)
		r.waitDelivered(t)
		p.stop(t)
		requests = r.kills.counted()
		r.check(t, 0)
		t.Logf("a clean round takes %d delivery requests, %d of them PutLogEvents", requests, r.proxy.puts())
	})
	require.Positive(t, requests)

	// SIGKILL at a random request of the delivery, seeded: either before
	// the request reaches moto, or after moto applied it and before the
	// processor hears of it (the worst case: a batch accepted and not
	// checkpointed). Then a restart finishes the work.
	t.Run("Crashes", func(t *testing.T) {
		for seed := uint64(1); seed <= onceCrashRounds; seed++ {
			rng := rand.New(rand.NewPCG(seed, 0x10c))
			at := 1 + rng.IntN(requests)
			after := rng.IntN(2) == 1
			t.Run(fmt.Sprintf("seed%02d", seed), func(t *testing.T) {
				r := h.round(t, fmt.Sprintf("crash%02d", seed))
				p := r.processor(nil)
				r.kills.killAt(at, after, p.kill)
				p.start(t)
				killed := r.waitKilledOrDelivered(t, p)
				r.kills.killAt(0, false, nil)
				if !killed {
					// The delivery took fewer requests than the clean
					// round: no crash this time.
					t.Logf("delivered before request %d", at)
					p.stop(t)
				}
				p2 := r.start(t, nil)
				r.waitDelivered(t)
				p2.stop(t)
				r.check(t, 1)
				t.Logf("killed at delivery request %d (after it was answered: %v); CloudWatch: %d batches sent twice; Loki: %d entries sent twice",
					at, after, r.duplicatedBatches(), r.lokiDuplicates())
			})
		}
	})

	// S3 copies fail with 500s until the SDK's attempts are spent: the
	// message is retried, and CloudWatch, done the first time, is skipped.
	t.Run("CopyFailures", func(t *testing.T) {
		r := h.round(t, "copyfail")
		r.proxy.failCopies(onceObjects * 3)
		p := r.start(t, nil)
		r.waitDelivered(t)
		p.stop(t)
		assert.Zero(t, r.proxy.pendingCopyFailures(), "every injected failure was hit")
		r.check(t, 0)
	})

	// The first GetObject of each object is cut mid-body: the delivery
	// fails after some batches were accepted and checkpointed, and the
	// retry resumes after them.
	t.Run("GetObjectCut", func(t *testing.T) {
		r := h.round(t, "cut")
		r.proxy.cutGets(onceObjects)
		p := r.start(t, nil)
		r.waitDelivered(t)
		p.stop(t)
		assert.Zero(t, r.proxy.pendingCuts(), "every object's first read was cut")
		r.check(t, 0)
	})

	// Slow PutLogEvents and a short shutdown grace: SIGTERM cuts the
	// deliveries off; another process resumes them.
	t.Run("ShutdownOutrunsGrace", func(t *testing.T) {
		r := h.round(t, "grace")
		r.proxy.slowPuts(400 * time.Millisecond)
		p := r.processor(map[string]string{"SQS_SHUTDOWN_TIMEOUT": "500ms"})
		r.proxy.onPut(2, p.terminate)
		p.start(t)
		p.waitExit(t, onceRoundDeadline)
		assert.Equal(t, 0, p.exitCode(), "a SIGTERM'd processor exits cleanly")
		r.proxy.onPut(0, nil)
		r.proxy.slowPuts(0)
		p2 := r.start(t, nil)
		r.waitDelivered(t)
		p2.stop(t)
		r.check(t, 1)
	})

	// A duplicate notification of delivered objects, and a manual replay
	// of them, deliver nothing: the replay says why.
	t.Run("DuplicateNotificationAndReplay", func(t *testing.T) {
		r := h.round(t, "dup")
		p := r.start(t, nil)
		r.waitDelivered(t)
		puts, copies := r.proxy.puts(), r.proxy.copies()
		r.notify(t) // the same notifications, again
		r.waitQueueDrained(t)
		p.stop(t)
		assert.Equal(t, puts, r.proxy.puts(), "no PutLogEvents for the duplicate notifications")
		assert.Equal(t, copies, r.proxy.copies(), "no copies for them")

		out, code := r.manual(t, strings.NewReader(strings.Join(r.bodies, "\n")), nil)
		assert.Equal(t, 0, code, "nothing to retry:\n%s", out)
		skipped := 0
		for _, res := range decodeLines(t, out) {
			assert.Equal(t, "skipped", res["outcome"], "%v", res)
			assert.Equal(t, string(logdelivery.ReasonDelivered), res["reason"], "%v", res)
			skipped++
		}
		assert.Equal(t, onceObjects*3, skipped, "one result per (object, destination)")
		assert.Equal(t, puts, r.proxy.puts(), "the replay sends nothing")
		r.check(t, 0)
	})

	// A destination failing permanently parks the message in the failure
	// queue with its reason; once the tenant fixes it, a replay of the
	// failure queue delivers what is missing, and only that.
	t.Run("PermanentFailureParkedThenReplayed", func(t *testing.T) {
		r := h.roundWith(t, "parked", false)
		p := r.start(t, nil)
		r.waitQueueDrained(t)
		p.stop(t)
		parked := receiveAll(t, h, h.failuresURL, onceObjects)
		for _, m := range parked {
			reason := aws.ToString(m.MessageAttributes["logdelivery-failure"].StringValue)
			assert.Contains(t, reason, "NoSuchBucket", "the reason names the cause")
			assert.Equal(t, r.tenant+"/s3", aws.ToString(m.MessageAttributes["logdelivery-failed-destinations"].StringValue))
			// Visible again for the replay.
			_, err := h.sqs.ChangeMessageVisibility(h.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(h.failuresURL),
				ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
			require.NoError(t, err)
		}
		puts := r.proxy.puts()

		r.createBucket(t) // the tenant fixes its destination
		out, code := r.manual(t, nil, map[string]string{"REPLAY_QUEUE_URL": h.failuresURL})
		assert.Equal(t, 0, code, "everything replayed:\n%s", out)
		outcomes := map[string]int{}
		for _, res := range decodeLines(t, out) {
			outcomes[fmt.Sprint(res["destination"], " ", res["outcome"], " ", res["reason"])]++
		}
		assert.Equal(t, map[string]int{"cloudwatch skipped " + logdelivery.ReasonDelivered: onceObjects,
			"loki skipped " + logdelivery.ReasonDelivered: onceObjects, "s3 delivered <nil>": onceObjects}, outcomes)
		assert.Equal(t, puts, r.proxy.puts(), "CloudWatch, done before, is not sent again")
		visible, inFlight := countMessages(t, h, h.failuresURL)
		assert.Equal(t, [2]int{0, 0}, [2]int{visible, inFlight}, "the failure queue is empty")
		r.check(t, 0)
	})
}

// onceHarness is the deployment shared by the rounds: tables, queues and
// the processor binary. Each round has a tenant of its own.
type onceHarness struct {
	srv                           *mototest.Server
	ctx                           context.Context
	bin                           string
	sqs                           *sqs.Client
	s3                            *s3.Client
	ddb                           *dynamodb.Client
	tenantLogs                    *cloudwatchlogs.Client
	tenantS3                      *s3.Client
	queueURL, failuresURL         string
	configTable, ledgerTable, dir string
	store                         *dynamostore.Store // writes the configs of kinds that nest their settings
	loki                          *lokitest.Server   // the record destination besides CloudWatch Logs
}

const onceBucket = "central-logs"

func newOnceHarness(t *testing.T, srv *mototest.Server) *onceHarness {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	t.Cleanup(cancel)
	cfg := srv.Config()
	tenantCfg := srv.ConfigWith(aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), role(accountB, "tenant-admin"))))
	h := &onceHarness{
		srv: srv, ctx: ctx, dir: t.TempDir(),
		sqs:         sqs.NewFromConfig(cfg),
		s3:          s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		ddb:         dynamodb.NewFromConfig(cfg),
		tenantLogs:  cloudwatchlogs.NewFromConfig(tenantCfg),
		tenantS3:    s3.NewFromConfig(tenantCfg, func(o *s3.Options) { o.UsePathStyle = true }),
		configTable: "tenant-configs", ledgerTable: "delivery-ledger",
	}
	h.bin = buildProcessor(t, h.dir)
	h.store = dynamostore.New(h.ddb, h.configTable)
	h.loki = lokitest.NewServer(lokitest.Options{})
	t.Cleanup(h.loki.Close)
	require.NoError(t, dynamostore.CreateTable(ctx, h.ddb, h.configTable))
	require.NoError(t, dynamoledger.CreateTable(ctx, h.ddb, h.ledgerTable))
	_, err := h.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(onceBucket)})
	require.NoError(t, err)
	q, err := h.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("once"), Attributes: map[string]string{"VisibilityTimeout": "2"}})
	require.NoError(t, err)
	h.queueURL = aws.ToString(q.QueueUrl)
	f, err := h.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("once-failures")})
	require.NoError(t, err)
	h.failuresURL = aws.ToString(f.QueueUrl)
	return h
}

// buildProcessor builds examples/processor into dir.
func buildProcessor(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "processor")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/processor")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building the processor:\n%s", out)
	return bin
}

// onceRound is one tenant's objects, delivered to its log group and
// bucket.
type onceRound struct {
	h       *onceHarness
	tenant  string
	group   string
	bucket  string
	proxy   *faultProxy // in front of moto
	loki    *faultProxy // in front of the Loki fake
	kills   *killSwitch
	keys    []string
	sizes   []int
	bodies  []string
	streams []string
	events  [][]string // expected messages per object, in order
}

func (h *onceHarness) round(t *testing.T, name string) *onceRound { return h.roundWith(t, name, true) }

// roundWith sets up a round: the tenant's configs (cloudwatch and s3), its
// log group, its bucket unless bucket is false, the objects and their
// notifications in the queue.
func (h *onceHarness) roundWith(t *testing.T, name string, bucket bool) *onceRound {
	t.Helper()
	r := &onceRound{h: h, tenant: "t-" + name, group: "/once/" + name, bucket: "once-" + name}
	r.kills = &killSwitch{}
	r.proxy = newFaultProxy(t, h.srv.Endpoint, r.kills)
	r.loki = newFaultProxy(t, h.loki.URL, r.kills)
	_, err := h.tenantLogs.CreateLogGroup(h.ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(r.group)})
	require.NoError(t, err)
	if bucket {
		r.createBucket(t)
	}
	for _, item := range []map[string]ddbtypes.AttributeValue{
		{"tenant_id": str(r.tenant), "type": str("cloudwatch"), "log_distribution_role_arn": str(role(accountB, "once-logs")),
			"log_group_name": str(r.group), "target_region": str(mototest.Region)},
		{"tenant_id": str(r.tenant), "type": str("s3"), "bucket_name": str(r.bucket), "target_region": str(mototest.Region)},
	} {
		_, err := h.ddb.PutItem(h.ctx, &dynamodb.PutItemInput{TableName: aws.String(h.configTable), Item: item})
		require.NoError(t, err)
	}
	_, err = h.store.Create(h.ctx, tenant.DeliveryConfig{TenantID: r.tenant, Type: "loki",
		Settings: map[string]any{"url": r.loki.URL, "batch_entries": onceLokiPush}})
	require.NoError(t, err)

	now := time.Now().Add(-time.Minute)
	pad := strings.Repeat("x", onceMessageSize)
	for i := range onceObjects {
		pod := fmt.Sprintf("pod-%d", i)
		key := fmt.Sprintf("prod/%s/app/%s/%d-%d.json.gz", r.tenant, pod, now.Unix(), i)
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		var msgs []string
		for j := range onceEvents {
			msg := fmt.Sprintf("%s object %d event %04d %s", name, i, j, pad)
			msgs = append(msgs, msg)
			ts := now.Add(time.Duration(j) * time.Millisecond).UTC().Format(time.RFC3339Nano)
			line, _ := json.Marshal(map[string]string{"message": msg, "timestamp": ts})
			zw.Write(append(line, '\n'))
		}
		require.NoError(t, zw.Close())
		put, err := h.s3.PutObject(h.ctx, &s3.PutObjectInput{Bucket: aws.String(onceBucket), Key: aws.String(key),
			Body: bytes.NewReader(buf.Bytes()), ContentEncoding: aws.String("gzip"), ContentType: aws.String(contentType)})
		require.NoError(t, err)
		body := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":%q,`+
			`"s3":{"bucket":{"name":%q},"object":{"key":%q,"size":%d,"eTag":%q,"sequencer":"%016X"}}}]}`,
			now.Format(time.RFC3339), onceBucket, key, buf.Len(), strings.Trim(aws.ToString(put.ETag), `"`), now.UnixNano()+int64(i))
		r.keys = append(r.keys, key)
		r.sizes = append(r.sizes, buf.Len())
		r.bodies = append(r.bodies, body)
		r.streams = append(r.streams, "prod/app/"+pod)
		r.events = append(r.events, msgs)
	}
	r.notify(t)
	return r
}

func (r *onceRound) createBucket(t *testing.T) {
	t.Helper()
	_, err := r.h.tenantS3.CreateBucket(r.h.ctx, &s3.CreateBucketInput{Bucket: aws.String(r.bucket)})
	require.NoError(t, err)
}

// notify sends the round's notifications to the queue.
func (r *onceRound) notify(t *testing.T) {
	t.Helper()
	for _, b := range r.bodies {
		_, err := r.h.sqs.SendMessage(r.h.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(r.h.queueURL), MessageBody: aws.String(b)})
		require.NoError(t, err)
	}
}

// env is the processor's environment: the reference's variables, the
// ledger and the failure queue, every AWS call through the round's proxy.
func (r *onceRound) env(extra map[string]string) []string {
	vars := map[string]string{
		"PATH":                              os.Getenv("PATH"),
		"HOME":                              os.Getenv("HOME"),
		"AWS_ACCESS_KEY_ID":                 "testing",
		"AWS_SECRET_ACCESS_KEY":             "testing",
		"AWS_REGION":                        mototest.Region,
		"AWS_ENDPOINT_URL":                  r.proxy.URL,
		"AWS_S3_USE_PATH_STYLE":             "true",
		"AWS_EC2_METADATA_DISABLED":         "true",
		"TENANT_CONFIG_TABLE":               r.h.configTable,
		"CENTRAL_LOG_DISTRIBUTION_ROLE_ARN": role(mototest.AccountID, "central-log-distribution"),
		"LEDGER_TABLE":                      r.h.ledgerTable,
		"FAILURE_QUEUE_URL":                 r.h.failuresURL,
		"SQS_QUEUE_URL":                     r.h.queueURL,
		"SQS_WAIT_TIME":                     "1s",
		"SQS_VISIBILITY_TIMEOUT":            "2s",
		"SQS_RETRY_DELAY":                   "1s",
		"METRICS_ADDR":                      "127.0.0.1:0",
		"LOG_LEVEL":                         "WARN",
		"EGRESS_POLICY":                     fmt.Sprintf(`{"allow_http":true,"allow_loopback":true,"ports":[%s]}`, r.loki.URL[strings.LastIndex(r.loki.URL, ":")+1:]),
	}
	for k, v := range extra {
		vars[k] = v
	}
	var out []string
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// processor is a processor process in sqs mode.
type processor struct {
	cmd     *exec.Cmd
	logs    *syncBuffer
	started chan struct{} // closed once cmd.Process is set
	exited  chan struct{}
}

// processor returns a processor of the round, not started: its kill and
// terminate may be handed to the proxy's hooks before it runs.
func (r *onceRound) processor(extra map[string]string) *processor {
	p := &processor{logs: &syncBuffer{}, started: make(chan struct{}), exited: make(chan struct{})}
	p.cmd = exec.Command(r.h.bin, "-mode", "sqs")
	p.cmd.Env = r.env(extra)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	return p
}

// start starts a processor of the round.
func (r *onceRound) start(t *testing.T, extra map[string]string) *processor {
	t.Helper()
	p := r.processor(extra)
	p.start(t)
	return p
}

func (p *processor) start(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Start())
	close(p.started)
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("processor %d output:\n%s", p.cmd.Process.Pid, p.logs.String())
		}
	})
}

// kill SIGKILLs the process and returns once it is gone.
func (p *processor) kill() {
	<-p.started
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// terminate sends SIGTERM, as Kubernetes does at a pod's shutdown.
func (p *processor) terminate() {
	<-p.started
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
}

func (p *processor) waitExit(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(within):
		t.Fatalf("the processor did not exit within %v", within)
	}
}

func (p *processor) exitCode() int { return p.cmd.ProcessState.ExitCode() }

// stop ends a processor that finished its work: SIGTERM, then its exit.
func (p *processor) stop(t *testing.T) {
	t.Helper()
	p.terminate()
	p.waitExit(t, 30*time.Second)
	assert.Equal(t, 0, p.exitCode(), "clean exit:\n%s", p.logs.String())
}

// manual runs the processor in manual mode with stdin and returns its
// standard output and exit code.
func (r *onceRound) manual(t *testing.T, stdin io.Reader, extra map[string]string) (string, int) {
	t.Helper()
	cmd := exec.Command(r.h.bin, "-mode", "manual")
	cmd.Env = r.env(extra)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running the processor: %v", err)
	}
	if t.Failed() || cmd.ProcessState.ExitCode() != 0 {
		t.Logf("manual mode stderr:\n%s", stderr.String())
	}
	return stdout.String(), cmd.ProcessState.ExitCode()
}

func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var res []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		res = append(res, m)
	}
	return res
}

// waitKilledOrDelivered waits until p was killed (true) or the round is
// delivered without it (false).
func (r *onceRound) waitKilledOrDelivered(t *testing.T, p *processor) bool {
	t.Helper()
	deadline := time.Now().Add(onceRoundDeadline)
	for {
		select {
		case <-p.exited:
			return true
		default:
		}
		if r.delivered(t) {
			return false
		}
		if time.Now().After(deadline) {
			t.Fatalf("the processor was neither killed nor done within %v", onceRoundDeadline)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *onceRound) delivered(t *testing.T) bool {
	t.Helper()
	visible, inFlight := countMessages(t, r.h, r.h.queueURL)
	return visible == 0 && inFlight == 0 && r.ledgerDone(t) == 3*onceObjects
}

// waitDelivered waits until the ledger has every (object, destination) of
// the round done and the queue is drained.
func (r *onceRound) waitDelivered(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(onceRoundDeadline)
	for {
		done := r.ledgerDone(t)
		visible, inFlight := countMessages(t, r.h, r.h.queueURL)
		if done == 3*onceObjects && visible == 0 && inFlight == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered within %v: %d of %d ledger entries done; queue: %d visible, %d in flight",
				onceRoundDeadline, done, 3*onceObjects, visible, inFlight)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *onceRound) waitQueueDrained(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(onceRoundDeadline)
	for {
		visible, inFlight := countMessages(t, r.h, r.h.queueURL)
		if visible == 0 && inFlight == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained within %v: %d visible, %d in flight", onceRoundDeadline, visible, inFlight)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ledgerDone counts the round's ledger entries in state done.
func (r *onceRound) ledgerDone(t *testing.T) int {
	t.Helper()
	n := 0
	var start map[string]ddbtypes.AttributeValue
	for {
		out, err := r.h.ddb.Scan(r.h.ctx, &dynamodb.ScanInput{TableName: aws.String(r.h.ledgerTable), ExclusiveStartKey: start})
		require.NoError(t, err)
		for _, item := range out.Items {
			delivery, _ := item["delivery"].(*ddbtypes.AttributeValueMemberS)
			state, _ := item["state"].(*ddbtypes.AttributeValueMemberN)
			if delivery != nil && strings.Contains(delivery.Value, " → "+r.tenant+"/") && state != nil && state.Value == "2" {
				n++ // ledger.Done
			}
		}
		if out.LastEvaluatedKey == nil {
			return n
		}
		start = out.LastEvaluatedKey
	}
}

func countMessages(t *testing.T, h *onceHarness, url string) (visible, inFlight int) {
	t.Helper()
	out, err := h.sqs.GetQueueAttributes(h.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	require.NoError(t, err)
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessages"], &visible)
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessagesNotVisible"], &inFlight)
	return visible, inFlight
}

func receiveAll(t *testing.T, h *onceHarness, url string, n int) []sqstypes.Message {
	t.Helper()
	var out []sqstypes.Message
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < n {
		require.False(t, time.Now().After(deadline), "received %d of %d messages from %s", len(out), n, url)
		got, err := h.sqs.ReceiveMessage(h.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, VisibilityTimeout: 60, MessageAttributeNames: []string{"All"}})
		require.NoError(t, err)
		out = append(out, got.Messages...)
	}
	return out
}

// check reads back every destination of the round: each stream holds every
// event of its object, in order apart from duplicates, which are at most
// maxDupBatches whole PutLogEvents batches per stream (one per crash);
// each copy is in the tenant's bucket; the failure queue is empty.
func (r *onceRound) check(t *testing.T, maxDupBatches int) {
	t.Helper()
	for i, stream := range r.streams {
		got := r.readStream(t, stream)
		seen := map[string]int{}
		for _, m := range got {
			seen[m]++
		}
		lost, dups := 0, 0
		for _, m := range r.events[i] {
			switch n := seen[m]; {
			case n == 0:
				lost++
			case n > 1:
				dups += n - 1
			}
		}
		assert.Zero(t, lost, "%s: events lost", stream)
		assert.Len(t, seen, len(r.events[i]), "%s: nothing but the object's events", stream)
		batches := r.proxy.duplicatedBatchesOf(stream)
		assert.LessOrEqual(t, batches, maxDupBatches, "%s: batches sent twice", stream)
		if batches == 0 {
			if !assert.Zero(t, dups, "%s: duplicated events outside a re-sent batch", stream) {
				t.Logf("%s: accepted batches %s; read %d events", stream, r.proxy.describe(stream), len(got))
			}
		} else {
			assert.LessOrEqual(t, dups, r.proxy.largestBatch(stream)*batches, "%s: duplicates beyond the re-sent batches", stream)
		}
	}
	// Loki: every entry of each object; duplicates at most maxDupBatches
	// pushes per object (its delivery's pushes are sequential).
	seen := map[string]int{}
	for _, e := range r.h.loki.Entries(r.tenant) {
		seen[e.Line]++
	}
	for i := range r.keys {
		lost, dups := 0, 0
		for _, m := range r.events[i] {
			switch n := seen[m]; {
			case n == 0:
				lost++
			case n > 1:
				dups += n - 1
			}
		}
		assert.Zero(t, lost, "loki, object %d: entries lost", i)
		assert.LessOrEqual(t, dups, maxDupBatches*onceLokiPush, "loki, object %d: duplicates beyond one push per crash", i)
	}
	for i, key := range r.keys {
		head, err := r.h.tenantS3.HeadObject(r.h.ctx, &s3.HeadObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(r.copyKey(key))})
		if assert.NoError(t, err, "the copy of %s", key) {
			assert.Equal(t, int64(r.sizes[i]), aws.ToInt64(head.ContentLength), "the copy of %s is whole", key)
		}
	}
	visible, inFlight := countMessages(t, r.h, r.h.failuresURL)
	assert.Equal(t, [2]int{0, 0}, [2]int{visible, inFlight}, "nothing parked")
}

// copyKey is where the s3 deliverer's default template puts the copy of
// key: {bucket_prefix}{tenant}/{cluster}/{application}/{pod}/{file}, with
// the default prefix.
func (r *onceRound) copyKey(key string) string {
	parts := strings.Split(key, "/")
	return "ROSA/cluster-logs/" + r.tenant + "/" + parts[0] + "/" + parts[2] + "/" + parts[3] + "/" + parts[4]
}

func (r *onceRound) lokiDuplicates() int {
	entries := r.h.loki.Entries(r.tenant)
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Line] = true
	}
	return len(entries) - len(seen)
}

func (r *onceRound) duplicatedBatches() int {
	n := 0
	for _, s := range r.streams {
		n += r.proxy.duplicatedBatchesOf(s)
	}
	return n
}

// readStream returns every message of a stream of the round's group.
func (r *onceRound) readStream(t *testing.T, stream string) []string {
	t.Helper()
	var msgs []string
	var token *string
	for {
		out, err := r.h.tenantLogs.GetLogEvents(r.h.ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(r.group),
			LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true), NextToken: token})
		require.NoError(t, err, "reading %s", stream)
		for _, e := range out.Events {
			msgs = append(msgs, aws.ToString(e.Message))
		}
		if len(out.Events) == 0 || aws.ToString(out.NextForwardToken) == aws.ToString(token) {
			return msgs
		}
		token = out.NextForwardToken
	}
}

// faultProxy forwards the processor's requests to moto (or to the Loki
// fake) and injects faults. It records the PutLogEvents batches moto accepted, per stream.
type faultProxy struct {
	*httptest.Server
	target *url.URL
	client *http.Client

	kills *killSwitch

	mu           sync.Mutex
	copyFailures int
	cuts         int
	putDelay     time.Duration
	putHookN     int
	putHook      func()
	accepted     map[string][][]string // stream → accepted batches' messages
	nPuts, nCopy int
}

// killSwitch counts the delivery requests of a round, across its proxies,
// and kills the processor at one of them.
type killSwitch struct {
	mu    sync.Mutex
	n     int // delivery requests seen (not SQS receives)
	at    int
	after bool
	kill  func()
}

// tick counts a request and returns the kill to run before it reaches its
// service, or the one to run once the service answered.
func (k *killSwitch) tick() (before, after func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.n++
	if k.n != k.at || k.kill == nil {
		return nil, nil
	}
	if k.after {
		return nil, k.kill
	}
	return k.kill, nil
}

func newFaultProxy(t *testing.T, target string, kills *killSwitch) *faultProxy {
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &faultProxy{target: u, kills: kills, client: &http.Client{Timeout: time.Minute}, accepted: map[string][][]string{}}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Server.Close)
	return p
}

func (k *killSwitch) killAt(n int, after bool, kill func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.at, k.after, k.kill = n, after, kill
}

func (k *killSwitch) counted() int { k.mu.Lock(); defer k.mu.Unlock(); return k.n }

func (p *faultProxy) failCopies(n int)         { p.mu.Lock(); p.copyFailures = n; p.mu.Unlock() }
func (p *faultProxy) cutGets(n int)            { p.mu.Lock(); p.cuts = n; p.mu.Unlock() }
func (p *faultProxy) slowPuts(d time.Duration) { p.mu.Lock(); p.putDelay = d; p.mu.Unlock() }
func (p *faultProxy) pendingCopyFailures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.copyFailures
}
func (p *faultProxy) pendingCuts() int { p.mu.Lock(); defer p.mu.Unlock(); return p.cuts }
func (p *faultProxy) puts() int        { p.mu.Lock(); defer p.mu.Unlock(); return p.nPuts }
func (p *faultProxy) copies() int      { p.mu.Lock(); defer p.mu.Unlock(); return p.nCopy }
func (p *faultProxy) onPut(n int, hook func()) {
	p.mu.Lock()
	p.putHookN, p.putHook = n, hook
	p.mu.Unlock()
}

// duplicatedBatchesOf counts the accepted batches of a stream that repeat
// events of earlier ones.
func (p *faultProxy) duplicatedBatchesOf(stream string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	n := 0
	for _, b := range p.accepted[stream] {
		dup := false
		for _, m := range b {
			dup = dup || seen[m]
			seen[m] = true
		}
		if dup {
			n++
		}
	}
	return n
}

// describe summarizes a stream's accepted batches: first and last event
// number of each.
func (p *faultProxy) describe(stream string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	for _, b := range p.accepted[stream] {
		num := func(m string) string { f := strings.Fields(m); return f[4] }
		parts = append(parts, fmt.Sprintf("[%s..%s]", num(b[0]), num(b[len(b)-1])))
	}
	return strings.Join(parts, " ")
}

func (p *faultProxy) largestBatch(stream string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, b := range p.accepted[stream] {
		n = max(n, len(b))
	}
	return n
}

// requestInfo is what the proxy learned of a request on its way in.
type requestInfo struct {
	put    *putLogEvents
	kill   func() // kills the processor once moto answered
	getCut bool
}

type putLogEvents struct {
	LogStreamName string `json:"logStreamName"`
	LogEvents     []struct {
		Message string `json:"message"`
	} `json:"logEvents"`
}

func (p *faultProxy) serve(w http.ResponseWriter, req *http.Request) {
	target := req.Header.Get("X-Amz-Target")
	// SQS calls (receives, heartbeats, deletes) are not delivery work and
	// their number depends on timing: they are not counted.
	isQueue := strings.HasPrefix(target, "AmazonSQS.")
	isPut := strings.HasSuffix(target, ".PutLogEvents")
	isCopy := req.Method == http.MethodPut && req.Header.Get("X-Amz-Copy-Source") != ""
	isGet := req.Method == http.MethodGet && strings.HasPrefix(req.URL.Path, "/"+onceBucket+"/")

	info := &requestInfo{}
	if isPut {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		info.put = &putLogEvents{}
		_ = json.Unmarshal(body, info.put)
	}

	var killBefore func()
	if !isQueue {
		killBefore, info.kill = p.kills.tick()
	}
	p.mu.Lock()
	failCopy := isCopy && p.copyFailures > 0
	if failCopy {
		p.copyFailures--
	}
	if isGet && p.cuts > 0 && req.Header.Get("Range") == "" {
		p.cuts--
		info.getCut = true
	}
	delay := time.Duration(0)
	if isPut {
		delay = p.putDelay
	}
	p.mu.Unlock()

	if killBefore != nil {
		killBefore() // before the request reaches moto
		http.Error(w, "processor killed", http.StatusBadGateway)
		return
	}
	if failCopy {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>`)
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return
		}
	}
	if isCopy {
		p.mu.Lock()
		p.nCopy++
		p.mu.Unlock()
	}
	resp, err := p.forward(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if err := p.inspect(resp, info); err != nil {
		return // the processor is gone
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// forward sends req to moto, detached from the processor's connection: a
// request in flight when the processor dies still reaches moto and its
// answer is recorded, as the service would apply it.
func (p *faultProxy) forward(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	u := *p.target
	u.Path, u.RawPath, u.RawQuery = req.URL.Path, req.URL.RawPath, req.URL.RawQuery
	out, err := http.NewRequestWithContext(context.Background(), req.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.Header = req.Header.Clone()
	out.Host = req.Host
	out.ContentLength = int64(len(body))
	return p.client.Do(out)
}

// inspect records accepted batches, fires the PutLogEvents hook, cuts
// GetObject bodies and holds back the answer of the request the processor
// dies at.
func (p *faultProxy) inspect(resp *http.Response, info *requestInfo) error {
	if info.put != nil && resp.StatusCode == http.StatusOK {
		msgs := make([]string, len(info.put.LogEvents))
		for i, e := range info.put.LogEvents {
			msgs[i] = e.Message
		}
		p.mu.Lock()
		p.nPuts++
		p.accepted[info.put.LogStreamName] = append(p.accepted[info.put.LogStreamName], msgs)
		var hook func()
		if p.putHook != nil && p.nPuts == p.putHookN {
			hook = p.putHook
		}
		p.mu.Unlock()
		if hook != nil {
			hook()
		}
	}
	if info.kill != nil {
		info.kill() // moto applied the request; the processor never hears of it
		return errors.New("processor killed")
	}
	if info.getCut && resp.StatusCode == http.StatusOK {
		resp.Body = &cutBody{r: resp.Body, left: resp.ContentLength / 2}
	}
	return nil
}

// cutBody fails after left bytes, as a connection reset mid-body does.
type cutBody struct {
	r    io.ReadCloser
	left int64
}

func (c *cutBody) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("connection reset by peer")
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

func (c *cutBody) Close() error { return c.r.Close() }

// syncBuffer is a bytes.Buffer safe for a process's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
