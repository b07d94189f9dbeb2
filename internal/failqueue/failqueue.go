// Package failqueue parks permanently failed queue messages in a failure
// queue, with their failure reasons as message attributes, for the SQS
// worker and the Lambda handler alike.
package failqueue

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logdelivery/logdelivery"
)

// The message attributes a parked message carries.
const (
	// AttrFailure holds the failure reasons, one per line.
	AttrFailure = "logdelivery-failure"
	// AttrDestinations lists the failed "tenant/type" pairs, comma
	// separated; absent for a malformed body.
	AttrDestinations = "logdelivery-failed-destinations"
	// AttrMessageID is the id of the message in its source queue.
	AttrMessageID = "logdelivery-message-id"
)

// Sender sends a message to a queue, in the SQS client's method shape.
type Sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Park sends body, unchanged, to the queue at url with res's failure
// summary as message attributes. The caller deletes the source message
// only when Park returns nil.
func Park(ctx context.Context, s Sender, url, body string, res logdelivery.MessageResult) error {
	reason, dests := res.FailureSummary()
	if reason == "" {
		reason = "failed permanently"
	}
	attrs := map[string]types.MessageAttributeValue{AttrFailure: stringValue(reason)}
	if dests != "" {
		attrs[AttrDestinations] = stringValue(dests)
	}
	if res.ID != "" {
		attrs[AttrMessageID] = stringValue(res.ID)
	}
	if _, err := s.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body), MessageAttributes: attrs}); err != nil {
		return fmt.Errorf("parking message %s in the failure queue: %w", res.ID, err)
	}
	return nil
}

func stringValue(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}
