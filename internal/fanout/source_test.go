package fanout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
)

// apps are the applications of synthetic records, in turn.
var apps = [...]string{"a", "b", "c"}

// sharedLabels is the Labels map of every synthetic record.
var sharedLabels = map[string]string{"app": "synthetic"}

// source is a synthetic, deterministic object of n records: record i has
// Time time.Unix(0, i) (its index, see index) and application apps[i%3].
// Each record counts two input lines, one of them an empty message.
type source struct {
	n int
	// failAt, when failErr is set, is the index at which Next returns
	// failErr instead of a record.
	failAt  int
	failErr error
	// blockAt, when block is set, is the index at which Next waits for its
	// context to be done, then fails with the context's error.
	blockAt int
	block   bool
	// openErr, when set, decides the error of each open call (1, 2, ...).
	openErr func(call int) error

	opens  atomic.Int64 // open calls
	opened atomic.Int64 // readers returned by open
	closes atomic.Int64 // Close calls of opened readers
}

func (src *source) open(ctx context.Context) (deliver.RecordReader, error) {
	call := src.opens.Add(1)
	if src.openErr != nil {
		if err := src.openErr(int(call)); err != nil {
			return nil, err
		}
	}
	src.opened.Add(1)
	return &sourceReader{src: src, ctx: ctx}, nil
}

// allClosed reports whether every reader opened has been closed.
func (src *source) allClosed() bool { return src.closes.Load() == src.opened.Load() }

type sourceReader struct {
	src    *source
	ctx    context.Context
	i      int
	stats  deliver.DecodeStats
	closed bool
}

func (r *sourceReader) Next() (deliver.Record, error) {
	switch {
	case r.closed:
		return deliver.Record{}, errors.New("source: Next after Close")
	case r.src.block && r.i == r.src.blockAt:
		<-r.ctx.Done()
		return deliver.Record{}, fmt.Errorf("source: %w", r.ctx.Err())
	case r.src.failErr != nil && r.i == r.src.failAt:
		return deliver.Record{}, r.src.failErr
	case r.i == r.src.n:
		return deliver.Record{}, io.EOF
	}
	rec := record(r.i)
	r.i++
	r.stats.Lines += 2
	r.stats.Empty++
	r.stats.Records++
	r.stats.InputBytes += 100
	return rec, nil
}

func (r *sourceReader) Stats() deliver.DecodeStats { return r.stats }

func (r *sourceReader) Close() error {
	if !r.closed {
		r.closed = true
		r.src.closes.Add(1)
	}
	return nil
}

// record returns synthetic record i.
func record(i int) deliver.Record {
	return deliver.Record{
		Time:        time.Unix(0, int64(i)),
		Message:     "synthetic log line",
		Application: apps[i%len(apps)],
		Labels:      sharedLabels,
	}
}

// index returns the index of a synthetic record.
func index(rec deliver.Record) int { return int(rec.Time.UnixNano()) }

// seq returns the indexes in [0, n) that accept keeps.
func seq(n int, accept func(*deliver.Record) bool) []int {
	out := []int{}
	for i := range n {
		rec := record(i)
		if accept == nil || accept(&rec) {
			out = append(out, i)
		}
	}
	return out
}

// onlyApp returns an accept function keeping the records of app.
func onlyApp(app string) func(*deliver.Record) bool {
	return func(rec *deliver.Record) bool { return rec.Application == app }
}

// result is what a consumer read.
type result struct {
	got []int // indexes of the records returned
	err error // the error that ended the stream, nil for io.EOF
}

// drain reads r until it returns an error.
func drain(r deliver.RecordReader) result {
	res := result{got: []int{}}
	for {
		rec, err := r.Next()
		if err != nil {
			if err != io.EOF {
				res.err = err
			}
			return res
		}
		res.got = append(res.got, index(rec))
	}
}

// read reads up to n records of r, failing the test on any error.
func read(t *testing.T, r deliver.RecordReader, n int) []int {
	t.Helper()
	got := []int{}
	for range n {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("Next after %d records: %v", len(got), err)
		}
		got = append(got, index(rec))
	}
	return got
}

// lockstep reads one record of each reader in turn until every reader has
// returned an error, from this goroutine only: the readers stay within one
// record of each other, so none of them can ever be detached for being
// behind another.
func lockstep(readers ...deliver.RecordReader) []result {
	res := make([]result, len(readers))
	ended := make([]bool, len(readers))
	for i := range res {
		res[i].got = []int{}
	}
	for left := len(readers); left > 0; {
		for i, r := range readers {
			if ended[i] {
				continue
			}
			rec, err := r.Next()
			if err != nil {
				if err != io.EOF {
					res[i].err = err
				}
				ended[i] = true
				left--
				continue
			}
			res[i].got = append(res[i].got, index(rec))
		}
	}
	return res
}

// steps reads n records of each reader in turn, one at a time, as
// lockstep does, failing the test on any error.
func steps(t *testing.T, n int, readers ...deliver.RecordReader) {
	t.Helper()
	for i := range n {
		for j, r := range readers {
			rec, err := r.Next()
			if err != nil {
				t.Fatalf("consumer %d: Next after %d records: %v", j, i, err)
			}
			if index(rec) != i {
				t.Fatalf("consumer %d: record %d after %d records", j, index(rec), i)
			}
		}
	}
}

// readers creates n readers of s with a background context and no filter,
// closed when the test ends.
func readers(t *testing.T, s *Stream, n int) []deliver.RecordReader {
	t.Helper()
	out := make([]deliver.RecordReader, n)
	for i := range out {
		r, err := s.Reader(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		out[i] = r
	}
	return out
}

// newStream returns a Stream of src for consumers readers.
func newStream(t *testing.T, ctx context.Context, src *source, consumers int, optFns ...func(*Options)) *Stream {
	t.Helper()
	s, err := New(ctx, src.open, consumers, optFns...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// small sets a small chunk size and window, and detaches at once.
func small(chunk, window int) func(*Options) {
	return func(o *Options) { o.ChunkRecords, o.Window, o.DetachAfter = chunk, window, time.Nanosecond }
}

// eventually polls cond until it holds, failing the test after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// noLeak fails the test if, after its cleanups, more goroutines run than
// when noLeak was called. Register it first, so that it runs last.
func noLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines running, %d before the test:\n%s", runtime.NumGoroutine(), before, buf)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// alive returns the most chunks s ever held at once in its log and being
// filled.
func (s *Stream) alive() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxAlive
}

// buffers returns the number of chunk buffers s allocated: the most chunks
// alive at once, including those held by detached consumers and those
// kept for reuse.
func (s *Stream) buffers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allocated
}

// state describes s's consumers, for assertions: "a" attached, "d"
// detached, "-" left, per created reader, then the pending count.
func (s *Stream) state(rs ...deliver.RecordReader) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, rr := range rs {
		r := rr.(*reader)
		switch {
		case r.attached:
			b.WriteByte('a')
		case r.detached:
			b.WriteByte('d')
		default:
			b.WriteByte('-')
		}
	}
	fmt.Fprintf(&b, " pending=%d", s.pending)
	return b.String()
}

// concurrently runs fn for each reader on its own goroutine and returns
// their results.
func concurrently(rs []deliver.RecordReader, fn func(i int, r deliver.RecordReader) result) []result {
	res := make([]result, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() { res[i] = fn(i, r) })
	}
	wg.Wait()
	return res
}
