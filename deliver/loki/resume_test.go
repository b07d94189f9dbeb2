package loki_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
	"github.com/logdelivery/logdelivery/fault"
)

// A delivery that stops after some pushes saves how many records were
// pushed; a retry from that checkpoint pushes only the rest: every entry
// once, in order.
func TestDeliverResumesFromItsCheckpoint(t *testing.T) {
	srv := newFake(t, lokitest.Options{})
	srv.SetHook(func(c lokitest.Call) *lokitest.Fault {
		if c.N == 3 {
			return &lokitest.Fault{Status: http.StatusForbidden, Body: "denied"}
		}
		return nil
	})
	dv := newDeliverer(t)
	cfg := config(srv.URL, map[string]any{"batch_entries": 10})
	recs := records(35, "r%d")

	var saved [][]byte
	first := delivery(t, dv, cfg, recs)
	first.Progress = func(_ context.Context, cp []byte) error { saved = append(saved, cp); return nil }
	_, err := dv.Deliver(context.Background(), first)
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err))
	require.Len(t, saved, 2, "one save per push Loki took")
	var cp struct{ Records int64 }
	require.NoError(t, json.Unmarshal(saved[1], &cp))
	assert.Equal(t, int64(20), cp.Records)
	assert.Equal(t, int64(20), srv.Count("acme"))

	srv.SetHook(nil)
	again := delivery(t, dv, cfg, recs)
	again.Checkpoint = saved[1]
	rcpt, err := dv.Deliver(context.Background(), again)
	require.NoError(t, err)
	assert.Equal(t, int64(20), rcpt.Resumed, "what the first attempt pushed is skipped")
	assert.Equal(t, int64(15), rcpt.Events)
	entries := srv.Entries("acme")
	require.Len(t, entries, 35, "every entry once")
	for i, e := range entries {
		assert.Equal(t, recs[i].Message, e.Line, "in order")
	}
}

// A checkpoint that cannot be saved stops the delivery, retryably: a retry
// resumes from what was saved rather than duplicating more. An unreadable
// checkpoint starts the delivery over.
func TestCheckpointFailures(t *testing.T) {
	srv := newFake(t, lokitest.Options{})
	dv := newDeliverer(t)
	cfg := config(srv.URL, map[string]any{"batch_entries": 10})
	d := delivery(t, dv, cfg, records(35, "r%d"))
	d.Progress = func(context.Context, []byte) error { return errors.New("ledger throttled") }
	_, err := dv.Deliver(context.Background(), d)
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err))
	assert.ErrorContains(t, err, "ledger throttled")
	assert.Equal(t, int64(10), srv.Count("acme"), "nothing pushed after the failed save")

	srv.Reset()
	d = delivery(t, dv, cfg, records(35, "r%d"))
	d.Checkpoint = []byte("{not json")
	rcpt, err := dv.Deliver(context.Background(), d)
	require.NoError(t, err)
	assert.Equal(t, int64(35), rcpt.Events)
	assert.Zero(t, rcpt.Resumed)
}
