package awsdispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/smithy-go/logging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type ctxKey struct{}

// ctxHandler records the context value each record was logged with.
type ctxHandler struct {
	slog.Handler
	seen *[]any
}

func (h ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	*h.seen = append(*h.seen, ctx.Value(ctxKey{}))
	return h.Handler.Handle(ctx, r)
}

func TestSDKLogger(t *testing.T) {
	var buf bytes.Buffer
	var seen []any
	l := slog.New(ctxHandler{slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}), &seen})
	sdk := SDKLogger(l)
	sdk.Logf(logging.Warn, "retrying request %s, attempt %d", "PutLogEvents", 2)
	sdk.Logf(logging.Debug, "Response has no supported checksum. Not validating response payload.")
	logging.WithContext(context.WithValue(context.Background(), ctxKey{}, "req-1"), sdk).Logf("", "plain")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2, "debug is below the handler's level: %s", buf.String())
	var first, second map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &second))
	assert.Equal(t, "WARN", first["level"])
	assert.Equal(t, "retrying request PutLogEvents, attempt 2", first["msg"])
	assert.Equal(t, "aws-sdk", first["component"])
	assert.Equal(t, "INFO", second["level"], "an unclassified line is info")
	assert.Equal(t, []any{nil, "req-1"}, seen, "the request's context reaches the handler")

	SDKLogger(nil).Logf(logging.Warn, "discarded") // nil discards, without panicking
}
