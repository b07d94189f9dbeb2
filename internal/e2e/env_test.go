package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// env is the scenario deployed in moto.
type env struct {
	t   *testing.T
	srv *mototest.Server
	ctx context.Context
	sc  *scenario

	s3  *s3.Client // the central account's
	sqs *sqs.Client
	sns *sns.Client

	queueURL, queueARN, dlqURL, topicARN string
	failuresURL                          string // where the runtimes park permanent failures, when told to
	messages                             int    // in the queue once deployed

	accounts map[string]aws.CredentialsProvider // tenant account → admin credentials
	tap      *tap                               // the processor's AWS traffic
	results  *observer
}

// deployOptions vary the deployment.
type deployOptions struct {
	rawDelivery bool // the SNS subscription delivers the S3 event without the SNS envelope
}

// deploy builds the scenario's deployment: configuration table, central
// bucket, notification chain, tenant resources, objects and their
// notifications, and two malformed messages. When it returns, the queue
// holds every message.
func deploy(t *testing.T, srv *mototest.Server, sc *scenario, opts deployOptions) *env {
	t.Helper()
	ctx := mototest.Context(t)
	cfg := srv.Config()
	e := &env{
		t: t, srv: srv, ctx: ctx, sc: sc,
		s3:       s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		sqs:      sqs.NewFromConfig(cfg),
		sns:      sns.NewFromConfig(cfg),
		accounts: map[string]aws.CredentialsProvider{},
		tap:      &tap{next: http.DefaultTransport, throttled: sc.throttled},
		results:  &observer{},
	}
	sc.generate(t, time.Now(), 1)

	// Tenant configurations, item by item as the seed writes them.
	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, configTable))
	for _, item := range sc.items {
		_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(configTable), Item: item})
		require.NoError(t, err)
	}

	// Tenant resources, created by each tenant in its own account.
	for _, d := range sc.cw {
		_, err := e.logs(d).CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(d.group)})
		require.NoError(t, err)
	}
	for _, d := range sc.s3 {
		if d.exists {
			_, err := e.tenantS3(d.account).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(d.bucket)})
			require.NoError(t, err)
		}
	}

	// Queue with a dead-letter queue, topic, subscription.
	dlq, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("log-objects-dlq")})
	require.NoError(t, err)
	e.dlqURL = aws.ToString(dlq.QueueUrl)
	failures, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("log-objects-failures")})
	require.NoError(t, err)
	e.failuresURL = aws.ToString(failures.QueueUrl)
	topic, err := e.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("central-cluster-logs-created")})
	require.NoError(t, err)
	e.topicARN = aws.ToString(topic.TopicArn)
	redrive, _ := json.Marshal(map[string]string{"deadLetterTargetArn": e.arn(e.dlqURL), "maxReceiveCount": "3"})
	q, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String("log-objects"),
		Attributes: map[string]string{
			"RedrivePolicy":     string(redrive),
			"VisibilityTimeout": "60",
			"Policy": policy("sns.amazonaws.com", "sqs:SendMessage", "arn:aws:sqs:"+mototest.Region+":"+centralAccount+":log-objects",
				"aws:SourceArn", e.topicARN),
		},
	})
	require.NoError(t, err)
	e.queueURL = aws.ToString(q.QueueUrl)
	e.queueARN = e.arn(e.queueURL)
	_, err = e.sns.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: topic.TopicArn, AttributeName: aws.String("Policy"),
		AttributeValue: aws.String(policy("s3.amazonaws.com", "SNS:Publish", e.topicARN, "aws:SourceAccount", centralAccount))})
	require.NoError(t, err)
	_, err = e.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(e.queueARN),
		Attributes: map[string]string{"RawMessageDelivery": strconv.FormatBool(opts.rawDelivery)}})
	require.NoError(t, err)

	// The bucket's notification is configured (S3, and moto, send an
	// s3:TestEvent through the topic), then the collectors write the
	// objects and each write's ObjectCreated event travels bucket → topic →
	// queue as in production.
	_, err = e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(centralBucket)})
	require.NoError(t, err)
	_, err = e.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(centralBucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{TopicConfigurations: []s3types.TopicConfiguration{{
			Id: aws.String("log-objects"), TopicArn: topic.TopicArn, Events: []s3types.Event{"s3:ObjectCreated:*"},
		}}},
	})
	require.NoError(t, err)
	for _, o := range sc.objects {
		_, err := e.s3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(centralBucket), Key: aws.String(o.key), Body: bytes.NewReader(o.body),
			ContentType: aws.String(contentType), ContentEncoding: aws.String("gzip"),
		})
		require.NoError(t, err)
	}

	// Malformed messages: garbage published to the topic, and a truncated
	// S3 event sent straight to the queue.
	_, err = e.sns.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("deploy finished: 3 nodes rotated")})
	require.NoError(t, err)
	_, err = e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl,
		MessageBody: aws.String(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"` + centralBucket + `"},"object":{"key":"prod-east-1/acme/`)})
	require.NoError(t, err)

	e.messages = len(sc.objects) + 3 // the objects, the test event, two malformed messages
	e.eventually("every message reached the queue", 30*time.Second, func() (bool, string) {
		visible, _ := e.counts(e.queueURL)
		return visible == e.messages, fmt.Sprintf("%d messages visible, want %d", visible, e.messages)
	})
	return e
}

// announces reports whether a message body announces the object key, as
// the library reads it.
func announces(body, key string) bool {
	objs, _ := logdelivery.ParseNotification([]byte(body))
	for _, o := range objs {
		if o.Key == key {
			return true
		}
	}
	return false
}

func policy(service, action, resource, condKey, condValue string) string {
	cond := "ArnEquals"
	if condKey == "aws:SourceAccount" {
		cond = "StringEquals"
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"Service": service}, "Action": action, "Resource": resource,
		"Condition": map[string]any{cond: map[string]string{condKey: condValue}},
	}}})
	return string(b)
}

func (e *env) arn(queueURL string) string {
	out, err := e.sqs.GetQueueAttributes(e.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	require.NoError(e.t, err)
	return out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
}

// counts returns the visible and in-flight messages of a queue.
func (e *env) counts(queueURL string) (visible, inFlight int) {
	out, err := e.sqs.GetQueueAttributes(e.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	require.NoError(e.t, err)
	visible, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	inFlight, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return visible, inFlight
}

// eventually polls cond until it holds or the deadline passes.
func (e *env) eventually(what string, within time.Duration, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("not true within %s: %s (%s)", within, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// account returns the credentials of an administrator of a tenant account.
func (e *env) account(id string) aws.CredentialsProvider {
	if p, ok := e.accounts[id]; ok {
		return p
	}
	p := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(e.srv.Config()), role(id, "tenant-admin")))
	e.accounts[id] = p
	return p
}

func (e *env) logs(d cwDest) *cloudwatchlogs.Client {
	cfg := e.srv.ConfigWith(e.account(d.account))
	cfg.Region = d.region
	return cloudwatchlogs.NewFromConfig(cfg)
}

func (e *env) tenantS3(account string) *s3.Client {
	return s3.NewFromConfig(e.srv.ConfigWith(e.account(account)), func(o *s3.Options) { o.UsePathStyle = true })
}

// dispatcher returns the production Dispatcher as a processor in the
// central account builds it, observed by e.results, its requests going
// through e.tap. Retries are shortened (not disabled) to keep the
// retryable failure cases fast.
func (e *env) dispatcher() *logdelivery.Dispatcher {
	cfg := e.srv.Config()
	cfg.HTTPClient = &http.Client{Transport: e.tap, Timeout: 30 * time.Second}
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = 100 * time.Millisecond })
	}
	d, err := awsdispatch.New(cfg, func(o *awsdispatch.Options) {
		o.CentralRoleARN = centralRole
		o.Table = configTable
		o.UsePathStyle = true
		o.Observer = e.results
		o.CloudWatch = func(co *cloudwatch.Options) {
			co.MaxAttempts = 3
			co.RetryBase, co.RetryMax = 20*time.Millisecond, 100*time.Millisecond
		}
	})
	require.NoError(e.t, err)
	return d
}

// observer keeps every result the Dispatcher reports.
type observer struct {
	mu      sync.Mutex
	results []logdelivery.Result
}

func (o *observer) ObserveResult(_ context.Context, r logdelivery.Result) {
	o.mu.Lock()
	o.results = append(o.results, r)
	o.mu.Unlock()
}

func (o *observer) all() []logdelivery.Result {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.results)
}
