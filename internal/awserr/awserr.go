// Package awserr classifies AWS SDK errors as retryable or permanent (see
// package fault), once, for every deliverer and store.
package awserr

import (
	"context"
	"errors"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/logdelivery/logdelivery/fault"
)

// permanentCodes are error codes that retrying the same request cannot fix.
var permanentCodes = map[string]bool{
	"AccessDenied":                  true,
	"AccessDeniedException":         true,
	"AccountProblem":                true,
	"AllAccessDisabled":             true,
	"AuthorizationError":            true,
	"ExpiredToken":                  false, // credentials are refreshed: retryable
	"InvalidAccessKeyId":            true,
	"InvalidBucketName":             true,
	"InvalidClientTokenId":          true,
	"InvalidIdentityToken":          true,
	"InvalidObjectState":            true,
	"InvalidParameterException":     true,
	"InvalidParameterValue":         true,
	"InvalidRequest":                true,
	"KMS.DisabledException":         true,
	"KMS.NotFoundException":         true,
	"MalformedPolicyDocument":       true,
	"NoSuchBucket":                  true,
	"NoSuchKey":                     true,
	"NotAuthorized":                 true,
	"PermanentRedirect":             true,
	"RegionDisabledException":       true,
	"ResourceNotFoundException":     true,
	"SignatureDoesNotMatch":         true,
	"UnauthorizedOperation":         true,
	"UnrecognizedClientException":   true,
	"ValidationError":               true,
	"ValidationException":           true,
	"DataAlreadyAcceptedException":  true,
	"MalformedQueryString":          true,
	"EntityTooLarge":                true,
	"InvalidSequenceTokenException": false,
	// STS and CloudWatch Logs.
	"PackedPolicyTooLarge":        true,
	"ExpiredTokenException":       false,
	"IDPCommunicationError":       false,
	"OperationAbortedException":   false, // concurrent change of the same resource
	"ServiceUnavailableException": false,
	"LimitExceededException":      true, // CloudWatch Logs: too many log groups/streams
	"InvalidOperationException":   true,
	// S3: a conditional copy whose source changed since it was inspected;
	// a new attempt inspects it again.
	"PreconditionFailed": false,
	"InvalidArgument":    true,
	"MetadataTooLarge":   true,
	// DynamoDB.
	"ConditionalCheckFailedException":          true,
	"TransactionConflictException":             false,
	"ItemCollectionSizeLimitExceededException": true,
}

// Code returns the AWS error code of err, or "".
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// StatusCode returns the HTTP status of the response that produced err, or
// 0.
func StatusCode(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// IsRetryable reports whether err is worth retrying: throttling, 5xx,
// timeouts, connection failures, expired credentials. Context cancellation
// by the caller is retryable in the sense that the work was not done.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	code := Code(err)
	if v, ok := permanentCodes[code]; ok {
		return !v
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
		return true
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err).Bool() {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	status := StatusCode(err)
	switch {
	case status >= 500, status == 429, status == 408:
		return true
	case status >= 400:
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorFault() != smithy.FaultClient
	}
	return true
}

// Classify marks err as fault.Retryable or fault.Permanent. It keeps
// an existing classification and returns nil for nil.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if IsRetryable(err) {
		return fault.Retryable(err)
	}
	return fault.Permanent(err)
}

// goneCodes say that an object, its version or its bucket no longer exists.
var goneCodes = map[string]bool{
	"NoSuchKey":     true,
	"NotFound":      true, // HeadObject's 404
	"NoSuchVersion": true,
	"NoSuchBucket":  true,
}

// ClassifySource classifies an error reading an object of the central
// bucket. The object, its version or its bucket being gone is permanent;
// anything else is retryable, including access denied and KMS errors: those
// are the processor's own configuration problems, not the object's, and
// retrying (with a dead-letter queue behind) keeps the object rather than
// dropping it. It keeps an existing classification and returns nil for nil.
func ClassifySource(err error) error {
	if err == nil {
		return nil
	}
	if goneCodes[Code(err)] || StatusCode(err) == 404 {
		return fault.Permanent(err)
	}
	return fault.Retryable(err)
}
