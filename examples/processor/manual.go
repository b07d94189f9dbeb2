package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/logdelivery/logdelivery"
)

// runManual dispatches every JSON document read from in as an SQS message
// body, all together, prints one JSON line per result to out, and returns
// the exit code: 0 when nothing needs a retry, 1 when something does, 3
// when input could not be read (results of the documents before it are
// still printed).
func runManual(ctx context.Context, d dispatcher, in io.Reader, out io.Writer, logger *slog.Logger) int {
	var msgs []logdelivery.Message
	dec := json.NewDecoder(in)
	readErr := error(nil)
	for n := 1; ; n++ {
		var doc json.RawMessage
		if err := dec.Decode(&doc); err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = fmt.Errorf("stdin document %d: %w", n, err)
			}
			break
		}
		msgs = append(msgs, logdelivery.Message{ID: fmt.Sprintf("stdin-%d", n), Body: doc})
	}
	if readErr != nil {
		logger.Error("reading message bodies stopped; later documents are not processed", "error", readErr)
	}

	code := 0
	enc := json.NewEncoder(out)
	var totals logdelivery.Totals
	started := time.Now()
	for _, m := range d.DispatchMessages(ctx, msgs...) {
		m.LogFailures(ctx, logger)
		m.LogSummary(ctx, logger, time.Since(started))
		totals.Add(m)
		if m.Retry() {
			code = 1
		}
		if m.Err != nil {
			enc.Encode(map[string]any{"id": m.ID, "outcome": "failed", "error": m.Err.Error(), "retryable": false})
		}
		for _, r := range m.Results {
			enc.Encode(r)
		}
	}
	logger.Info("done", "totals", &totals)
	if readErr != nil && code == 0 {
		code = 3
	}
	return code
}
