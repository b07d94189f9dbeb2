package cloudwatch

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/logdelivery/logdelivery/internal/reqbody"
)

// The serializer of the SDK builds a PutLogEvents body by growing a small
// buffer and then copies it: about three times the body in allocations,
// for every batch. putLogEventsSerializer, in its place on the clients
// this package builds, writes the same AWS JSON 1.1 document in one pass
// into a pooled buffer sized from the events, and gives the buffer back
// when the call is over. Inputs with fields it does not write (Entity,
// SequenceToken) go to the SDK's serializer.

// serializerID is the ID of the SDK's operation serializer middleware.
const serializerID = "OperationSerializer"

// withBodyWriter is an APIOptions function that installs the body writer
// on the PutLogEvents operation.
func withBodyWriter(pool *reqbody.Pool) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		if s.ID() != "PutLogEvents" {
			return nil
		}
		sdk, ok := s.Serialize.Get(serializerID)
		if !ok {
			return nil
		}
		_, err := s.Serialize.Swap(serializerID, &putLogEventsSerializer{sdk: sdk, pool: pool})
		return err
	}
}

type putLogEventsSerializer struct {
	sdk  middleware.SerializeMiddleware
	pool *reqbody.Pool
}

func (*putLogEventsSerializer) ID() string { return serializerID }

func (m *putLogEventsSerializer) HandleSerialize(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (
	middleware.SerializeOutput, middleware.Metadata, error,
) {
	input, ok := in.Parameters.(*cloudwatchlogs.PutLogEventsInput)
	req, isHTTP := in.Request.(*smithyhttp.Request)
	if !ok || !isHTTP || input.Entity != nil || input.SequenceToken != nil {
		return m.sdk.HandleSerialize(ctx, in, next)
	}
	buf := m.pool.Get()
	defer m.pool.Put(buf)
	buf.B = appendPutLogEvents(buf.B, input)

	req.Method = http.MethodPost
	if req.URL.Path == "" {
		req.URL.Path = "/"
	}
	req.Header.Set("X-Amz-Target", "Logs_20140328.PutLogEvents")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sreq, err := req.SetStream(buf.Reader())
	if err != nil {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("cloudwatch: set PutLogEvents body: %w", err)
	}
	*req = *sreq
	return next.HandleSerialize(ctx, in)
}

// appendPutLogEvents appends the AWS JSON 1.1 body of in, members in the
// order the SDK writes them, to dst[:0], growing it at most once.
func appendPutLogEvents(dst []byte, in *cloudwatchlogs.PutLogEventsInput) []byte {
	size := 64 + len(deref(in.LogGroupName)) + len(deref(in.LogStreamName))
	for _, e := range in.LogEvents {
		// Quotes, separators, keys and a 13-digit timestamp: 40 bytes;
		// an eighth more leaves room for the escapes of JSON messages.
		size += len(deref(e.Message)) + 40
	}
	dst = slices.Grow(dst[:0], size+size/8)
	dst = append(dst, `{"logEvents":[`...)
	for i, e := range in.LogEvents {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		if e.Message != nil {
			dst = append(dst, `"message":`...)
			dst = reqbody.AppendString(dst, *e.Message)
		}
		if e.Timestamp != nil {
			if e.Message != nil {
				dst = append(dst, ',')
			}
			dst = append(dst, `"timestamp":`...)
			dst = strconv.AppendInt(dst, *e.Timestamp, 10)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if in.LogGroupName != nil {
		dst = append(dst, `,"logGroupName":`...)
		dst = reqbody.AppendString(dst, *in.LogGroupName)
	}
	if in.LogStreamName != nil {
		dst = append(dst, `,"logStreamName":`...)
		dst = reqbody.AppendString(dst, *in.LogStreamName)
	}
	return append(dst, '}')
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
