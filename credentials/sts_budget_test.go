package credentials_test

// Tests of the retry budget of a delivery whose role chain STS throttles:
// the real CloudWatch Logs deliverer over the default STS clients (their
// SDK retryer included), against the fake STS of sts_test.go and the
// in-process CloudWatch Logs fake.

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch/cloudwatchtest"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

const budgetGroup = "/tenant/logs"

// budgetDeadline is the deadline of the deliveries: longer than the
// deliverer's own retries take (about 3 to 6 seconds with its defaults),
// so that it is the retry budget that ends them.
const budgetDeadline = 30 * time.Second

// recordReader is a deliver.RecordReader over a few records.
type recordReader struct {
	recs []deliver.Record
	i    int
}

func (r *recordReader) Next() (deliver.Record, error) {
	if r.i >= len(r.recs) {
		return deliver.Record{}, io.EOF
	}
	r.i++
	return r.recs[r.i-1], nil
}

func (r *recordReader) Stats() deliver.DecodeStats { return deliver.DecodeStats{Records: int64(r.i)} }
func (r *recordReader) Close() error               { return nil }

// throttledDelivery returns a CloudWatch Logs deliverer, with its default
// retries, whose chain is a default STS chain (default STS clients) against
// an STS that throttles every call.
func throttledDelivery(t *testing.T) (*fakeSTS, *cloudwatch.Deliverer) {
	t.Helper()
	f := newFakeSTS(t)
	f.fail = func(assumeCall) (int, string) { return 400, "Throttling" }
	chain, err := credentials.NewSTS(aws.Config{
		Region:       "eu-west-1",
		Credentials:  awscreds.NewStaticCredentialsProvider("BASE", "base-secret", ""),
		BaseEndpoint: aws.String(f.URL),
	}, centralRole)
	require.NoError(t, err)

	now := time.Now()
	cwl := cloudwatchtest.NewServer(cloudwatchtest.Options{Now: func() time.Time { return now }})
	t.Cleanup(cwl.Close)
	cwl.CreateLogGroup(budgetGroup)
	d, err := cloudwatch.New(chain, func(o *cloudwatch.Options) {
		o.AWSConfig = aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(cwl.URL)}
		o.Now = func() time.Time { return now }
	})
	require.NoError(t, err)
	return f, d
}

// budgetDelivery returns a delivery of object n of tenant team-a, from pod
// n (so that deliveries do not wait for each other's log stream).
func budgetDelivery(n int) *deliver.Delivery {
	now := time.Now()
	pod, file := fmt.Sprintf("api-%d", n), fmt.Sprintf("%d-0001.json.gz", now.Unix())
	return &deliver.Delivery{
		Object: deliver.Object{Bucket: "central", Key: "c1/team-a/api/" + pod + "/" + file, Time: now},
		Key:    keyparse.Key{Cluster: "c1", Namespace: "team-a", Tenant: "team-a", Application: "api", Pod: pod, File: file},
		Config: tenant.DeliveryConfig{
			TenantID: "team-a", Type: "cloudwatch",
			Settings: map[string]any{"log_group_name": budgetGroup, "log_distribution_role_arn": tenantRoleA},
		},
		Records: func(context.Context) (deliver.RecordReader, error) {
			return &recordReader{recs: []deliver.Record{{Time: now, Message: "line 0"}, {Time: now, Message: "line 1"}}}, nil
		},
	}
}

// assertFailedInBudget checks that a delivery that failed on a throttled
// chain failed retryably, naming the hop, before its deadline. It reports
// whether it did.
func assertFailedInBudget(t *testing.T, ctx context.Context, err error) bool {
	t.Helper()
	if !assert.Error(t, err) {
		return false
	}
	ok := assert.NoError(t, ctx.Err(), "the delivery gave up before its deadline: %v", err)
	ok = assert.True(t, fault.IsRetryable(err), "%v", err) && ok
	var are *credentials.AssumeRoleError
	if assert.ErrorAs(t, err, &are, "%v", err) {
		ok = assert.Equal(t, centralRole, are.RoleARN, "the central role is the first to fail") && ok
	} else {
		ok = false
	}
	return assert.Positive(t, fault.RetryAfter(err), "the error says when STS may be asked again: %v", err) && ok
}

func TestSTSThrottledDeliveryRetryBudget(t *testing.T) {
	t.Parallel()
	// A deadline the deliverer's retries fit in, and one they do not.
	for _, deadline := range []time.Duration{budgetDeadline, 5 * time.Second} {
		t.Run(deadline.String(), func(t *testing.T) {
			t.Parallel()
			f, d := throttledDelivery(t)
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			_, err := d.Deliver(ctx, budgetDelivery(1))
			elapsed := time.Since(start)
			calls := len(f.Calls())
			t.Logf("one object: %d AssumeRole calls, failed after %v: %v", calls, elapsed.Round(time.Millisecond), err)

			assertFailedInBudget(t, ctx, err)
			assert.LessOrEqual(t, calls, 4, "AssumeRole calls for one object: the deliverer's attempts and the chain share one budget")
		})
	}
}

func TestSTSThrottledConcurrentDeliveriesShareTheBackoff(t *testing.T) {
	t.Parallel()
	f, d := throttledDelivery(t)
	ctx, cancel := context.WithTimeout(context.Background(), budgetDeadline)
	defer cancel()
	const n = 50
	errs := make([]error, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = d.Deliver(ctx, budgetDelivery(i))
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	calls := len(f.Calls())
	t.Logf("%d concurrent objects: %d AssumeRole calls, all failed after %v", n, calls, elapsed.Round(time.Millisecond))

	for i, err := range errs {
		if !assertFailedInBudget(t, ctx, err) {
			t.Errorf("delivery %d failed as above", i)
			break
		}
	}
	// Deliveries end within one deliverer retry cycle (6.2s at most with
	// its defaults: 5 waits of at most 0.2s to 3.2s). The central hop's
	// windows are at least 0.5s, 1s and 2s after its first three failures,
	// so a fourth call comes at 3.5s at the earliest and a fifth at 7.5s:
	// whatever the number of deliveries in flight, one call per window.
	assert.LessOrEqual(t, calls, 4, "AssumeRole calls for %d objects of one tenant", n)
}
