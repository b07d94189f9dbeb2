package awserr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/stretchr/testify/assert"
)

func respErr(status int, err error) error {
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		retryable bool
	}{
		{"access denied", respErr(403, &smithy.GenericAPIError{Code: "AccessDenied", Fault: smithy.FaultClient}), false},
		{"no such bucket", respErr(404, &smithy.GenericAPIError{Code: "NoSuchBucket"}), false},
		{"log group missing", respErr(400, &smithy.GenericAPIError{Code: "ResourceNotFoundException"}), false},
		{"throttling", respErr(400, &smithy.GenericAPIError{Code: "ThrottlingException"}), true},
		{"slow down", respErr(503, &smithy.GenericAPIError{Code: "SlowDown"}), true},
		{"internal error", respErr(500, &smithy.GenericAPIError{Code: "InternalError", Fault: smithy.FaultServer}), true},
		{"unknown 4xx", respErr(400, &smithy.GenericAPIError{Code: "SomethingNew", Fault: smithy.FaultClient}), false},
		{"unknown 5xx", respErr(502, &smithy.GenericAPIError{Code: "BadGateway"}), true},
		{"expired token", respErr(400, &smithy.GenericAPIError{Code: "ExpiredToken"}), true},
		{"sts region disabled", respErr(403, &smithy.GenericAPIError{Code: "RegionDisabledException"}), false},
		{"sts packed policy", respErr(400, &smithy.GenericAPIError{Code: "PackedPolicyTooLarge"}), false},
		{"logs concurrent change", respErr(400, &smithy.GenericAPIError{Code: "OperationAbortedException"}), true},
		{"logs unavailable", respErr(503, &smithy.GenericAPIError{Code: "ServiceUnavailableException"}), true},
		{"logs resource limit", respErr(400, &smithy.GenericAPIError{Code: "LimitExceededException"}), false},
		{"source changed during copy", respErr(412, &smithy.GenericAPIError{Code: "PreconditionFailed"}), true},
		{"conditional check", respErr(400, &smithy.GenericAPIError{Code: "ConditionalCheckFailedException"}), false},
		{"provisioned throughput", respErr(400, &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException"}), true},
		{"deadline", fmt.Errorf("put: %w", context.DeadlineExceeded), true},
		{"plain error", errors.New("boom"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.retryable, IsRetryable(tc.err))
			c := Classify(tc.err)
			assert.Equal(t, tc.retryable, fault.IsRetryable(c))
			assert.Equal(t, !tc.retryable, errors.Is(c, fault.ErrPermanent))
			assert.ErrorIs(t, c, tc.err, "the original error stays reachable")
		})
	}
	assert.NoError(t, Classify(nil))
	assert.False(t, fault.IsRetryable(Classify(fault.Permanent(errors.New("x")))), "an existing classification is kept")
}

func TestClassifySource(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		retryable bool
	}{
		{"object gone", respErr(404, &smithy.GenericAPIError{Code: "NoSuchKey"}), false},
		{"head 404", respErr(404, &smithy.GenericAPIError{Code: "NotFound"}), false},
		{"version gone", respErr(404, &smithy.GenericAPIError{Code: "NoSuchVersion"}), false},
		{"processor lost access", respErr(403, &smithy.GenericAPIError{Code: "AccessDenied"}), true},
		{"kms key disabled", respErr(400, &smithy.GenericAPIError{Code: "KMS.DisabledException"}), true},
		{"slow down", respErr(503, &smithy.GenericAPIError{Code: "SlowDown"}), true},
	} {
		assert.Equal(t, tc.retryable, fault.IsRetryable(ClassifySource(tc.err)), tc.name)
	}
	assert.NoError(t, ClassifySource(nil))
}
