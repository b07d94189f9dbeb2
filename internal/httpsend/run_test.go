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
