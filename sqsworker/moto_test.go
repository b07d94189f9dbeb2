package sqsworker_test

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/sqsworker"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func TestDrainsMotoQueue(t *testing.T) {
	srv := mototest.Start(t)
	ctx := mototest.Context(t)
	client := sqs.NewFromConfig(srv.Config())
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("logs")})
	require.NoError(t, err)
	failures, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("logs-failures")})
	require.NoError(t, err)

	var want []string
	for i := range 25 {
		key := fmt.Sprintf("c/acme/app/pod/%02d.gz", i)
		want = append(want, key)
		_, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(body(key))})
		require.NoError(t, err)
	}
	_, err = client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("not json")})
	require.NoError(t, err)

	store, err := memstore.New(nil)
	require.NoError(t, err)
	_, err = store.Create(ctx, storetest.S3("acme"))
	require.NoError(t, err)
	rec := &delivertest.Recorder{}
	d, err := logdelivery.NewDispatcher(store, kindsOf(t, s3.Kind().With(rec)))
	require.NoError(t, err)
	var logs syncBuffer
	w, err := sqsworker.New(client, aws.ToString(q.QueueUrl), d, func(o *sqsworker.Options) {
		o.WaitTime = time.Second
		o.FailureQueueURL = aws.ToString(failures.QueueUrl)
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	require.NoError(t, err)

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	eventually(t, "the queue drained", func() bool {
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		return err == nil && out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
	cancel()
	require.NoError(t, <-done)

	got := rec.Keys()
	sort.Strings(got)
	assert.Equal(t, want, got, "every object delivered exactly once, the malformed message parked")

	var errorLines []map[string]any
	for _, l := range logs.lines(t) {
		if l["level"] == "ERROR" {
			errorLines = append(errorLines, l)
		}
	}
	require.Len(t, errorLines, 1, "the malformed message's failure is logged")
	assert.EqualValues(t, 1, errorLines[0]["receive_count"], "with SQS's receive count: its first delivery")

	parked, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: failures.QueueUrl, MaxNumberOfMessages: 10,
		WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
	require.NoError(t, err)
	require.Len(t, parked.Messages, 1, "the malformed message is in the failure queue")
	assert.Equal(t, "not json", aws.ToString(parked.Messages[0].Body))
	assert.NotEmpty(t, aws.ToString(parked.Messages[0].MessageAttributes["logdelivery-failure"].StringValue), "with its reason")
}

func kindsOf(t *testing.T, kinds ...deliver.Kind) *deliver.Registry {
	t.Helper()
	r, err := deliver.NewRegistry(kinds)
	require.NoError(t, err)
	return r
}
