package cloudwatchtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver/cloudwatch/cloudwatchtest"
	"github.com/logdelivery/logdelivery/internal/awserr"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T, opts cloudwatchtest.Options) (*cloudwatchtest.Server, *cloudwatchlogs.Client) {
	t.Helper()
	opts.Now = func() time.Time { return now }
	s := cloudwatchtest.NewServer(opts)
	t.Cleanup(s.Close)
	c := cloudwatchlogs.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: awscreds.NewStaticCredentialsProvider("AKIDFAKE", "s", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	})
	return s, c
}

func events(n, size int, step time.Duration) []types.InputLogEvent {
	out := make([]types.InputLogEvent, n)
	for i := range out {
		out[i] = types.InputLogEvent{
			Timestamp: aws.Int64(now.Add(-time.Hour + time.Duration(i)*step).UnixMilli()),
			Message:   aws.String(strings.Repeat("x", size)),
		}
	}
	return out
}

func put(c *cloudwatchlogs.Client, ev []types.InputLogEvent) (*cloudwatchlogs.PutLogEventsOutput, error) {
	return c.PutLogEvents(context.Background(), &cloudwatchlogs.PutLogEventsInput{
		LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), LogEvents: ev,
	})
}

func TestPutLogEventsRules(t *testing.T) {
	s, c := setup(t, cloudwatchtest.Options{})
	s.CreateLogStream("g", "s")
	maxBytes := events(16, 65536-26, time.Millisecond)
	overBytes := events(16, 65536-26, time.Millisecond)
	overBytes[15].Message = aws.String(strings.Repeat("y", 65536-25))
	unordered := events(3, 5, time.Second)
	unordered[0], unordered[2] = unordered[2], unordered[0]
	empty := events(2, 5, time.Second)
	empty[1].Message = aws.String("")
	for _, tc := range []struct {
		name   string
		events []types.InputLogEvent
		ok     bool
	}{
		{"10000 events", events(10000, 1, 0), true},
		{"10001 events", events(10001, 1, 0), false},
		{"no events", events(0, 1, 0), false},
		{"exactly 1048576 bytes", maxBytes, true},
		{"1048577 bytes", overBytes, false},
		{"maximum event", events(1, cloudwatchtest.DefaultMaxEventSize, 0), true},
		{"event too large", events(1, cloudwatchtest.DefaultMaxEventSize+1, 0), false},
		{"out of order", unordered, false},
		{"span 24h", events(2, 1, 24*time.Hour), true},
		{"span over 24h", events(2, 1, 24*time.Hour+time.Millisecond), false},
		{"empty message", empty, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := put(c, tc.events)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, "InvalidParameterException", awserr.Code(err), "%v", err)
			assert.Equal(t, 400, awserr.StatusCode(err))
		})
	}
}

func TestLegacyEventSize(t *testing.T) {
	s, c := setup(t, cloudwatchtest.Options{MaxEventSize: cloudwatchtest.LegacyMaxEventSize})
	s.CreateLogStream("g", "s")
	_, err := put(c, events(1, cloudwatchtest.LegacyMaxEventSize, 0))
	require.NoError(t, err)
	_, err = put(c, events(1, cloudwatchtest.LegacyMaxEventSize+1, 0))
	require.Error(t, err)
}

func TestResourcesAndNotFound(t *testing.T) {
	s, c := setup(t, cloudwatchtest.Options{})
	ctx := context.Background()
	_, err := put(c, events(1, 1, 0))
	assert.Equal(t, "ResourceNotFoundException", awserr.Code(err))
	assert.Contains(t, err.Error(), "log group does not exist")

	_, err = c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")})
	assert.Equal(t, "ResourceNotFoundException", awserr.Code(err))
	_, err = c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("g")})
	require.NoError(t, err)
	_, err = c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("g")})
	assert.Equal(t, "ResourceAlreadyExistsException", awserr.Code(err))
	_, err = c.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("g"), RetentionInDays: aws.Int32(14)})
	require.NoError(t, err)
	assert.Equal(t, int32(14), s.Retention("g"))

	_, err = put(c, events(1, 1, 0))
	assert.Contains(t, err.Error(), "log stream does not exist")
	_, err = c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")})
	require.NoError(t, err)
	_, err = put(c, events(2, 3, time.Second))
	require.NoError(t, err)
	assert.Equal(t, []string{"s"}, s.Streams("g"))
	assert.Len(t, s.Events("g", "s"), 2)

	got, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")})
	require.NoError(t, err)
	assert.Len(t, got.Events, 2)

	_, err = c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("g")})
	assert.Equal(t, "UnknownOperationException", awserr.Code(err))
	assert.Equal(t, 1, s.Calls("DescribeLogStreams"), "unsupported operations are counted")
	assert.Equal(t, 3, s.Calls("PutLogEvents"))
	require.Len(t, s.Batches(), 1)
}

func TestTooOldAndTooNewAreRejected(t *testing.T) {
	s, c := setup(t, cloudwatchtest.Options{})
	s.CreateLogStream("g", "s")
	at := func(d time.Duration, msg string) types.InputLogEvent {
		return types.InputLogEvent{Timestamp: aws.Int64(now.Add(d).UnixMilli()), Message: aws.String(msg)}
	}
	out, err := put(c, []types.InputLogEvent{at(-cloudwatchtest.MaxEventAge-time.Hour, "old"), at(-cloudwatchtest.MaxEventAge+time.Hour, "ok")})
	require.NoError(t, err)
	require.NotNil(t, out.RejectedLogEventsInfo)
	assert.Equal(t, int32(1), *out.RejectedLogEventsInfo.TooOldLogEventEndIndex)
	assert.Nil(t, out.RejectedLogEventsInfo.TooNewLogEventStartIndex)
	out, err = put(c, []types.InputLogEvent{at(time.Hour, "ok"), at(3*time.Hour, "new")})
	require.NoError(t, err)
	assert.Equal(t, int32(1), *out.RejectedLogEventsInfo.TooNewLogEventStartIndex)
	assert.Equal(t, 2, s.EventCount("g", "s"))
}

func TestFaults(t *testing.T) {
	s, c := setup(t, cloudwatchtest.Options{})
	s.CreateLogStream("g", "s")
	for _, tc := range []struct {
		fault  *cloudwatchtest.Fault
		status int
	}{
		{cloudwatchtest.Throttle(), 400},
		{cloudwatchtest.Unavailable(), 503},
		{cloudwatchtest.InternalError(), 500},
		{cloudwatchtest.NotFound("gone"), 400},
	} {
		s.SetHook(func(cloudwatchtest.Call) *cloudwatchtest.Fault { return tc.fault })
		_, err := put(c, events(1, 1, 0))
		require.Error(t, err)
		assert.Equal(t, tc.fault.Code, awserr.Code(err))
		assert.Equal(t, tc.status, awserr.StatusCode(err))
	}
	s.SetHook(func(cloudwatchtest.Call) *cloudwatchtest.Fault { return cloudwatchtest.Throttle() })
	_, err := put(c, events(1, 1, 0))
	assert.True(t, awserr.IsRetryable(err), "throttling is retried: %v", err)

	var seen cloudwatchtest.Call
	s.SetHook(func(c cloudwatchtest.Call) *cloudwatchtest.Fault {
		seen = c
		return &cloudwatchtest.Fault{RejectOld: 1, RejectNew: 1}
	})
	out, err := put(c, events(4, 1, time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, int32(1), *out.RejectedLogEventsInfo.TooOldLogEventEndIndex)
	assert.Equal(t, int32(3), *out.RejectedLogEventsInfo.TooNewLogEventStartIndex)
	assert.Equal(t, 2, s.EventCount("g", "s"))
	assert.Equal(t, cloudwatchtest.Call{Op: "PutLogEvents", N: 6, Group: "g", Stream: "s", Events: 4, AccessKeyID: "AKIDFAKE"}, seen)

	s.ResetCounters()
	assert.Zero(t, s.TotalCalls())
	assert.Empty(t, s.Batches())
}

func TestDiscardEvents(t *testing.T) {
	s, c := setup(t, cloudwatchtest.Options{DiscardEvents: true, Latency: time.Millisecond})
	s.CreateLogStream("g", "s")
	_, err := put(c, events(10, 1, 0))
	require.NoError(t, err)
	assert.Equal(t, 10, s.EventCount("g", "s"))
	assert.Empty(t, s.Events("g", "s"))
	s.DeleteLogStream("g", "s")
	assert.Empty(t, s.Streams("g"))
	assert.Equal(t, []string{"g"}, s.Groups())
}

func TestAccessDeniedIsPermanent(t *testing.T) {
	s, c := setup(t, cloudwatchtest.Options{})
	s.CreateLogStream("g", "s")
	s.SetHook(func(cloudwatchtest.Call) *cloudwatchtest.Fault { return cloudwatchtest.AccessDenied() })
	_, err := put(c, events(1, 1, 0))
	assert.Equal(t, "AccessDeniedException", awserr.Code(err))
	assert.False(t, awserr.IsRetryable(err), "%v", err)
}

func TestHang(t *testing.T) {
	s, c := setup(t, cloudwatchtest.Options{})
	s.CreateLogStream("g", "s")
	s.SetHook(func(cloudwatchtest.Call) *cloudwatchtest.Fault { return cloudwatchtest.Hang() })

	// The client gives up at its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
		LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), LogEvents: events(1, 1, 0),
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Zero(t, s.EventCount("g", "s"))

	// Close ends a hung request without answering it.
	done := make(chan error, 1)
	go func() {
		_, err := put(c, events(1, 1, 0))
		done <- err
	}()
	require.Eventually(t, func() bool { return s.Calls("PutLogEvents") == 2 }, 5*time.Second, time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		assert.Error(t, err, "a hung request fails when the server closes")
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a hung request hanging")
	}
	assert.Zero(t, s.EventCount("g", "s"))
}

func TestDigestIgnoresArrivalOrderOnly(t *testing.T) {
	ev := events(6, 3, time.Second)
	digest := func(batches ...[]types.InputLogEvent) string {
		s, c := setup(t, cloudwatchtest.Options{DiscardEvents: true, Digest: true})
		s.CreateLogStream("g", "s")
		for _, b := range batches {
			_, err := put(c, b)
			require.NoError(t, err)
		}
		return s.Digest()
	}
	want := digest(ev)
	assert.Len(t, want, 64)
	assert.Equal(t, want, digest(ev[3:], ev[:3]), "the same events in other batches, in another order")

	changed := events(6, 3, time.Second)
	changed[4].Message = aws.String("xxy")
	assert.NotEqual(t, want, digest(changed), "one message differs")
	assert.NotEqual(t, want, digest(ev, ev[:1]), "one event twice")
	assert.NotEqual(t, want, digest(ev[:5]), "one event missing")

	s, _ := setup(t, cloudwatchtest.Options{})
	assert.Empty(t, s.Digest(), "off by default")
}
