package cloudwatch

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/reqbody"
)

// captured is a request as the endpoint received it.
type captured struct {
	target, contentType, auth string
	length                    int64
	body                      []byte
}

// capture starts an endpoint that records PutLogEvents requests and
// answers them as the service does.
func capture(t *testing.T) (*httptest.Server, func() []captured) {
	var mu sync.Mutex
	var got []captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, captured{r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.ContentLength, b})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		io.WriteString(w, `{"nextSequenceToken":"1"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []captured {
		mu.Lock()
		defer mu.Unlock()
		return append([]captured(nil), got...)
	}
}

func testClient(url string, optFns ...func(*cloudwatchlogs.Options)) *cloudwatchlogs.Client {
	return cloudwatchlogs.NewFromConfig(aws.Config{
		Region: "eu-west-1", BaseEndpoint: aws.String(url),
		Credentials: awscreds.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}, optFns...)
}

var trickyMessages = []string{
	"plain", `quotes " and \ backslash`, "new\nline\r\ttab", "\x00\x01\x1f\x7f control",
	"é ü 日本 😀", "\u2028\u2029 separators", "<script>&amp;</script>", strings.Repeat("long ", 5000),
}

func trickyInput() *cloudwatchlogs.PutLogEventsInput {
	in := &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(`/group "quoted"`), LogStreamName: aws.String("c1/app/pod-é")}
	for i, m := range trickyMessages {
		in.LogEvents = append(in.LogEvents, types.InputLogEvent{Message: aws.String(m), Timestamp: aws.Int64(1764496800000 + int64(i))})
	}
	return in
}

// The body writer sends what the SDK's serializer sends: the same
// operation, content type and JSON document, signed over the bytes sent.
func TestBodyWriterMatchesTheSDK(t *testing.T) {
	srv, got := capture(t)
	pool := &reqbody.Pool{}
	sdk := testClient(srv.URL)
	own := testClient(srv.URL, func(o *cloudwatchlogs.Options) { o.APIOptions = append(o.APIOptions, withBodyWriter(pool)) })
	for range 3 { // the second and third reuse the pooled buffer
		_, err := sdk.PutLogEvents(context.Background(), trickyInput())
		require.NoError(t, err)
		_, err = own.PutLogEvents(context.Background(), trickyInput())
		require.NoError(t, err)
	}
	reqs := got()
	require.Len(t, reqs, 6)
	for i := 0; i < len(reqs); i += 2 {
		want, have := reqs[i], reqs[i+1]
		assert.Equal(t, want.target, have.target)
		assert.Equal(t, want.contentType, have.contentType)
		assert.Equal(t, int64(len(have.body)), have.length)
		assert.Contains(t, have.auth, "Signature=")
		var a, b any
		require.NoError(t, json.Unmarshal(want.body, &a))
		require.NoError(t, json.Unmarshal(have.body, &b), "%s", have.body)
		assert.Equal(t, a, b)
	}
}

// Inputs with members the writer does not write go to the SDK's
// serializer.
func TestBodyWriterLeavesOtherInputsToTheSDK(t *testing.T) {
	srv, got := capture(t)
	own := testClient(srv.URL, func(o *cloudwatchlogs.Options) { o.APIOptions = append(o.APIOptions, withBodyWriter(&reqbody.Pool{})) })
	in := trickyInput()
	in.SequenceToken = aws.String("49590302")
	_, err := own.PutLogEvents(context.Background(), in)
	require.NoError(t, err)
	_, err = own.CreateLogStream(context.Background(), &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")})
	require.NoError(t, err)
	reqs := got()
	require.Len(t, reqs, 2)
	assert.Contains(t, string(reqs[0].body), `"sequenceToken":"49590302"`)
	assert.Equal(t, "Logs_20140328.CreateLogStream", reqs[1].target)
	assert.JSONEq(t, `{"logGroupName":"g","logStreamName":"s"}`, string(reqs[1].body))
}

func FuzzAppendPutLogEvents(f *testing.F) {
	for _, m := range trickyMessages {
		f.Add(m, "stream", int64(1764496800000))
	}
	f.Add("\xff\xfe", "s\x00", int64(-1))
	f.Fuzz(func(t *testing.T, msg, stream string, ts int64) {
		in := &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String(stream),
			LogEvents: []types.InputLogEvent{{Message: aws.String(msg), Timestamp: aws.Int64(ts)}, {Message: aws.String("x"), Timestamp: aws.Int64(ts)}}}
		b := appendPutLogEvents([]byte("stale bytes"), in)
		var out struct {
			LogEvents []struct {
				Message   string `json:"message"`
				Timestamp int64  `json:"timestamp"`
			} `json:"logEvents"`
			LogGroupName, LogStreamName string
		}
		require.NoError(t, json.Unmarshal(b, &out), "%q", b)
		ref, _ := json.Marshal(map[string]string{"m": msg, "s": stream}) // encoding/json's repair of invalid UTF-8
		var want map[string]string
		require.NoError(t, json.Unmarshal(ref, &want))
		require.Len(t, out.LogEvents, 2)
		assert.Equal(t, want["m"], out.LogEvents[0].Message)
		assert.Equal(t, ts, out.LogEvents[0].Timestamp)
		assert.Equal(t, want["s"], out.LogStreamName)
		assert.Equal(t, "g", out.LogGroupName)
	})
}
