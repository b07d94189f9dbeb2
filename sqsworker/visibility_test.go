package sqsworker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/limits"
	"github.com/logdelivery/logdelivery/sqsworker"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// A message whose failures all carry a retry-after hint comes back after
// the hint, not after RetryDelay; one with a failure without a hint after
// RetryDelay.
func TestRetryAfterHintSetsTheVisibility(t *testing.T) {
	// The tenants of dispatcher: flaky is over its limit, slow throttled,
	// ok throttled for two days, denied fails without a hint.
	fake := newFake(body("c/flaky/a/p/1.gz"), body("c/slow/a/p/1.gz"), body("c/denied/a/p/1.gz"), body("c/ok/a/p/1.gz"))
	d := dispatcher(t, func(_ context.Context, dl *deliver.Delivery) (deliver.Receipt, error) {
		switch dl.Key.Tenant {
		case "flaky":
			return deliver.Receipt{}, fault.WithRetryAfter(errors.New("over its limit"), 2*time.Second)
		case "slow":
			return deliver.Receipt{}, fault.WithRetryAfter(errors.New("429"), 1500*time.Millisecond)
		case "ok":
			return deliver.Receipt{}, fault.WithRetryAfter(errors.New("429"), 48*time.Hour)
		}
		return deliver.Receipt{}, errors.New("503")
	})
	w, err := sqsworker.New(fake, "q", d, func(o *sqsworker.Options) { o.RetryDelay = 45 * time.Second })
	require.NoError(t, err)
	stop := start(t, w)
	eventually(t, "every message released", func() bool {
		for i := range 4 {
			if len(fake.visibilities(fmt.Sprintf("rh-m%d", i))) == 0 {
				return false
			}
		}
		return true
	})
	stop()
	assert.Equal(t, []int32{2}, fake.visibilities("rh-m0"), "the hint")
	assert.Equal(t, []int32{2}, fake.visibilities("rh-m1"), "rounded up to whole seconds")
	assert.Equal(t, []int32{45}, fake.visibilities("rh-m2"), "no hint: RetryDelay")
	assert.Equal(t, []int32{12 * 3600}, fake.visibilities("rh-m3"), "at most SQS's 12h")
}

// Against moto: a tenant over its limits has its message come back after
// the limiter's hint (seconds), far sooner than RetryDelay (an hour), and
// delivered then.
func TestLimitedMessageReturnsAfterTheHintMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx := mototest.Context(t)
	client := sqs.NewFromConfig(srv.Config())
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("limited")})
	require.NoError(t, err)
	for _, key := range []string{"c/acme/app/pod/1.gz", "c/acme/app/pod/2.gz"} {
		_, err = client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(body(key))})
		require.NoError(t, err)
	}

	store, err := memstore.New(nil)
	require.NoError(t, err)
	_, err = store.Create(ctx, storetest.S3("acme"))
	require.NoError(t, err)
	rec := &delivertest.Recorder{}
	// One copy at a time, each charged 1 byte (body's size), at 1 byte per
	// 2 s: the second object waits for 2 s of debt, more than MaxWait.
	lim, err := limits.New(func(o *limits.Options) {
		o.Defaults = limits.Limits{BytesPerSecond: 0.5, BytesBurst: 1}
		o.MaxWait = 100 * time.Millisecond
	})
	require.NoError(t, err)
	d, err := logdelivery.NewDispatcher(store, kindsOf(t, s3.Kind().With(rec)), func(o *logdelivery.Options) { o.Limits = lim })
	require.NoError(t, err)
	processed := make(chan time.Time, 10)
	obs := &settlements{processed: processed}
	w, err := sqsworker.New(client, aws.ToString(q.QueueUrl), d, func(o *sqsworker.Options) {
		o.WaitTime = time.Second
		o.MaxInFlight = 1
		o.RetryDelay = time.Hour
		o.Observer = obs
	})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	eventually(t, "both objects delivered", func() bool { return len(rec.Keys()) == 2 })
	eventually(t, "the queue drained", func() bool {
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		return err == nil && out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
	cancel()
	require.NoError(t, <-done)
	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Contains(t, obs.counts, sqsworker.Released, "a message was limited and released")
	assert.GreaterOrEqual(t, obs.counts[sqsworker.Deleted], 2)
	assert.Less(t, obs.lastReleaseToDelete, time.Minute, "it came back after the hint, not after RetryDelay")
	assert.GreaterOrEqual(t, obs.lastReleaseToDelete, time.Second, "and not before its visibility (2s) ended")
}

// settlements counts what the worker did with messages and measures how
// long a released message took to come back and be deleted.
type settlements struct {
	processed           chan time.Time
	mu                  sync.Mutex
	counts              map[sqsworker.Settlement]int
	released            map[string]time.Time
	lastReleaseToDelete time.Duration
}

func (s *settlements) Received(int)   {}
func (s *settlements) ReceiveFailed() {}
func (s *settlements) Processed(res logdelivery.MessageResult, _ time.Time, st sqsworker.Settlement) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts, s.released = map[sqsworker.Settlement]int{}, map[string]time.Time{}
	}
	s.counts[st]++
	switch st {
	case sqsworker.Released:
		s.released[res.ID] = time.Now()
	case sqsworker.Deleted:
		if at, ok := s.released[res.ID]; ok {
			s.lastReleaseToDelete = time.Since(at)
		}
	}
}
