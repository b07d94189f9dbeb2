package httpsend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
)

// records is a RecordReader of messages; it fails with err after them when
// err is set.
type records struct {
	msgs []string
	i    int
	err  error
}

func (r *records) Next() (deliver.Record, error) {
	if r.i >= len(r.msgs) {
		if r.err != nil {
			return deliver.Record{}, r.err
		}
		return deliver.Record{}, io.EOF
	}
	r.i++
	return deliver.Record{Time: time.Unix(int64(r.i), 0), Message: r.msgs[r.i-1]}, nil
}

func (r *records) Stats() deliver.DecodeStats {
	return deliver.DecodeStats{Records: int64(r.i), TooLong: 2}
}
func (r *records) Close() error { return nil }

func messages(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m%03d", i)
	}
	return out
}

// raw encodes a record as its message.
func raw(dst []byte, rec *deliver.Record) []byte { return append(dst, rec.Message...) }

// collector records the batches sent.
type collector struct {
	mu      sync.Mutex
	batches [][]string
	seqs    []int
	fail    func(seq int) (Sent, error)
}

func (c *collector) send(_ context.Context, b *Batch) (Sent, error) {
	items := make([]string, b.Len())
	var bytes int64
	for i := range items {
		items[i] = string(b.Item(i))
		bytes += b.Payload(i)
	}
	c.mu.Lock()
	c.batches = append(c.batches, items)
	c.seqs = append(c.seqs, b.Seq)
	c.mu.Unlock()
	if c.fail != nil {
		if s, err := c.fail(b.Seq); err != nil {
			return s, err
		}
	}
	return Sent{Events: int64(b.Len()), Bytes: bytes, Calls: 1}, nil
}

func TestRunBatchesInOrder(t *testing.T) {
	c := &collector{}
	rr := &records{msgs: messages(25)}
	res := Run(context.Background(), rr, Plan{Framing: NDJSON, Limits: Limits{MaxBytes: 1 << 20, MaxItems: 10}, Encode: raw, Send: c.send})
	require.NoError(t, res.SendErr)
	require.NoError(t, res.ReadErr)
	assert.Equal(t, deliver.Receipt{Events: 25, Bytes: 100, Calls: 3, Undecoded: 2}, res.Receipt)
	require.Len(t, c.batches, 3)
	assert.Equal(t, []int{0, 1, 2}, c.seqs)
	var all []string
	for _, b := range c.batches {
		all = append(all, b...)
	}
	assert.Equal(t, messages(25), all, "every record once, in order")
	assert.Len(t, c.batches[2], 5)
}

func TestRunBoundsBytes(t *testing.T) {
	c := &collector{}
	msgs := []string{strings.Repeat("a", 45), strings.Repeat("b", 45), strings.Repeat("c", 200), "d"}
	res := Run(context.Background(), &records{msgs: msgs}, Plan{Framing: JSONArray, Limits: Limits{MaxBytes: 90, MaxItems: 100}, Encode: raw, Send: c.send})
	require.NoError(t, res.SendErr)
	assert.Equal(t, int64(1), res.Receipt.Dropped, "an item over the limit alone is dropped")
	assert.Equal(t, int64(3), res.Receipt.Events)
	assert.Equal(t, [][]string{{msgs[0]}, {msgs[1], "d"}}, c.batches, "[a,b] would be 93 bytes")
}

func TestRunStopsAtTheFirstFailure(t *testing.T) {
	boom := errors.New("boom")
	c := &collector{fail: func(seq int) (Sent, error) {
		if seq == 1 {
			return Sent{Events: 3, Rejected: 1, Calls: 2}, boom
		}
		return Sent{}, nil
	}}
	res := Run(context.Background(), &records{msgs: messages(100)}, Plan{Framing: NDJSON, Limits: Limits{MaxBytes: 1 << 20, MaxItems: 10}, Encode: raw, Send: c.send})
	assert.ErrorIs(t, res.SendErr, boom)
	assert.Equal(t, int64(13), res.Receipt.Events, "the first batch and 3 of the second")
	assert.Equal(t, int64(1), res.Receipt.Rejected)
	assert.Equal(t, 3, res.Receipt.Calls)
	assert.LessOrEqual(t, len(c.batches), 2, "nothing is sent after the failure")
	// Of the 100 records, at most three batches were read: the failed
	// one's 6 not delivered and the batch built meanwhile.
	assert.GreaterOrEqual(t, res.NotDelivered, int64(6))
	assert.LessOrEqual(t, res.NotDelivered, int64(16))
}

func TestRunReadError(t *testing.T) {
	corrupt := errors.New("corrupt")
	c := &collector{}
	res := Run(context.Background(), &records{msgs: messages(15), err: corrupt}, Plan{Framing: NDJSON, Limits: Limits{MaxBytes: 1 << 20, MaxItems: 10}, Encode: raw, Send: c.send})
	assert.ErrorIs(t, res.ReadErr, corrupt)
	assert.NoError(t, res.SendErr)
	assert.Equal(t, int64(15), res.Receipt.Events, "what was read before the error is sent")
}

func TestRunContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := &collector{}
	res := Run(ctx, &records{msgs: messages(10)}, Plan{Framing: NDJSON, Limits: Limits{MaxBytes: 1 << 20, MaxItems: 10}, Encode: raw, Send: c.send})
	assert.ErrorIs(t, res.SendErr, context.Canceled)
	assert.Empty(t, c.batches)
	assert.Zero(t, res.Receipt.Events)
}

// Every batch answered for good saves a checkpoint; a Run resumed from one
// skips the records behind it and numbers its batches on from it.
func TestRunCheckpoints(t *testing.T) {
	c := &collector{fail: func(seq int) (Sent, error) {
		if seq == 2 {
			return Sent{Calls: 1}, errors.New("connection reset")
		}
		return Sent{}, nil
	}}
	var saved []Checkpoint
	limits := Limits{MaxBytes: 1 << 20, MaxItems: 10}
	res := Run(context.Background(), &records{msgs: messages(35)}, Plan{Framing: NDJSON, Limits: limits, Encode: raw, Send: c.send,
		Progress: func(_ context.Context, cp Checkpoint) error { saved = append(saved, cp); return nil }})
	require.Error(t, res.SendErr)
	assert.Equal(t, []Checkpoint{{Records: 10, Batches: 1}, {Records: 20, Batches: 2}}, saved, "one per batch taken, none for the failed one")

	again := &collector{}
	res = Run(context.Background(), &records{msgs: messages(35)}, Plan{Framing: NDJSON, Limits: limits, Encode: raw, Send: again.send,
		Resume: saved[len(saved)-1]})
	require.NoError(t, res.SendErr)
	assert.Equal(t, int64(20), res.Receipt.Resumed)
	assert.Equal(t, int64(15), res.Receipt.Events)
	assert.Equal(t, []int{2, 3}, again.seqs, "batch numbers go on from the checkpoint")
	assert.Equal(t, "m020", again.batches[0][0], "the first record after the checkpoint")

	// A checkpoint that cannot be saved stops the Run, retryably.
	failing := &collector{}
	res = Run(context.Background(), &records{msgs: messages(35)}, Plan{Framing: NDJSON, Limits: limits, Encode: raw, Send: failing.send,
		Progress: func(context.Context, Checkpoint) error { return errors.New("ledger throttled") }})
	require.Error(t, res.SendErr)
	assert.ErrorContains(t, res.SendErr, "ledger throttled")
	assert.True(t, fault.IsRetryable(res.SendErr))
	assert.Len(t, failing.batches, 1, "nothing sent after the failed save")
}

func TestCheckpointsOfADelivery(t *testing.T) {
	cp, save := Checkpoints(&deliver.Delivery{Checkpoint: []byte(`{"records":7,"batches":2}`)})
	assert.Equal(t, Checkpoint{Records: 7, Batches: 2}, cp)
	assert.Nil(t, save, "no ledger, no writer")
	for _, bad := range []string{`{"records":-1}`, `not json`, `{"batches":-3}`} {
		cp, _ := Checkpoints(&deliver.Delivery{Checkpoint: []byte(bad)})
		assert.Equal(t, Checkpoint{}, cp, "%s: the delivery starts over", bad)
	}
	var got []byte
	_, save = Checkpoints(&deliver.Delivery{Progress: func(_ context.Context, b []byte) error { got = b; return nil }})
	require.NoError(t, save(context.Background(), Checkpoint{Records: 3, Batches: 1}))
	assert.JSONEq(t, `{"records":3,"batches":1}`, string(got))
}
