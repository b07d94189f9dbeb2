package logdelivery_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
)

const s3Event = `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
 "eventTime":"2025-08-30T11:27:01.564Z","eventName":"ObjectCreated:Put",
 "s3":{"s3SchemaVersion":"1.0","bucket":{"name":"central-logs","arn":"arn:aws:s3:::central-logs"},
 "object":{"key":"prod-1/payments/api/api-7d9f/1693396021-red+flower%C3%BC.log.gz","size":2048,"eTag":"abc","versionId":"v1","sequencer":"00"}}},
 {"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","eventTime":"2025-08-30T11:27:02Z",
 "s3":{"bucket":{"name":"central-logs"},"object":{"key":"gone"}}}]}`

var wantS3 = logdelivery.Object{
	Bucket: "central-logs", Key: "prod-1/payments/api/api-7d9f/1693396021-red flowerü.log.gz",
	VersionID: "v1", ETag: "abc", Sequencer: "00", Size: 2048, Time: time.Date(2025, 8, 30, 11, 27, 1, 564e6, time.UTC),
}

func snsWrap(t *testing.T, msg string) string {
	b, err := json.Marshal(map[string]string{
		"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:logs",
		"Subject": "Amazon S3 Notification", "Message": msg, "Timestamp": "2025-08-30T11:27:01.600Z",
	})
	require.NoError(t, err)
	return string(b)
}

func TestParseS3Event(t *testing.T) {
	objs, err := logdelivery.ParseNotification([]byte(s3Event))
	require.NoError(t, err)
	require.Len(t, objs, 1, "removals are ignored")
	assert.Equal(t, wantS3.Key, objs[0].Key, "key is URL-decoded, + is a space")
	assert.True(t, wantS3.Time.Equal(objs[0].Time))
	objs[0].Time = wantS3.Time
	assert.Equal(t, wantS3, objs[0])
}

func TestParseSNSWrapped(t *testing.T) {
	objs, err := logdelivery.ParseNotification([]byte(snsWrap(t, s3Event)))
	require.NoError(t, err)
	require.Len(t, objs, 1)
	assert.Equal(t, wantS3.Key, objs[0].Key)
}

func TestParseEventBridge(t *testing.T) {
	body := `{"version":"0","id":"e-1","detail-type":"Object Created","source":"aws.s3","account":"123456789012",
	 "time":"2025-08-30T11:27:01Z","region":"us-east-1","resources":["arn:aws:s3:::central-logs"],
	 "detail":{"version":"0","bucket":{"name":"central-logs"},"object":{"key":"c/ns/app/pod/a+b.gz","size":10,"etag":"x","version-id":"v2"},"reason":"PutObject"}}`
	objs, err := logdelivery.ParseNotification([]byte(body))
	require.NoError(t, err)
	require.Len(t, objs, 1)
	assert.Equal(t, logdelivery.Object{Bucket: "central-logs", Key: "c/ns/app/pod/a+b.gz", VersionID: "v2", ETag: "x", Size: 10,
		Time: time.Date(2025, 8, 30, 11, 27, 1, 0, time.UTC)}, objs[0])

	deleted := `{"detail-type":"Object Deleted","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{"key":"k"}}}`
	objs, err = logdelivery.ParseNotification([]byte(deleted))
	require.NoError(t, err)
	assert.Empty(t, objs)
}

func TestParseTestEvent(t *testing.T) {
	test := `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2025-08-30T11:27:01.000Z","Bucket":"central-logs","RequestId":"r","HostId":"h"}`
	for _, body := range []string{test, snsWrap(t, test)} {
		objs, err := logdelivery.ParseNotification([]byte(body))
		assert.NoError(t, err)
		assert.Empty(t, objs)
	}
}

func TestParseMalformed(t *testing.T) {
	for name, body := range map[string]string{
		"empty":            "",
		"not json":         "hello",
		"truncated":        `{"Records":[`,
		"array":            `[1,2]`,
		"unknown shape":    `{"foo":"bar"}`,
		"trailing data":    s3Event + `{}`,
		"records not list": `{"Records":{}}`,
		"no s3 section":    `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put"}]}`,
		"no bucket":        `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{},"object":{"key":"k"}}}]}`,
		"bad key encoding": `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%zz"}}}]}`,
		"bad size":         `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":-1}}}]}`,
		"other source":     `{"Records":[{"eventSource":"aws:sqs","eventName":"ObjectCreated:Put"}]}`,
		"sns bad message":  snsWrap(t, "not json"),
		"sns in sns":       snsWrap(t, snsWrap(t, s3Event)),
		"eventbridge bad":  `{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":"x"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			objs, err := logdelivery.ParseNotification([]byte(body))
			require.Error(t, err)
			assert.Nil(t, objs)
			assert.ErrorIs(t, err, logdelivery.ErrMalformedNotification)
			assert.False(t, fault.IsRetryable(err), "a malformed body is permanent")
			var ne *logdelivery.NotificationError
			require.True(t, errors.As(err, &ne))
			assert.NotEmpty(t, ne.Reason)
		})
	}
}

func TestOneBadRecordKeepsTheOthers(t *testing.T) {
	body := `{"Records":[
	 {"eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"2025-08-30T11:27:01Z","s3":{"bucket":{"name":"b"},"object":{"key":"c/ns/a/p/1.gz"}}},
	 {"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"bad%zz"}}},
	 {"eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"2026-11-21T20:00:18.812894","s3":{"bucket":{"name":"b"},"object":{"key":"c/ns/a/p/2.gz"}}},
	 {"eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"yesterday","s3":{"bucket":{"name":"b"},"object":{"key":"c/ns/a/p/3.gz"}}}]}`
	objs, err := logdelivery.ParseNotification([]byte(body))
	require.Len(t, objs, 3, "the usable records are returned")
	assert.ErrorIs(t, err, logdelivery.ErrMalformedNotification)
	assert.ErrorContains(t, err, "1 of 4 records unusable: record 1")
	assert.Equal(t, time.Date(2026, 11, 21, 20, 0, 18, 812894000, time.UTC), objs[1].Time, "a time without a zone is UTC")
	assert.True(t, objs[2].Time.IsZero(), "an unreadable time is left to the key")

	objs, err = logdelivery.ParseNotification([]byte(snsWrap(t, body)))
	assert.Len(t, objs, 3, "the usable records survive the SNS envelope too")
	assert.ErrorIs(t, err, logdelivery.ErrMalformedNotification)
}

func FuzzParseNotification(f *testing.F) {
	f.Add([]byte(s3Event))
	f.Add([]byte(`{"Type":"Notification","Message":"{\"Records\":[]}"}`))
	f.Add([]byte(`{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{"key":"k","size":1}}}`))
	f.Add([]byte(`{"Event":"s3:TestEvent"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		objs, err := logdelivery.ParseNotification(body)
		if err != nil {
			if !errors.Is(err, logdelivery.ErrMalformedNotification) {
				t.Fatalf("error %v is not ErrMalformedNotification", err)
			}
		}
		for _, o := range objs {
			if o.Bucket == "" || o.Key == "" || o.Size < 0 {
				t.Fatalf("accepted incomplete object %+v", o)
			}
		}
	})
}

func TestResultJSON(t *testing.T) {
	r := logdelivery.Result{
		Object: logdelivery.Object{ID: "m1", Bucket: "b", Key: "c/acme/api/p/f.gz"},
		Key:    keyparse.Key{Tenant: "acme", Application: "api"}, Destination: "cloudwatch",
		Outcome: logdelivery.Failed, Err: errors.New("throttled"), Receipt: deliver.Receipt{Events: 3, Calls: 2},
		Duration: 1500 * time.Microsecond,
	}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"m1","bucket":"b","key":"c/acme/api/p/f.gz","tenant":"acme","application":"api",
		"destination":"cloudwatch","outcome":"failed","error":"throttled","retryable":true,
		"receipt":{"events":3,"calls":2},"duration_ms":1.5}`, string(b))
}

// The reference implementation's scan mode (container/cmd/log-processor/
// main.go, scanMode) wraps an S3 event of records without eventName or
// eventSource in an SNS envelope of Message alone (models.SNSMessage);
// its manual mode takes the same bodies on stdin.
func TestParseReferenceScanEnvelope(t *testing.T) {
	inner := `{"Records":[{"s3":{"bucket":{"name":"central-logs"},"object":{"key":"c/ns/app/pod/1.json.gz"}}}]}`
	body, err := json.Marshal(map[string]string{"Message": inner})
	require.NoError(t, err)
	for name, b := range map[string]string{"scan envelope": string(body), "bare records": inner, "sns with type": snsWrap(t, inner)} {
		objs, err := logdelivery.ParseNotification([]byte(b))
		require.NoError(t, err, name)
		require.Len(t, objs, 1, name)
		assert.Equal(t, logdelivery.Object{Bucket: "central-logs", Key: "c/ns/app/pod/1.json.gz"}, objs[0], name)
	}

	// Other SNS messages and removals are still not objects.
	objs, err := logdelivery.ParseNotification([]byte(`{"Type":"SubscriptionConfirmation","Message":"confirm"}`))
	assert.ErrorIs(t, err, logdelivery.ErrMalformedNotification)
	assert.Empty(t, objs)
	objs, err = logdelivery.ParseNotification([]byte(`{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`))
	assert.NoError(t, err)
	assert.Empty(t, objs)
	_, err = logdelivery.ParseNotification([]byte(`{"Message":"not json"}`))
	assert.ErrorIs(t, err, logdelivery.ErrMalformedNotification)
	_, err = logdelivery.ParseNotification([]byte(`{"Message":` + strconvQuote(string(body)) + `}`))
	assert.ErrorIs(t, err, logdelivery.ErrMalformedNotification, "envelopes do not nest")
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
