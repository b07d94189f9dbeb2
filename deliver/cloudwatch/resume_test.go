package cloudwatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch/cloudwatchtest"
	"github.com/logdelivery/logdelivery/fault"
)

// A delivery that fails after its first batches saves how far each stream
// got; a retry from that checkpoint sends only the rest: every event once.
func TestDeliverResumesFromItsCheckpoint(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	f.SetHook(func(c cloudwatchtest.Call) *cloudwatchtest.Fault {
		if c.Op == "PutLogEvents" && c.N == 3 {
			return cloudwatchtest.AccessDenied()
		}
		return nil
	})
	d := newDeliverer(t, f)
	recs := records(35000, 0)

	var mu sync.Mutex
	var saved []byte
	var saves int
	first := delivery(recs)
	first.Progress = func(_ context.Context, cp []byte) error {
		mu.Lock()
		saved, saves = cp, saves+1
		mu.Unlock()
		return nil
	}
	_, err := d.Deliver(context.Background(), first)
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err))
	assert.Equal(t, 2, saves, "one save per accepted batch")
	var cp struct{ Streams map[string]int64 }
	require.NoError(t, json.Unmarshal(saved, &cp))
	assert.Equal(t, map[string]int64{stream: 20000}, cp.Streams, "two full batches of 10,000")
	assert.Equal(t, 20000, f.EventCount(group, stream))

	f.SetHook(nil)
	again := delivery(recs)
	again.Checkpoint = saved
	rcpt, err := d.Deliver(context.Background(), again)
	require.NoError(t, err)
	assert.Equal(t, int64(20000), rcpt.Resumed, "what the first attempt delivered is skipped")
	assert.Equal(t, int64(15000), rcpt.Events)
	assertStored(t, f, stream, recs) // every event exactly once, in order
}

// A checkpoint is per stream: streams that finished are skipped whole,
// a stream that stopped part way resumes there.
func TestDeliverResumesEachStream(t *testing.T) {
	f := newFake(t)
	f.CreateLogGroup(group)
	recs := make([]deliver.Record, 0, 3*12000)
	for p := range 3 {
		for i, r := range records(12000, 0) {
			r.Pod = fmt.Sprint("pod-", p)
			r.Message = fmt.Sprintf("pod %d line %d", p, i)
			recs = append(recs, r)
		}
	}
	d := newDeliverer(t, f)
	del := delivery(recs)
	del.Checkpoint = []byte(`{"streams":{"c1/api/pod-0":12000,"c1/api/pod-1":10000}}`)
	var last []byte
	del.Progress = func(_ context.Context, cp []byte) error { last = cp; return nil }
	rcpt, err := d.Deliver(context.Background(), del)
	require.NoError(t, err)
	assert.Equal(t, int64(22000), rcpt.Resumed)
	assert.Equal(t, int64(14000), rcpt.Events)
	assert.Zero(t, f.EventCount(group, "c1/api/pod-0"))
	assert.Equal(t, 2000, f.EventCount(group, "c1/api/pod-1"))
	assert.Equal(t, 12000, f.EventCount(group, "c1/api/pod-2"))
	assert.JSONEq(t, `{"streams":{"c1/api/pod-0":12000,"c1/api/pod-1":12000,"c1/api/pod-2":12000}}`, string(last))
}

// A checkpoint that cannot be saved stops the delivery retryably.
func TestDeliverStopsWhenItCannotSave(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	d := newDeliverer(t, f)
	del := delivery(records(30000, 0))
	del.Progress = func(context.Context, []byte) error { return fmt.Errorf("ledger unavailable") }
	rcpt, err := d.Deliver(context.Background(), del)
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err))
	assert.ErrorContains(t, err, "ledger unavailable")
	assert.Less(t, rcpt.Events, int64(30000), "no more batches after the failed save")
}
