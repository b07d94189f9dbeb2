package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver/webhook/webhooktest"
)

// A delivery resumed from a checkpoint sends only the rest; a batch the
// receiver took whose checkpoint was lost (a crash between the two) is
// sent again with the same Idempotency-Key, so a receiver that drops
// repeated keys gets every event exactly once.
func TestResumedBatchesKeepTheirIdempotencyKeys(t *testing.T) {
	rcv := webhooktest.NewReceiver(webhooktest.Options{})
	defer rcv.Close()
	dv := newDeliverer(t, rcv)
	settings := map[string]any{"url": rcv.URL + "/logs"}
	recs := records(250) // three batches of at most 100 events

	var saved [][]byte
	first := delivery(recs, settings)
	first.Progress = func(_ context.Context, cp []byte) error { saved = append(saved, cp); return nil }
	_, err := dv.Deliver(context.Background(), first)
	require.NoError(t, err)
	require.Len(t, saved, 3, "one checkpoint per batch")
	var cp struct{ Records, Batches int }
	require.NoError(t, json.Unmarshal(saved[0], &cp))
	assert.Equal(t, 1, cp.Batches)

	// As if the process died after the second batch was taken and before
	// its checkpoint was written: the retry resumes from the first.
	again := delivery(recs, settings)
	again.Checkpoint = saved[0]
	rcpt, err := dv.Deliver(context.Background(), again)
	require.NoError(t, err)
	assert.Equal(t, int64(cp.Records), rcpt.Resumed)
	assert.Equal(t, 250, rcv.Count(), "every event once: the re-sent batches were recognised")
	var keys []string
	dups := 0
	for _, r := range rcv.Requests() {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		if r.Duplicate {
			dups++
		}
	}
	assert.Equal(t, 2, dups, "batches 2 and 3 came again, under their keys")
	assert.Equal(t, keys[1], keys[3], fmt.Sprintf("batch 2's key both times: %v", keys))
	assert.Equal(t, keys[2], keys[4])
}
