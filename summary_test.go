package logdelivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
)

func summaryResult(tenantID, dest string, o Outcome, events int64, err error) Result {
	return Result{Object: Object{Bucket: "central", Key: "c/" + tenantID + "/app/pod/1.gz"},
		Key: keyparse.Key{Tenant: tenantID}, Destination: dest, Outcome: o, Err: err,
		Receipt: deliver.Receipt{Events: events, Bytes: 10 * events}}
}

func TestMessageOutcome(t *testing.T) {
	retry := fault.Retryable(errors.New("SlowDown"))
	perm := fault.Permanent(errors.New("AccessDenied"))
	for _, tc := range []struct {
		m    MessageResult
		want string
	}{
		{MessageResult{}, MessageEmpty},
		{MessageResult{Results: Results{summaryResult("a", "s3", Skipped, 0, nil)}}, MessageSkipped},
		{MessageResult{Results: Results{summaryResult("a", "s3", Delivered, 0, nil), summaryResult("a", "x", Skipped, 0, nil)}}, MessageDelivered},
		{MessageResult{Results: Results{summaryResult("a", "s3", Delivered, 0, nil), summaryResult("a", "cw", Failed, 0, perm)}}, MessageFailed},
		{MessageResult{Results: Results{summaryResult("a", "s3", Failed, 0, retry), summaryResult("a", "cw", Failed, 0, perm)}}, MessageRetry},
		{MessageResult{Err: &NotificationError{Reason: "bad"}}, MessageFailed},
	} {
		assert.Equal(t, tc.want, tc.m.Outcome())
	}
}

func TestLogSummary(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	m := MessageResult{ID: "m-1", Results: Results{
		summaryResult("globex", "s3", Delivered, 0, nil),
		summaryResult("acme", "cloudwatch", Delivered, 7, nil),
		summaryResult("acme", "loki", Failed, 3, fault.Retryable(errors.New("429"))),
	}}
	m.LogSummary(context.Background(), log, 1500*time.Microsecond)
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	assert.Equal(t, "message processed", line["msg"])
	assert.Equal(t, "INFO", line["level"])
	assert.Equal(t, "retry", line["outcome"])
	assert.EqualValues(t, 2, line["objects"])
	assert.Equal(t, "acme,globex", line["tenants"])
	assert.Equal(t, []any{"acme/cloudwatch=delivered", "acme/loki=failed", "globex/s3=delivered"}, line["destinations"])
	assert.EqualValues(t, 2, line["delivered"])
	assert.EqualValues(t, 1, line["failed"])
	assert.EqualValues(t, 10, line["events"], "what destinations accepted, failed ones included")
	assert.EqualValues(t, 100, line["bytes"])
	assert.EqualValues(t, 1.5, line["duration_ms"])

	// Many destinations are cut.
	buf.Reset()
	var many Results
	for i := range 30 {
		many = append(many, summaryResult("t"+strings.Repeat("x", i), "s3", Delivered, 0, nil))
	}
	MessageResult{ID: "m-2", Results: many}.LogSummary(context.Background(), log, 0)
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	dests := line["destinations"].([]any)
	assert.Len(t, dests, maxSummaryDestinations+1)
	assert.Equal(t, "…and 10 more", dests[maxSummaryDestinations])

	// Below Info, nothing.
	buf.Reset()
	m.LogSummary(context.Background(), slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})), 0)
	assert.Empty(t, buf.String())
}

func TestTotals(t *testing.T) {
	var tot Totals
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			tot.Add(MessageResult{Results: Results{summaryResult("a", "cw", Delivered, 5, nil), summaryResult("a", "s3", Skipped, 0, nil)}})
			tot.Add(MessageResult{Results: Results{summaryResult("a", "cw", Failed, 0, fault.Retryable(errors.New("x")))}})
			tot.Add(MessageResult{})
		})
	}
	wg.Wait()
	assert.EqualValues(t, 10, tot.Messages(MessageDelivered))
	assert.EqualValues(t, 10, tot.Messages(MessageRetry))
	assert.EqualValues(t, 10, tot.Messages(MessageEmpty))

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("stopped", "totals", &tot)
	var line struct {
		Totals struct {
			Messages                   int64
			Delivered, Skipped, Failed int64
			Events, Bytes              int64
			ByOutcome                  map[string]int64 `json:"messages_by_outcome"`
		}
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	assert.EqualValues(t, 30, line.Totals.Messages)
	assert.EqualValues(t, 10, line.Totals.Delivered)
	assert.EqualValues(t, 10, line.Totals.Skipped)
	assert.EqualValues(t, 10, line.Totals.Failed)
	assert.EqualValues(t, 50, line.Totals.Events)
	assert.EqualValues(t, 500, line.Totals.Bytes)
	assert.EqualValues(t, 10, line.Totals.ByOutcome["retry"])
}
