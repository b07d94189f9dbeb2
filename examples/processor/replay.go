package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logdelivery/logdelivery"
)

// replayQueue is what replay needs of SQS.
type replayQueue interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// replayVisibility is how long a replayed message that still fails stays
// invisible: longer than a replay run, so that one run sees each message
// once.
const replayVisibility = 15 * 60

// runReplay drains the queue at url, a failure queue or a dead-letter
// queue: it receives every message once, dispatches it, prints one JSON
// line per result to out, and deletes the messages that are now delivered
// (nothing failed). Messages that fail again stay in the queue with their
// failure, visible again after 15 minutes. With a ledger, a replay delivers
// only what is missing: destinations done before are skipped, with reason
// "delivered". It returns 0 when every message was delivered, 1 when some
// are left, 3 when the queue could not be read.
func runReplay(ctx context.Context, d dispatcher, q replayQueue, url string, out io.Writer, logger *slog.Logger) int {
	enc := json.NewEncoder(out)
	code, received, deleted := 0, 0, 0
	var totals logdelivery.Totals
	for ctx.Err() == nil {
		got, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: replayVisibility,
		})
		if err != nil {
			logger.Error("receiving from the replay queue", "queue", url, "error", err)
			return 3
		}
		if len(got.Messages) == 0 {
			break
		}
		received += len(got.Messages)
		msgs := toMessages(got.Messages)
		var done []types.DeleteMessageBatchRequestEntry
		started := time.Now()
		for i, m := range d.DispatchMessages(ctx, msgs...) {
			m.LogFailures(ctx, logger)
			m.LogSummary(ctx, logger, time.Since(started))
			totals.Add(m)
			if m.Err != nil {
				enc.Encode(map[string]any{"id": m.ID, "outcome": "failed", "error": m.Err.Error(), "retryable": false})
			}
			for _, r := range m.Results {
				enc.Encode(r)
			}
			if m.Retry() || m.Failed() {
				code = 1
				continue
			}
			done = append(done, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: got.Messages[i].ReceiptHandle})
		}
		if len(done) == 0 {
			continue
		}
		del, err := q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: done})
		if err != nil {
			// Delivered all the same: a later replay skips them (with a
			// ledger) and deletes them then.
			logger.Error("deleting replayed messages", "queue", url, "error", err)
			code = 1
			continue
		}
		for _, f := range del.Failed {
			logger.Error("deleting a replayed message", "queue", url, "code", aws.ToString(f.Code), "error", aws.ToString(f.Message))
			code = 1
		}
		deleted += len(done) - len(del.Failed)
	}
	logger.Info("replay finished", "queue", url, "received", received, "delivered_and_deleted", deleted, "left", received-deleted, "totals", &totals)
	if ctx.Err() != nil && code == 0 {
		code = 1
	}
	return code
}

func toMessages(in []types.Message) []logdelivery.Message {
	out := make([]logdelivery.Message, len(in))
	for i, m := range in {
		out[i] = logdelivery.Message{ID: aws.ToString(m.MessageId), Body: []byte(aws.ToString(m.Body))}
	}
	return out
}
