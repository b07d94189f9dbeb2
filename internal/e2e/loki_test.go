package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/deliver/loki"
	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// resultLog is an Observer keeping every result it sees.
type resultLog struct {
	mu      sync.Mutex
	results []logdelivery.Result
}

func (l *resultLog) ObserveResult(_ context.Context, r logdelivery.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results = append(l.results, r)
}

// of returns the result of key's delivery to destination, if seen.
func (l *resultLog) of(key, destination string) (logdelivery.Result, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.results {
		if r.Object.Key == key && r.Destination == destination {
			return r, true
		}
	}
	return logdelivery.Result{}, false
}

// A tenant with a CloudWatch Logs and a Loki destination, on moto and the
// Loki fake, through the production wiring (awsdispatch with the loki kind
// added): each destination gets every event of an object once; a Loki
// answering 429 delays the Loki delivery only, which completes when the
// 429s stop, or fails retryably, with the Retry-After as its hint, when
// the deadline comes first.
func TestCloudWatchAndLoki(t *testing.T) {
	const (
		group  = "/acme/cluster-logs"
		events = 100
	)
	srv := mototest.Start(t)
	ctx := mototest.Context(t)
	cfg := srv.Config()

	admin := srv.ConfigWith(aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), role(accountB, "tenant-admin"))))
	logs := cloudwatchlogs.NewFromConfig(admin)
	_, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)})
	require.NoError(t, err)
	central := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	_, err = central.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(centralBucket)})
	require.NoError(t, err)

	// The Loki fake, throttling while throttle is set.
	var throttle atomic.Pointer[lokitest.Fault]
	fake := lokitest.NewServer(lokitest.Options{Hook: func(lokitest.Call) *lokitest.Fault { return throttle.Load() }})
	t.Cleanup(fake.Close)

	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, configTable))
	for _, item := range []map[string]types.AttributeValue{
		{"tenant_id": str("acme"), "type": str("cloudwatch"), "log_distribution_role_arn": str(role(accountB, "acme-log-delivery")),
			"log_group_name": str(group), "target_region": str(mototest.Region)},
		{"tenant_id": str("acme"), "type": str("loki"), "settings": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"url":           str(fake.URL),
			"batch_entries": &types.AttributeValueMemberN{Value: "20"}, // several pushes per object
		}}},
	} {
		_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(configTable), Item: item})
		require.NoError(t, err)
	}

	lokiDeliverer, err := loki.New(func(o *loki.Options) {
		// The fake is on loopback: the operator allows it, as for a
		// collector on the processor's own host.
		o.Egress = egress.Policy{AllowHTTP: true, AllowLoopback: true, Ports: []int{portOf(t, fake.URL)}}
		o.MaxAttempts = 1000 // the deadline bounds the retries
		o.RetryBase, o.RetryMax = 5*time.Millisecond, 20*time.Millisecond
	})
	require.NoError(t, err)
	observed := &resultLog{}
	d, err := awsdispatch.New(srv.Config(), func(o *awsdispatch.Options) {
		o.CentralRoleARN = centralRole
		o.Table = configTable
		o.UsePathStyle = true
		o.CacheTTL = -1
		o.Observer = observed
		o.Kinds = append(o.Kinds, lokiDeliverer.Kind())
	})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })

	n := 0
	putObject := func() (string, []string) {
		n++
		key := fmt.Sprintf("prod-east-1/acme/payments/payments-0/1764496800-%d.json.gz", n)
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		var msgs []string
		for i := range events {
			msg := fmt.Sprintf("object %d event %d: \"paid\" ✓", n, i)
			msgs = append(msgs, msg)
			fmt.Fprintf(zw, `{"message":%q,"timestamp":%q}`+"\n", msg, time.Now().Add(-time.Minute+time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano))
		}
		require.NoError(t, zw.Close())
		_, err := central.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(centralBucket), Key: aws.String(key), Body: bytes.NewReader(buf.Bytes()),
			ContentEncoding: aws.String("gzip"), ContentType: aws.String(contentType)})
		require.NoError(t, err)
		return key, msgs
	}
	// cloudWatchMessages returns what the group holds of object n.
	cloudWatchMessages := func(n int) []string {
		var out []string
		streams, err := logs.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
		require.NoError(t, err)
		for _, s := range streams.LogStreams {
			ev, err := logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: s.LogStreamName, StartFromHead: aws.Bool(true)})
			require.NoError(t, err)
			for _, e := range ev.Events {
				if m := aws.ToString(e.Message); bytes.HasPrefix([]byte(m), fmt.Appendf(nil, "object %d ", n)) {
					out = append(out, m)
				}
			}
		}
		return out
	}
	lokiMessages := func(n int) []string {
		var out []string
		for _, e := range fake.Entries("acme") {
			if bytes.HasPrefix([]byte(e.Line), fmt.Appendf(nil, "object %d ", n)) {
				out = append(out, e.Line)
			}
		}
		return out
	}
	dispatch := func(c context.Context, key string) map[string]logdelivery.Result {
		byDest := map[string]logdelivery.Result{}
		for _, r := range d.Dispatch(c, logdelivery.Object{ID: key, Bucket: centralBucket, Key: key}) {
			byDest[r.Destination] = r
		}
		return byDest
	}

	t.Run("EachDestinationOnce", func(t *testing.T) {
		key, msgs := putObject()
		rs := dispatch(ctx, key)
		require.Len(t, rs, 2)
		for _, dest := range []string{"cloudwatch", "loki"} {
			assert.Equal(t, logdelivery.Delivered, rs[dest].Outcome, "%s: %v", dest, rs[dest].Err)
			assert.Equal(t, int64(events), rs[dest].Receipt.Events, dest)
		}
		assert.Equal(t, msgs, cloudWatchMessages(n), "CloudWatch got every event once")
		assert.Equal(t, msgs, lokiMessages(n), "Loki got every event once, in order")
		assert.Equal(t, 5, rs["loki"].Receipt.Calls)
		assert.Equal(t, []string{`{application="payments", cluster="prod-east-1", namespace="acme"}`}, fake.Streams("acme"))
	})

	t.Run("ThrottledLokiDelaysOnlyLoki", func(t *testing.T) {
		key, msgs := putObject()
		throttle.Store(lokitest.TooManyRequests(0))
		done := make(chan map[string]logdelivery.Result, 1)
		go func() { done <- dispatch(ctx, key) }()

		// CloudWatch finishes while Loki is still answering 429.
		deadline := time.Now().Add(30 * time.Second)
		for {
			if r, ok := observed.of(key, "cloudwatch"); ok {
				assert.Equal(t, logdelivery.Delivered, r.Outcome, "%v", r.Err)
				break
			}
			require.True(t, time.Now().Before(deadline), "the CloudWatch delivery did not finish while Loki throttles")
			time.Sleep(20 * time.Millisecond)
		}
		assert.Equal(t, msgs, cloudWatchMessages(n))
		_, lokiDone := observed.of(key, "loki")
		assert.False(t, lokiDone, "the Loki delivery is still retrying")
		assert.Empty(t, lokiMessages(n), "nothing reached Loki yet")
		assert.Positive(t, fake.Answers()[429])

		// The 429s stop: the Loki delivery completes.
		throttle.Store(nil)
		rs := <-done
		assert.Equal(t, logdelivery.Delivered, rs["loki"].Outcome, "%v", rs["loki"].Err)
		assert.Equal(t, msgs, lokiMessages(n), "every event once after the 429s")
		assert.Greater(t, rs["loki"].Receipt.Calls, 5, "the retries are counted")
	})

	t.Run("ThrottledPastTheDeadline", func(t *testing.T) {
		key, msgs := putObject()
		throttle.Store(lokitest.TooManyRequests(time.Second))
		defer throttle.Store(nil)
		c, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		rs := dispatch(c, key)
		assert.Equal(t, logdelivery.Delivered, rs["cloudwatch"].Outcome, "%v", rs["cloudwatch"].Err)
		assert.Equal(t, msgs, cloudWatchMessages(n))
		r := rs["loki"]
		assert.Equal(t, logdelivery.Failed, r.Outcome)
		assert.True(t, r.Retryable(), "a throttled delivery is retried later: %v", r.Err)
		assert.Equal(t, time.Second, fault.RetryAfter(r.Err), "with the Retry-After as the hint")
		assert.Empty(t, lokiMessages(n))
		assert.True(t, slices.Contains(fake.Tenants(), "acme"))
	})
}

func portOf(t *testing.T, raw string) int {
	t.Helper()
	var port int
	_, err := fmt.Sscanf(raw[len("http://127.0.0.1:"):], "%d", &port)
	require.NoError(t, err)
	return port
}
