package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/lambdahandler"
	"github.com/logdelivery/logdelivery/sqsworker"
)

// TestEndToEnd runs the pipeline against one moto server, reset between
// scenarios.
func TestEndToEnd(t *testing.T) {
	srv := mototest.Start(t)
	t.Run("SQSWorker", func(t *testing.T) {
		srv.Reset(t)
		testSQSWorker(t, srv)
	})
	t.Run("LambdaHandler", func(t *testing.T) {
		srv.Reset(t)
		testLambdaHandler(t, srv)
	})
	t.Run("RetriesThenDeadLetterQueue", func(t *testing.T) {
		srv.Reset(t)
		testDeadLetterQueue(t, srv)
	})
}

func once(*object) int { return 1 }

// runWorker runs an SQS worker on the env's queue until done reports true,
// then stops it and checks that it shut down cleanly.
func runWorker(e *env, optFns func(*sqsworker.Options), what string, done func() (bool, string)) {
	e.t.Helper()
	w, err := sqsworker.New(e.sqs, e.queueURL, e.dispatcher(), func(o *sqsworker.Options) {
		o.WaitTime = time.Second
		if optFns != nil {
			optFns(o)
		}
	})
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(ctx) }()
	e.eventually(what, 60*time.Second, done)
	cancel()
	select {
	case err := <-stopped:
		require.NoError(e.t, err)
	case <-time.After(30 * time.Second):
		e.t.Fatal("the worker did not stop within 30s of its context ending")
	}
}

func (e *env) drained() (bool, string) {
	visible, inFlight := e.counts(e.queueURL)
	return visible == 0 && inFlight == 0, fmt.Sprintf("%d visible, %d in flight", visible, inFlight)
}

// testSQSWorker: every message of the deployment through the SQS worker,
// until the queue drains; then every destination is read back.
func testSQSWorker(t *testing.T, srv *mototest.Server) {
	start := time.Now()
	e := deploy(t, srv, newScenario(false), deployOptions{})
	runWorker(e, func(o *sqsworker.Options) { o.FailureQueueURL = e.failuresURL }, "the queue drained", e.drained)

	e.checkResults(once)
	e.checkCloudWatch()
	e.checkS3(start)
	e.checkRoleChains()
	e.checkQueuesEmpty()
	e.checkParked()
}

// testLambdaHandler: the same deployment plus a tenant whose role STS
// throttles, through the Lambda handler in batches of ten received from
// the queue, as the Lambda poller does; the messages the handler does not
// report are deleted, as Lambda does with ReportBatchItemFailures.
func testLambdaHandler(t *testing.T, srv *mototest.Server) {
	start := time.Now()
	sc := newScenario(true)
	e := deploy(t, srv, sc, deployOptions{rawDelivery: true})
	h, err := lambdahandler.New(e.dispatcher(), func(o *lambdahandler.Options) {
		o.FailureQueue = e.sqs
		o.FailureQueueURL = e.failuresURL
	})
	require.NoError(t, err)

	var received []sqstypes.Message
	var failures []string
	deadline := time.Now().Add(60 * time.Second)
	for len(received) < e.messages {
		require.False(t, time.Now().After(deadline), "received %d of %d messages", len(received), e.messages)
		out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, VisibilityTimeout: 300, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		require.NoError(t, err)
		if len(out.Messages) == 0 {
			continue
		}
		received = append(received, out.Messages...)

		ctx, cancel := context.WithTimeout(e.ctx, 60*time.Second) // the invocation's deadline
		resp, err := h.Handle(ctx, e.sqsEvent(out.Messages))
		cancel()
		require.NoError(t, err, "the handler never fails a whole batch")
		var retry []string
		for _, f := range resp.BatchItemFailures {
			retry = append(retry, f.ItemIdentifier)
		}
		var entries []sqstypes.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			if !slices.Contains(retry, aws.ToString(m.MessageId)) {
				entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle})
			}
		}
		if len(entries) > 0 {
			del, err := e.sqs.DeleteMessageBatch(e.ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(e.queueURL), Entries: entries})
			require.NoError(t, err)
			require.Empty(t, del.Failed)
		}
		failures = append(failures, retry...)
	}

	// Exactly the message of the throttled tenant's object is retried; the
	// missing bucket and the malformed bodies are parked, the test event
	// dropped.
	var want []string
	stark := sc.objects[len(sc.objects)-1]
	for _, m := range received {
		if announces(aws.ToString(m.Body), stark.key) {
			want = append(want, aws.ToString(m.MessageId))
		}
	}
	require.Len(t, want, 1, "one message announces the throttled tenant's object")
	assert.Equal(t, want, failures, "BatchItemFailures")

	e.checkResults(once)
	e.checkCloudWatch()
	e.checkS3(start)
	e.checkRoleChains()
	visible, inFlight := e.counts(e.queueURL)
	assert.Equal(t, [2]int{0, 1}, [2]int{visible, inFlight}, "only the retried message is left, invisible until its visibility timeout")
	visible, inFlight = e.counts(e.dlqURL)
	assert.Equal(t, [2]int{0, 0}, [2]int{visible, inFlight}, "nothing in the dead-letter queue")
	e.checkParked()
}

// sqsEvent is the event Lambda's SQS poller hands the function.
func (e *env) sqsEvent(msgs []sqstypes.Message) events.SQSEvent {
	var ev events.SQSEvent
	for _, m := range msgs {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: m.Attributes,
			EventSource: "aws:sqs", EventSourceARN: e.queueARN, AWSRegion: mototest.Region,
		})
	}
	return ev
}

// testDeadLetterQueue: a message whose delivery keeps failing retryably is
// retried by the worker until the queue's redrive policy (maxReceiveCount
// 3) moves it to the dead-letter queue, while another tenant's message in
// the same queue is delivered once. Without a failure queue the malformed
// messages, permanent failures, take the same way: nothing is deleted
// undelivered.
func testDeadLetterQueue(t *testing.T, srv *mototest.Server) {
	sc := newScenario(true)
	stark := sc.objects[len(sc.objects)-1]
	sc.objects = []*object{sc.objects[0], stark}
	e := deploy(t, srv, sc, deployOptions{})
	runWorker(e, func(o *sqsworker.Options) { o.RetryDelay = time.Second },
		"the throttled tenant's message reached the dead-letter queue", func() (bool, string) {
			visible, inFlight := e.counts(e.queueURL)
			dead, _ := e.counts(e.dlqURL)
			return visible == 0 && inFlight == 0 && dead == 3, fmt.Sprintf("queue: %d visible, %d in flight; dead-letter queue: %d", visible, inFlight, dead)
		})

	e.checkResults(func(o *object) int {
		if o == stark {
			return 3 // maxReceiveCount
		}
		return 1
	})
	e.checkCloudWatch()
	e.checkRoleChains()
	var throttled, malformed int
	for _, m := range e.receiveAll(e.dlqURL, 3) {
		switch _, err := logdelivery.ParseNotification([]byte(aws.ToString(m.Body))); {
		case announces(aws.ToString(m.Body), stark.key):
			throttled++
		case err != nil:
			malformed++
		}
	}
	assert.Equal(t, 1, throttled, "the throttled tenant's notification is a dead letter")
	assert.Equal(t, 2, malformed, "so are both malformed messages")
	visible, inFlight := e.counts(e.failuresURL)
	assert.Equal(t, [2]int{0, 0}, [2]int{visible, inFlight}, "no failure queue in use")
}

// receiveAll receives n messages from the queue at url, failing the test
// when they do not arrive within 30s.
func (e *env) receiveAll(url string, n int) []sqstypes.Message {
	e.t.Helper()
	var out []sqstypes.Message
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < n {
		require.False(e.t, time.Now().After(deadline), "received %d of %d messages from %s", len(out), n, url)
		got, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, VisibilityTimeout: 300, MessageAttributeNames: []string{"All"}})
		require.NoError(e.t, err)
		out = append(out, got.Messages...)
	}
	return out
}

// checkParked checks that the failure queue holds exactly the permanently
// failed messages, bodies unchanged, with their reasons: the notification
// of each object failing permanently at a destination, and both malformed
// messages.
func (e *env) checkParked() {
	e.t.Helper()
	var permanent []*object
	for _, o := range e.sc.objects {
		if o.cw == failedPermanent || o.s3 == failedPermanent {
			permanent = append(permanent, o)
		}
	}
	parked := e.receiveAll(e.failuresURL, len(permanent)+2)
	assert.Len(e.t, parked, len(permanent)+2, "nothing else is parked")
	malformed := 0
	for _, m := range parked {
		reason := aws.ToString(m.MessageAttributes["logdelivery-failure"].StringValue)
		assert.NotEmpty(e.t, reason, "a parked message carries its failure")
		if _, err := logdelivery.ParseNotification([]byte(aws.ToString(m.Body))); err != nil {
			malformed++
			continue
		}
		found := false
		for _, o := range permanent {
			if announces(aws.ToString(m.Body), o.key) {
				found = true
				assert.Contains(e.t, reason, o.key)
				assert.Equal(e.t, o.namespace+"/s3", aws.ToString(m.MessageAttributes["logdelivery-failed-destinations"].StringValue))
			}
		}
		assert.True(e.t, found, "parked message %s announces a permanently failing object", aws.ToString(m.MessageId))
	}
	assert.Equal(e.t, 2, malformed, "both malformed messages are parked")
}
