package lambdahandler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logdelivery/logdelivery"
)

// VisibilityChanger changes the visibility of a received SQS message, in
// the SQS client's method shape; an *sqs.Client is one.
type VisibilityChanger interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// maxVisibility is SQS's longest visibility timeout.
const maxVisibility = 12 * time.Hour

// delayRetry sets the visibility of a message reported for retry to the
// retry-after hint of its failures, when they all carry one (see
// Options.Visibility), and reports whether it did.
func (h *Handler) delayRetry(ctx context.Context, rec events.SQSMessage, m logdelivery.MessageResult) bool {
	hint := m.RetryAfter()
	if h.opts.Visibility == nil || hint <= 0 {
		return false
	}
	url, err := h.opts.QueueURL(rec.EventSourceARN)
	if err != nil {
		h.opts.Logger.Warn("cannot delay the retry of a message: no queue URL", "message_id", m.ID, "error", err)
		return false
	}
	secs := int32(min((hint+time.Second-1)/time.Second, maxVisibility/time.Second))
	_, err = h.opts.Visibility.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: aws.String(rec.ReceiptHandle), VisibilityTimeout: secs,
	})
	if err != nil {
		// The message comes back after the queue's visibility timeout
		// instead: sooner or later than the hint, never lost.
		h.opts.Logger.Warn("cannot delay the retry of a message", "message_id", m.ID, "retry_after", hint, "error", err)
		return false
	}
	return true
}

// QueueURLFromARN returns the URL of the SQS queue an event source ARN
// names (arn:aws:sqs:us-east-1:123456789012:logs →
// https://sqs.us-east-1.amazonaws.com/123456789012/logs), the default of
// Options.QueueURL.
func QueueURLFromARN(arn string) (string, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[3] == "" || parts[4] == "" || parts[5] == "" {
		return "", fmt.Errorf("lambdahandler: %q is not an SQS queue ARN", arn)
	}
	domain := "amazonaws.com"
	if parts[1] == "aws-cn" {
		domain = "amazonaws.com.cn"
	}
	return fmt.Sprintf("https://sqs.%s.%s/%s/%s", parts[3], domain, parts[4], parts[5]), nil
}
