package lambdahandler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/lambdahandler"
	"github.com/logdelivery/logdelivery/limits"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func TestQueueURLFromARN(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:sqs:us-east-1:123456789012:logs":           "https://sqs.us-east-1.amazonaws.com/123456789012/logs",
		"arn:aws-cn:sqs:cn-north-1:123456789012:logs":       "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/logs",
		"arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q.f": "https://sqs.us-gov-west-1.amazonaws.com/123456789012/q.f",
	} {
		got, err := lambdahandler.QueueURLFromARN(arn)
		require.NoError(t, err, arn)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"", "arn:aws:sns:us-east-1:123456789012:topic", "arn:aws:sqs:us-east-1::logs", "not an arn"} {
		_, err := lambdahandler.QueueURLFromARN(bad)
		assert.Error(t, err, bad)
	}
}

// visibilities records ChangeMessageVisibility calls.
type visibilities struct {
	calls []*sqs.ChangeMessageVisibilityInput
	err   error
}

func (v *visibilities) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	v.calls = append(v.calls, in)
	return &sqs.ChangeMessageVisibilityOutput{}, v.err
}

func TestRetryAfterHintSetsTheVisibility(t *testing.T) {
	store, err := memstore.New(nil)
	require.NoError(t, err)
	for _, id := range []string{"ok", "flaky", "slow"} {
		_, err := store.Create(context.Background(), storetest.S3(id))
		require.NoError(t, err)
	}
	rec := &delivertest.Recorder{Func: func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		switch d.Key.Tenant {
		case "flaky":
			return deliver.Receipt{}, fault.WithRetryAfter(errors.New("over its limit"), 2500*time.Millisecond)
		case "slow":
			return deliver.Receipt{}, errors.New("503")
		}
		return deliver.Receipt{Objects: 1}, nil
	}}
	d, err := logdelivery.NewDispatcher(store, kindsOf(t, s3.Kind().With(rec)))
	require.NoError(t, err)
	vis := &visibilities{}
	h, err := lambdahandler.New(d, func(o *lambdahandler.Options) { o.Visibility = vis })
	require.NoError(t, err)
	const arn = "arn:aws:sqs:eu-west-1:111122223333:logs"
	resp, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m-ok", ReceiptHandle: "rh-ok", EventSourceARN: arn, Body: body("c/ok/app/pod/f.gz")},
		{MessageId: "m-flaky", ReceiptHandle: "rh-flaky", EventSourceARN: arn, Body: body("c/flaky/app/pod/f.gz")},
		{MessageId: "m-slow", ReceiptHandle: "rh-slow", EventSourceARN: arn, Body: body("c/slow/app/pod/f.gz")},
	}})
	require.NoError(t, err)
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "m-flaky"}, {ItemIdentifier: "m-slow"}}, resp.BatchItemFailures,
		"both are reported for retry")
	require.Len(t, vis.calls, 1, "only the message with a hint gets its visibility changed")
	assert.Equal(t, "https://sqs.eu-west-1.amazonaws.com/111122223333/logs", aws.ToString(vis.calls[0].QueueUrl))
	assert.Equal(t, "rh-flaky", aws.ToString(vis.calls[0].ReceiptHandle))
	assert.Equal(t, int32(3), vis.calls[0].VisibilityTimeout, "the hint, rounded up to whole seconds")

	// A failed change leaves the message reported: it comes back after the
	// queue's visibility timeout instead.
	vis.err = errors.New("AccessDenied")
	resp, err = h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m-flaky", ReceiptHandle: "rh-flaky", EventSourceARN: arn, Body: body("c/flaky/app/pod/f.gz")},
	}})
	require.NoError(t, err)
	assert.Len(t, resp.BatchItemFailures, 1)
}

// Against moto: a message over its tenant's limits comes back after the
// limiter's hint (2 s), not after the queue's visibility timeout (an hour).
func TestLimitedMessageReturnsAfterTheHintMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx := mototest.Context(t)
	client := sqs.NewFromConfig(srv.Config())
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("limited"),
		Attributes: map[string]string{"VisibilityTimeout": "3600"}})
	require.NoError(t, err)
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	require.NoError(t, err)
	arn := attrs.Attributes[string(types.QueueAttributeNameQueueArn)]
	for _, key := range []string{"c/acme/app/pod/1.gz", "c/acme/app/pod/2.gz"} {
		_, err = client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(body(key))})
		require.NoError(t, err)
	}
	// Lambda's poller: receive the batch, as the event source mapping does.
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	require.NoError(t, err)
	require.Len(t, out.Messages, 2)
	var ev events.SQSEvent
	for _, m := range out.Messages {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), EventSourceARN: arn})
	}

	store, err := memstore.New(nil)
	require.NoError(t, err)
	_, err = store.Create(ctx, storetest.S3("acme"))
	require.NoError(t, err)
	rec := &delivertest.Recorder{}
	// Each copy is charged 1 byte (the notification's size) at 1 byte per
	// 2 s: the second object of the batch waits 2 s, more than MaxWait.
	lim, err := limits.New(func(o *limits.Options) {
		o.Defaults = limits.Limits{BytesPerSecond: 0.5, BytesBurst: 1}
		o.MaxWait = 100 * time.Millisecond
	})
	require.NoError(t, err)
	d, err := logdelivery.NewDispatcher(store, kindsOf(t, s3.Kind().With(rec)), func(o *logdelivery.Options) { o.Limits = lim })
	require.NoError(t, err)
	h, err := lambdahandler.New(d, func(o *lambdahandler.Options) {
		o.Visibility = client
		// moto serves the queue at its own address, not at the URL the ARN
		// names in AWS.
		o.QueueURL = func(got string) (string, error) {
			assert.Equal(t, arn, got)
			return aws.ToString(q.QueueUrl), nil
		}
	})
	require.NoError(t, err)
	resp, err := h.Handle(ctx, ev)
	require.NoError(t, err)
	require.Len(t, resp.BatchItemFailures, 1, "one object delivered, the other limited")
	limitedAt := time.Now()
	assert.Len(t, rec.Keys(), 1)

	var back *types.Message
	for back == nil && time.Since(limitedAt) < 30*time.Second {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		require.NoError(t, err)
		if len(out.Messages) > 0 {
			require.Len(t, out.Messages, 1)
			back = &out.Messages[0]
		}
	}
	require.NotNil(t, back, "the limited message came back after its hint, long before the queue's hour")
	assert.Equal(t, resp.BatchItemFailures[0].ItemIdentifier, aws.ToString(back.MessageId))
	assert.GreaterOrEqual(t, time.Since(limitedAt), time.Second, "not before its visibility (2 s) ended")
}
