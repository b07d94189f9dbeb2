package logdelivery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func event(keys ...string) []byte {
	recs := ""
	for i, k := range keys {
		if i > 0 {
			recs += ","
		}
		recs += fmt.Sprintf(`{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"central"},"object":{"key":%q,"size":1}}}`, k)
	}
	return []byte(`{"Records":[` + recs + `]}`)
}

func TestDispatchMessages(t *testing.T) {
	rec := &delivertest.Recorder{Func: func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		switch d.Key.Tenant {
		case "flaky":
			return deliver.Receipt{}, errors.New("503")
		case "denied":
			return deliver.Receipt{}, fault.Permanent(errors.New("AccessDenied"))
		}
		return deliver.Receipt{Objects: 1}, nil
	}}
	d := newDispatcher(t, newStore(t, storetest.S3("ok"), storetest.S3("flaky"), storetest.S3("denied")),
		map[string]deliver.Deliverer{"s3": rec})

	out := d.DispatchMessages(context.Background(),
		logdelivery.Message{ID: "ok", Body: event("c/ok/a/p/1.gz", "c/ok/a/p/2.gz")},
		logdelivery.Message{ID: "mixed", Body: event("c/ok/a/p/3.gz", "c/flaky/a/p/1.gz")},
		logdelivery.Message{ID: "denied", Body: event("c/denied/a/p/1.gz")},
		logdelivery.Message{ID: "bad", Body: []byte("{not json")},
		logdelivery.Message{ID: "test", Body: []byte(`{"Event":"s3:TestEvent"}`)},
		logdelivery.Message{ID: "ok", Body: event("c/ok/a/p/4.gz")}, // a repeated id keeps its own results
		logdelivery.Message{ID: "partial", Body: []byte(strings.Replace(string(event("c/ok/a/p/5.gz", "BAD")), `"BAD"`, `"%zz"`, 1))},
	)
	require.Len(t, out, 7)
	assert.Error(t, out[6].Err, "the bad record is reported")
	require.Len(t, out[6].Results, 1, "the good record of the same message is delivered")
	assert.Equal(t, logdelivery.Delivered, out[6].Results[0].Outcome)
	assert.True(t, out[6].Failed())
	assert.Len(t, out[0].Results, 2)
	assert.False(t, out[0].Retry())
	assert.False(t, out[0].Failed())

	assert.True(t, out[1].Retry(), "one retryable failure makes the whole message retry")
	assert.Len(t, out[1].Results, 2)

	assert.False(t, out[2].Retry(), "a permanent failure is not retried")
	assert.True(t, out[2].Failed())

	assert.ErrorIs(t, out[3].Err, logdelivery.ErrMalformedNotification)
	assert.False(t, out[3].Retry())
	assert.True(t, out[3].Failed())

	assert.NoError(t, out[4].Err)
	assert.Empty(t, out[4].Results)
	assert.False(t, out[4].Retry())

	require.Len(t, out[5].Results, 1)
	assert.Equal(t, "c/ok/a/p/4.gz", out[5].Results[0].Object.Key)
	assert.Len(t, rec.Deliveries(), 7)
}

func TestFailureSummary(t *testing.T) {
	long := fault.Permanent(errors.New("copy to s3://tenant-bucket/" + strings.Repeat("é", 400) + ": api error NoSuchBucket: The specified bucket does not exist"))
	var results logdelivery.Results
	for i := range 12 {
		results = append(results, logdelivery.Result{
			Object: logdelivery.Object{Bucket: "central", Key: fmt.Sprintf("c/acme/app/pod/%d.gz", i)},
			Key:    keyparse.Key{Tenant: "acme"}, Destination: "s3", Outcome: logdelivery.Failed, Err: long,
		})
	}
	results = append(results, logdelivery.Result{Key: keyparse.Key{Tenant: "acme"}, Destination: "cloudwatch", Outcome: logdelivery.Delivered})
	reason, dests := logdelivery.MessageResult{ID: "m", Results: results}.FailureSummary()
	lines := strings.Split(reason, "\n")
	assert.Len(t, lines, 10, "the first ten failures")
	for _, l := range lines {
		assert.LessOrEqual(t, len(l), 610)
		assert.True(t, utf8.ValidString(l), "cut on rune boundaries")
		assert.True(t, strings.HasPrefix(l, "s3://central/c/acme/app/pod/"), "the head names the delivery: %s", l)
		assert.True(t, strings.HasSuffix(l, "NoSuchBucket: The specified bucket does not exist"), "the tail keeps the error code: %s", l)
	}
	assert.Equal(t, "acme/s3", dests, "each failed destination once; delivered ones not at all")

	reason, dests = logdelivery.MessageResult{ID: "m", Err: errors.New("not a notification")}.FailureSummary()
	assert.Equal(t, "not a notification", reason)
	assert.Empty(t, dests)
}
