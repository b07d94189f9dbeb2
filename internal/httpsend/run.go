package httpsend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
)

// Encoder appends the item of rec to dst and returns it.
type Encoder func(dst []byte, rec *deliver.Record) []byte

// Sent is what a destination did with one batch.
type Sent struct {
	Events   int64 // items accepted
	Bytes    int64 // payload bytes of the items accepted
	Rejected int64 // items refused one by one, never to be sent again
	Calls    int   // requests made, retries included
}

// SendFunc sends one batch. With an error, Sent says what the destination
// accepted or rejected before it; the batch's other items count as not
// delivered.
type SendFunc func(ctx context.Context, b *Batch) (Sent, error)

// Plan is how Run delivers a stream of records.
type Plan struct {
	Framing Framing  // how items make a body
	Limits  Limits   // the bounds of each body
	Encode  Encoder  // the item of a record
	Send    SendFunc // sends each full batch, and the last
	// Resume is where an earlier attempt stopped: its records are
	// skipped and counted as Receipt.Resumed; batch numbers go on from
	// its. Progress, when set, saves the checkpoint after each batch the
	// destination answered for good; a failed save stops the Run,
	// retryably. Checkpoints sets both from a Delivery.
	Resume   Checkpoint
	Progress func(ctx context.Context, cp Checkpoint) error
}

// Checkpoint is how far a delivery got: the records behind the last batch
// the destination answered for good, in the delivery's deterministic
// record order, and how many batches were sent. Batches are sent one at a
// time, so one position covers the whole delivery.
type Checkpoint struct {
	Records int64 `json:"records"`
	Batches int   `json:"batches"`
}

// Checkpoints returns the Resume and Progress of a Plan for d: the
// checkpoint d resumes from (none when it has none, or one that cannot be
// read: the delivery then starts over, which duplicates and never loses),
// and the writer of d's checkpoints (nil without a ledger).
func Checkpoints(d *deliver.Delivery) (Checkpoint, func(context.Context, Checkpoint) error) {
	var cp Checkpoint
	if len(d.Checkpoint) > 0 {
		if json.Unmarshal(d.Checkpoint, &cp) != nil || cp.Records < 0 || cp.Batches < 0 {
			cp = Checkpoint{}
		}
	}
	if d.Progress == nil {
		return cp, nil
	}
	save := d.Progress
	return cp, func(ctx context.Context, c Checkpoint) error {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		return save(ctx, b)
	}
}

// Result is the outcome of Run.
type Result struct {
	// Receipt counts Events, Bytes, Rejected, Dropped (records whose item
	// alone is over Limits.MaxBytes), Calls and Undecoded; the caller sets
	// Location.
	Receipt deliver.Receipt
	// NotDelivered counts the records read and not accepted: those of the
	// failed batch and of batches abandoned after it.
	NotDelivered int64
	// SendErr is the first failure of a batch, or the context's error when
	// it ended while records were read; no batch is sent after it.
	SendErr error
	// ReadErr is the record stream's failure, when it ended with one: the
	// records read before it were sent.
	ReadErr error
}

// ctxCheckEvery is how many records are read between checks of the
// context: a stream that goes on after its context ended is not read to
// its end.
const ctxCheckEvery = 256

// Run reads rr to its end, packs the items p.Encode makes of its records
// into batches within p.Limits, and sends them with p.Send in order, one
// at a time, while the next batch is built: at most two batches are held
// at once. It stops at the first failure of a batch.
func Run(ctx context.Context, rr deliver.RecordReader, p Plan) Result {
	r := &runner{ctx: ctx, send: p.Send, progress: p.Progress, stop: make(chan struct{})}
	free := make(chan *Batch, 2)
	free <- NewBatch(p.Framing, p.Limits)
	free <- NewBatch(p.Framing, p.Limits)
	full := make(chan *Batch)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range full {
			r.sendBatch(b)
			b.Reset()
			free <- b
		}
	}()

	var (
		res     Result
		scratch []byte
		seq     = p.Resume.Batches
		pos     int64 // records read
	)
	cur := <-free
	handoff := func() bool {
		b := cur
		cur = nil
		b.Seq = seq
		seq++
		select {
		case full <- b:
			return true
		case <-r.stop:
			r.abandon(b.Len())
			return false
		}
	}
read:
	for n := 0; ; n++ {
		if n%ctxCheckEvery == 0 && ctx.Err() != nil {
			r.fail(ctx.Err(), cur.Len())
			cur.Reset()
			break
		}
		select {
		case <-r.stop:
			break read
		default:
		}
		rec, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			res.ReadErr = err
			break
		}
		if pos++; pos <= p.Resume.Records {
			res.Receipt.Resumed++
			deliver.SkipRecord(rr)
			continue
		}
		scratch = p.Encode(scratch[:0], &rec)
		if cur.Oversized(len(scratch)) {
			res.Receipt.Dropped++
			continue
		}
		if cur.Add(scratch, int64(len(rec.Message))) {
			cur.End = pos
			continue
		}
		if !handoff() {
			break
		}
		cur = <-free
		cur.Add(scratch, int64(len(rec.Message)))
		cur.End = pos
	}
	if cur != nil && cur.Len() > 0 {
		handoff()
	}
	close(full)
	<-done

	r.mu.Lock()
	defer r.mu.Unlock()
	res.Receipt.Events = r.sent.Events
	res.Receipt.Bytes = r.sent.Bytes
	res.Receipt.Rejected = r.sent.Rejected
	res.Receipt.Calls = r.sent.Calls
	res.Receipt.Undecoded = rr.Stats().Undecoded()
	res.NotDelivered = r.notDelivered
	res.SendErr = r.err
	return res
}

// runner is the sending side of one Run.
type runner struct {
	ctx      context.Context
	send     SendFunc
	progress func(context.Context, Checkpoint) error
	stop     chan struct{} // closed at the first failure
	once     sync.Once

	mu           sync.Mutex
	sent         Sent
	notDelivered int64
	err          error
}

func (r *runner) failed() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// fail records the first failure and counts n records not delivered.
func (r *runner) fail(err error, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
		r.once.Do(func() { close(r.stop) })
	}
	r.notDelivered += int64(n)
}

func (r *runner) abandon(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notDelivered += int64(n)
}

func (r *runner) sendBatch(b *Batch) {
	if r.failed() {
		r.abandon(b.Len())
		return
	}
	s, err := r.send(r.ctx, b)
	r.mu.Lock()
	r.sent.Events += s.Events
	r.sent.Bytes += s.Bytes
	r.sent.Rejected += s.Rejected
	r.sent.Calls += s.Calls
	r.mu.Unlock()
	if err != nil {
		r.fail(err, b.Len()-int(s.Events+s.Rejected))
		return
	}
	if r.progress != nil {
		if err := r.progress(r.ctx, Checkpoint{Records: b.End, Batches: b.Seq + 1}); err != nil {
			r.fail(fault.Retryable(fmt.Errorf("saving the delivery's checkpoint: %w", err)), 0)
		}
	}
}
