package cloudwatch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
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

const (
	group  = "/tenant/logs"
	stream = "c1/api/api-7d9f"
)

var (
	now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	key = keyparse.Key{Cluster: "c1", Namespace: "team-a", Tenant: "team-a", Application: "api", Pod: "api-7d9f", File: "1763726400-0001.json.gz"}
)

// sliceReader is a deliver.RecordReader over a slice.
type sliceReader struct {
	recs []deliver.Record
	err  error // returned after the records instead of io.EOF
	i    int
}

func (r *sliceReader) Next() (deliver.Record, error) {
	if r.i >= len(r.recs) {
		if r.err != nil {
			return deliver.Record{}, r.err
		}
		return deliver.Record{}, io.EOF
	}
	r.i++
	return r.recs[r.i-1], nil
}

func (r *sliceReader) Stats() deliver.DecodeStats {
	return deliver.DecodeStats{Records: int64(r.i), TooLong: 2}
}

func (r *sliceReader) Close() error { return nil }

func delivery(recs []deliver.Record) *deliver.Delivery {
	return &deliver.Delivery{
		Object: deliver.Object{Bucket: "central", Key: "c1/team-a/api/api-7d9f/1763726400-0001.json.gz", Time: now},
		Key:    key,
		Config: tenant.DeliveryConfig{
			TenantID: "team-a", Type: "cloudwatch",
			Settings: map[string]any{"log_group_name": group, "log_distribution_role_arn": "arn:aws:iam::222222222222:role/logs"},
		},
		Records: func(context.Context) (deliver.RecordReader, error) {
			return &sliceReader{recs: recs}, nil
		},
	}
}

// records returns n records one millisecond apart, message i being
// "line i" padded to size bytes when size > 0.
func records(n, size int) []deliver.Record {
	recs := make([]deliver.Record, n)
	for i := range recs {
		msg := fmt.Sprintf("line %d", i)
		if size > len(msg) {
			msg += strings.Repeat("x", size-len(msg))
		}
		recs[i] = deliver.Record{Time: now.Add(-time.Hour + time.Duration(i)*time.Millisecond), Message: msg}
	}
	return recs
}

func newFake(t *testing.T) *cloudwatchtest.Server {
	t.Helper()
	f := cloudwatchtest.NewServer(cloudwatchtest.Options{Now: func() time.Time { return now }})
	t.Cleanup(f.Close)
	return f
}

func newDeliverer(t *testing.T, f *cloudwatchtest.Server, optFns ...func(*cloudwatch.Options)) *cloudwatch.Deliverer {
	t.Helper()
	base := func(o *cloudwatch.Options) {
		o.AWSConfig = aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(f.URL)}
		o.Now = func() time.Time { return now }
		o.RetryBase = time.Millisecond
		o.RetryMax = 5 * time.Millisecond
	}
	d, err := cloudwatch.New(credentials.Static{Credentials: awscreds.NewStaticCredentialsProvider("AKID", "SECRET", "")},
		append([]func(*cloudwatch.Options){base}, optFns...)...)
	require.NoError(t, err)
	return d
}

func assertStored(t *testing.T, f *cloudwatchtest.Server, stream string, recs []deliver.Record) {
	t.Helper()
	got := f.Events(group, stream)
	require.Len(t, got, len(recs))
	for i, e := range got {
		require.Equal(t, recs[i].Message, e.Message, "event %d", i)
		require.Equal(t, recs[i].Time.UnixMilli(), e.Timestamp, "event %d", i)
	}
}

func TestDeliverCreatesStreamOnNotFound(t *testing.T) {
	f := newFake(t)
	f.CreateLogGroup(group)
	d := newDeliverer(t, f)
	recs := records(3, 0)

	rcpt, err := d.Deliver(context.Background(), delivery(recs))
	require.NoError(t, err)
	assert.Equal(t, int64(3), rcpt.Events)
	assert.Equal(t, int64(len("line 0")*3), rcpt.Bytes)
	assert.Equal(t, 3, rcpt.Calls, "PutLogEvents, CreateLogStream, PutLogEvents")
	assert.Equal(t, int64(2), rcpt.Undecoded, "decode stats are reported")
	assert.Equal(t, "cloudwatch:eu-west-1:"+group+":"+stream, rcpt.Location)
	assert.Equal(t, 1, f.Calls("CreateLogStream"))
	assert.Equal(t, 3, f.TotalCalls(), "no Describe* or other calls")
	assertStored(t, f, stream, recs)

	// The stream exists now: one call.
	rcpt, err = d.Deliver(context.Background(), delivery(recs))
	require.NoError(t, err)
	assert.Equal(t, 1, rcpt.Calls)
}

func TestDeliverBatchLimits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		recs  []deliver.Record
		calls int
	}{
		{"10000 events", records(10000, 0), 1},
		{"10001 events", records(10001, 0), 2},
		// 16 events of 65,510 + 26 bytes are exactly 1,048,576 bytes.
		{"exactly 1048576 bytes", records(16, 65536-26), 1},
		{"one byte more", append(records(15, 65536-26), records(1, 65536-25)...), 2},
		{"one event of maximum size", records(1, cloudwatch.MaxEventSize), 1},
		{"two events of maximum size", records(2, cloudwatch.MaxEventSize), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.CreateLogStream(group, stream)
			d := newDeliverer(t, f)
			rcpt, err := d.Deliver(context.Background(), delivery(tc.recs))
			require.NoError(t, err)
			assert.Equal(t, tc.calls, f.Calls("PutLogEvents"))
			assert.Equal(t, tc.calls, rcpt.Calls)
			assert.Equal(t, int64(len(tc.recs)), rcpt.Events)
			assert.Zero(t, rcpt.Truncated)
			assert.Equal(t, len(tc.recs), f.EventCount(group, stream))
		})
	}
}

func TestDeliverTruncatesOnUTF8Boundary(t *testing.T) {
	f := cloudwatchtest.NewServer(cloudwatchtest.Options{Now: func() time.Time { return now }, MaxEventSize: cloudwatch.LegacyMaxEventSize})
	t.Cleanup(f.Close)
	f.CreateLogStream(group, stream)
	d := newDeliverer(t, f, func(o *cloudwatch.Options) { o.MaxEventSize = cloudwatch.LegacyMaxEventSize })
	long := "a" + strings.Repeat("€", cloudwatch.LegacyMaxEventSize/3+10) // 3-byte runes, cut mid-rune
	recs := []deliver.Record{{Time: now, Message: long}, {Time: now, Message: "short"}}

	rcpt, err := d.Deliver(context.Background(), delivery(recs))
	require.NoError(t, err)
	assert.Equal(t, int64(1), rcpt.Truncated)
	assert.Equal(t, int64(2), rcpt.Events)
	got := f.Events(group, stream)
	require.Len(t, got, 2)
	assert.True(t, utf8.ValidString(got[0].Message))
	assert.LessOrEqual(t, len(got[0].Message), cloudwatch.LegacyMaxEventSize)
	assert.Greater(t, len(got[0].Message), cloudwatch.LegacyMaxEventSize-3)
	assert.True(t, strings.HasPrefix(long, got[0].Message))
	assert.Equal(t, "short", got[1].Message)
}

func TestDeliverTruncatesAtDefaultLimit(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	d := newDeliverer(t, f)
	recs := records(1, cloudwatch.MaxEventSize+100)
	rcpt, err := d.Deliver(context.Background(), delivery(recs))
	require.NoError(t, err)
	assert.Equal(t, int64(1), rcpt.Truncated)
	require.Len(t, f.Events(group, stream), 1)
	assert.Len(t, f.Events(group, stream)[0].Message, cloudwatch.MaxEventSize)
}

func TestDeliverSplitsSpanOver24h(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	d := newDeliverer(t, f)
	var recs []deliver.Record
	for i := range 31 { // one event per hour over 30 hours
		recs = append(recs, deliver.Record{Time: now.Add(-31*time.Hour + time.Duration(i)*time.Hour), Message: fmt.Sprint("h", i)})
	}
	rcpt, err := d.Deliver(context.Background(), delivery(recs))
	require.NoError(t, err)
	assert.Equal(t, int64(31), rcpt.Events)
	batches := f.Batches()
	require.Len(t, batches, 2)
	for _, b := range batches {
		assert.LessOrEqual(t, b.Span, (24 * time.Hour).Milliseconds())
	}
	assertStored(t, f, stream, recs)
}

func TestDeliverDropsEventsTheAPIWouldReject(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	d := newDeliverer(t, f)
	recs := []deliver.Record{
		{Time: now.Add(-15 * 24 * time.Hour), Message: "too old"},
		{Time: now.Add(-time.Minute), Message: "fine"},
		{Time: now.Add(3 * time.Hour), Message: "too new"},
		{Time: now, Message: ""},
	}
	rcpt, err := d.Deliver(context.Background(), delivery(recs))
	require.NoError(t, err)
	assert.Equal(t, int64(3), rcpt.Dropped)
	assert.Equal(t, int64(1), rcpt.Events)
	assert.Zero(t, rcpt.Rejected)

	// All too old: nothing to send, no call, no error.
	f.ResetCounters()
	old := records(50, 0)
	for i := range old {
		old[i].Time = now.Add(-20 * 24 * time.Hour)
	}
	rcpt, err = d.Deliver(context.Background(), delivery(old))
	require.NoError(t, err)
	assert.Equal(t, int64(50), rcpt.Dropped)
	assert.Zero(t, rcpt.Events)
	assert.Zero(t, f.TotalCalls())
}

func TestDeliverSortsEachBatchStably(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	d := newDeliverer(t, f)
	recs := []deliver.Record{
		{Time: now.Add(-2 * time.Second), Message: "b1"},
		{Time: now.Add(-3 * time.Second), Message: "a"},
		{Time: now.Add(-2 * time.Second), Message: "b2"},
		{Time: now.Add(-1 * time.Second), Message: "c"},
		{Time: now.Add(-2 * time.Second), Message: "b3"},
	}
	_, err := d.Deliver(context.Background(), delivery(recs))
	require.NoError(t, err)
	var got []string
	for _, e := range f.Events(group, stream) {
		got = append(got, e.Message)
	}
	assert.Equal(t, []string{"a", "b1", "b2", "b3", "c"}, got)
}

func TestDeliverRetriesThrottlingOnThirdBatch(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	f.SetHook(func(c cloudwatchtest.Call) *cloudwatchtest.Fault {
		if c.Op == "PutLogEvents" && c.N == 3 {
			return cloudwatchtest.Throttle()
		}
		return nil
	})
	d := newDeliverer(t, f)
	recs := records(30000, 0)
	rcpt, err := d.Deliver(context.Background(), delivery(recs))
	require.NoError(t, err)
	assert.Equal(t, int64(30000), rcpt.Events)
	assert.Equal(t, 4, rcpt.Calls)
	assert.Equal(t, 4, f.Calls("PutLogEvents"), "the SDK's retryer is off: one retry, not several")
	assertStored(t, f, stream, recs)
}

func TestDeliverRetries5xx(t *testing.T) {
	for _, fault := range []*cloudwatchtest.Fault{cloudwatchtest.Unavailable(), cloudwatchtest.InternalError()} {
		t.Run(fault.Code, func(t *testing.T) {
			f := newFake(t)
			f.CreateLogStream(group, stream)
			f.SetHook(func(c cloudwatchtest.Call) *cloudwatchtest.Fault {
				if c.N <= 2 {
					return fault
				}
				return nil
			})
			d := newDeliverer(t, f)
			rcpt, err := d.Deliver(context.Background(), delivery(records(10, 0)))
			require.NoError(t, err)
			assert.Equal(t, int64(10), rcpt.Events)
			assert.Equal(t, 3, rcpt.Calls)
		})
	}
}

func TestDeliverReportsPartialFailure(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	f.SetHook(func(c cloudwatchtest.Call) *cloudwatchtest.Fault {
		if c.Op == "PutLogEvents" && c.N >= 3 {
			return cloudwatchtest.Throttle()
		}
		return nil
	})
	d := newDeliverer(t, f, func(o *cloudwatch.Options) { o.MaxAttempts = 3; o.Concurrency = 1 })
	rcpt, err := d.Deliver(context.Background(), delivery(records(45000, 0)))
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err), "throttling is retryable: %v", err)
	var de *cloudwatch.DeliveryError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, int64(20000), de.Delivered)
	assert.Equal(t, int64(20000), rcpt.Events)
	assert.GreaterOrEqual(t, de.NotDelivered, int64(10000))
	assert.Equal(t, stream, de.Stream)
	assert.Contains(t, err.Error(), "ThrottlingException")
	assert.Equal(t, 5, f.Calls("PutLogEvents"), "2 good + 3 attempts, then no further batch")
}

func TestDeliverMissingGroup(t *testing.T) {
	t.Run("permanent by default", func(t *testing.T) {
		f := newFake(t)
		d := newDeliverer(t, f)
		rcpt, err := d.Deliver(context.Background(), delivery(records(5, 0)))
		require.Error(t, err)
		assert.True(t, fault.IsPermanent(err), "%v", err)
		assert.Contains(t, err.Error(), group)
		assert.Contains(t, err.Error(), "log group does not exist")
		assert.Zero(t, rcpt.Events)
		assert.Empty(t, f.Groups())
	})
	t.Run("created with retention", func(t *testing.T) {
		f := newFake(t)
		d := newDeliverer(t, f, func(o *cloudwatch.Options) { o.CreateLogGroup = true; o.RetentionDays = 30 })
		recs := records(5, 0)
		rcpt, err := d.Deliver(context.Background(), delivery(recs))
		require.NoError(t, err)
		assert.Equal(t, int64(5), rcpt.Events)
		assert.Equal(t, int32(30), f.Retention(group))
		assert.Equal(t, 6, rcpt.Calls, "Put, CreateStream, CreateGroup, Retention, CreateStream, Put")
		assertStored(t, f, stream, recs)
	})
}

func TestDeliverCountsRejectedWithoutResending(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	f.SetHook(func(c cloudwatchtest.Call) *cloudwatchtest.Fault {
		if c.Op == "PutLogEvents" {
			return &cloudwatchtest.Fault{RejectOld: 2, RejectNew: 1}
		}
		return nil
	})
	d := newDeliverer(t, f)
	recs := records(10, 0)
	rcpt, err := d.Deliver(context.Background(), delivery(recs))
	require.NoError(t, err)
	assert.Equal(t, int64(3), rcpt.Rejected)
	assert.Equal(t, int64(7), rcpt.Events)
	assert.Equal(t, 1, f.Calls("PutLogEvents"))
	assertStored(t, f, stream, recs[2:9])
}

func TestDeliverStreamsPerPod(t *testing.T) {
	f := newFake(t)
	f.CreateLogGroup(group)
	d := newDeliverer(t, f)
	var recs []deliver.Record
	for i := range 30 {
		r := deliver.Record{Time: now.Add(time.Duration(i-60) * time.Second), Message: fmt.Sprint("m", i), Pod: fmt.Sprint("pod-", i%3)}
		recs = append(recs, r)
	}
	recs = append(recs, deliver.Record{Time: now, Message: "colon", Pod: "weird:pod*"})
	rcpt, err := d.Deliver(context.Background(), delivery(recs))
	require.NoError(t, err)
	assert.Equal(t, int64(31), rcpt.Events)
	assert.Equal(t, []string{"c1/api/pod-0", "c1/api/pod-1", "c1/api/pod-2", "c1/api/weird_pod_"}, f.Streams(group))
	for p := range 3 {
		assert.Equal(t, 10, f.EventCount(group, fmt.Sprint("c1/api/pod-", p)))
	}
}

func TestDeliverConcurrentToOneStream(t *testing.T) {
	f := newFake(t)
	f.CreateLogGroup(group)
	d := newDeliverer(t, f)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := d.Deliver(context.Background(), delivery(records(15000, 0)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 8*15000, f.EventCount(group, stream))
	assert.Equal(t, 1, f.Calls("CreateLogStream"), "the per-stream lock lets one delivery create the stream")
}

func TestDeliverHonoursDeadline(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	f.SetHook(func(cloudwatchtest.Call) *cloudwatchtest.Fault { return cloudwatchtest.Throttle() })
	d := newDeliverer(t, f, func(o *cloudwatch.Options) {
		o.RetryBase, o.RetryMax, o.MaxAttempts = time.Hour, time.Hour, 100
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := d.Deliver(ctx, delivery(records(10, 0)))
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err))
	assert.NoError(t, ctx.Err(), "gave up before the deadline instead of sleeping past it")
	assert.LessOrEqual(t, f.Calls("PutLogEvents"), 2)
}

func TestDeliverRegion(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	var got []string
	var mu sync.Mutex
	mk := func(o *cloudwatch.Options) {
		o.NewClient = func(region string, creds aws.CredentialsProvider) cloudwatch.Client {
			mu.Lock()
			got = append(got, region)
			mu.Unlock()
			return cloudwatchlogs.NewFromConfig(aws.Config{Region: region, Credentials: creds, BaseEndpoint: aws.String(f.URL)})
		}
	}
	d := newDeliverer(t, f, mk)
	del := delivery(records(1, 0))
	_, err := d.Deliver(context.Background(), del)
	require.NoError(t, err)
	del.Config.TargetRegion = "ap-southeast-2"
	_, err = d.Deliver(context.Background(), del)
	require.NoError(t, err)
	assert.Equal(t, []string{"eu-west-1", "ap-southeast-2"}, got)

	noRegion := newDeliverer(t, f, mk, func(o *cloudwatch.Options) { o.AWSConfig.Region = "" })
	_, err = noRegion.Deliver(context.Background(), delivery(records(1, 0)))
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err))
	assert.Contains(t, err.Error(), "no target_region")
}

// recordingChain records the hops it is asked for.
type recordingChain struct {
	mu      sync.Mutex
	regions []string
	hops    [][]credentials.Hop
	err     error
}

func (c *recordingChain) Provider(_ context.Context, region string, hops ...credentials.Hop) (aws.CredentialsProvider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.regions = append(c.regions, region)
	c.hops = append(c.hops, hops)
	return awscreds.NewStaticCredentialsProvider("AKID", "SECRET", ""), c.err
}

func TestDeliverAsksChainForTenantRole(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	chain := &recordingChain{}
	d, err := cloudwatch.New(chain, func(o *cloudwatch.Options) {
		o.AWSConfig = aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(f.URL)}
		o.Now = func() time.Time { return now }
	})
	require.NoError(t, err)
	del := delivery(records(1, 0))
	del.Config.Settings["external_id"] = "ext-123"
	_, err = d.Deliver(context.Background(), del)
	require.NoError(t, err)
	require.Len(t, chain.hops, 1)
	assert.Equal(t, "eu-west-1", chain.regions[0])
	assert.Equal(t, []credentials.Hop{{RoleARN: "arn:aws:iam::222222222222:role/logs", ExternalID: "ext-123", SessionName: "logdelivery-team-a"}}, chain.hops[0])

	chain.err = errors.New("boom")
	_, err = d.Deliver(context.Background(), del)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "credentials for team-a/cloudwatch")
}

func TestDeliverReadError(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	d := newDeliverer(t, f)
	del := delivery(nil)
	recs := records(5, 0)
	del.Records = func(context.Context) (deliver.RecordReader, error) {
		return &sliceReader{recs: recs, err: fault.Permanent(errors.New("corrupt gzip"))}, nil
	}
	rcpt, err := d.Deliver(context.Background(), del)
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err))
	assert.Contains(t, err.Error(), "corrupt gzip")
	assert.Equal(t, int64(5), rcpt.Events, "records before the error are delivered")
}

func TestDeliverRejectsOtherKinds(t *testing.T) {
	d := newDeliverer(t, newFake(t))
	del := delivery(nil)
	del.Config.Type = "s3"
	_, err := d.Deliver(context.Background(), del)
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err))
}

func TestNewRejectsBadTemplate(t *testing.T) {
	_, err := cloudwatch.New(credentials.Static{}, func(o *cloudwatch.Options) { o.StreamTemplate = "{pod" })
	require.ErrorIs(t, err, keyparse.ErrInvalidTemplate)
}

func TestDeliverWaitsForNewStream(t *testing.T) {
	f := newFake(t)
	f.CreateLogGroup(group)
	// The stream is created, but the next PutLogEvents still does not see it.
	f.SetHook(func(c cloudwatchtest.Call) *cloudwatchtest.Fault {
		if c.Op == "PutLogEvents" && c.N == 2 {
			return cloudwatchtest.NotFound("The specified log stream does not exist.")
		}
		return nil
	})
	d := newDeliverer(t, f)
	rcpt, err := d.Deliver(context.Background(), delivery(records(3, 0)))
	require.NoError(t, err)
	assert.Equal(t, int64(3), rcpt.Events)
	assert.Equal(t, 1, f.Calls("CreateLogStream"))
	assert.Equal(t, 3, f.Calls("PutLogEvents"))
}

func TestDeliverCancelledContext(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	d := newDeliverer(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rcpt, err := d.Deliver(ctx, delivery(records(20000, 0)))
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, rcpt.Events)
	assert.Zero(t, f.EventCount(group, stream))
}

func TestDeliverManyStreamsBoundsOpenBatches(t *testing.T) {
	f := newFake(t)
	f.CreateLogGroup(group)
	d := newDeliverer(t, f)
	// 40 pods interleaved, 10 MiB in all: more than the deliverer holds open,
	// so open batches are sent early; every stream stays complete and in
	// order.
	var recs []deliver.Record
	for i := range 4 {
		for p := range 40 {
			recs = append(recs, deliver.Record{
				Time:    now.Add(time.Duration(i-10) * time.Second),
				Message: fmt.Sprintf("%d-%d ", p, i) + strings.Repeat("z", 64<<10),
				Pod:     fmt.Sprint("pod-", p),
			})
		}
	}
	rcpt, err := d.Deliver(context.Background(), delivery(recs))
	require.NoError(t, err)
	assert.Equal(t, int64(len(recs)), rcpt.Events)
	assert.Len(t, f.Streams(group), 40)
	assert.Greater(t, f.Calls("PutLogEvents"), 80, "some streams were sent in more than one batch")
	for p := range 40 {
		got := f.Events(group, fmt.Sprint("c1/api/pod-", p))
		require.Len(t, got, 4)
		for i, e := range got {
			assert.True(t, strings.HasPrefix(e.Message, fmt.Sprintf("%d-%d ", p, i)))
		}
	}
}
