package fanout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
)

func TestNewOptions(t *testing.T) {
	src := &source{n: 1}
	for _, tc := range []struct {
		name       string
		open       OpenFunc
		consumers  int
		opts       func(*Options)
		wantErr    bool
		wantChunk  int
		wantWindow int
	}{
		{name: "defaults", open: src.open, consumers: 1, opts: func(*Options) {}, wantChunk: DefaultChunkRecords, wantWindow: DefaultWindow},
		{name: "set", open: src.open, consumers: 3, opts: small(7, 2), wantChunk: 7, wantWindow: 2},
		{name: "negative chunk", open: src.open, consumers: 1, opts: small(-1, 2), wantErr: true},
		{name: "negative window", open: src.open, consumers: 1, opts: small(1, -2), wantErr: true},
		{name: "no consumer", open: src.open, consumers: 0, opts: func(*Options) {}, wantErr: true},
		{name: "nil open", consumers: 1, opts: func(*Options) {}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(context.Background(), tc.open, tc.consumers, tc.opts)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.opts.ChunkRecords != tc.wantChunk || s.opts.Window != tc.wantWindow {
				t.Errorf("ChunkRecords, Window = %d, %d, want %d, %d", s.opts.ChunkRecords, s.opts.Window, tc.wantChunk, tc.wantWindow)
			}
		})
	}
}

func TestReaderTooMany(t *testing.T) {
	noLeak(t)
	src := &source{n: 10}
	s := newStream(t, context.Background(), src, 2)
	readers(t, s, 2)
	if _, err := s.Reader(context.Background(), nil); err == nil {
		t.Fatal("third Reader of two consumers: no error")
	}
}

func TestNothingOpenedBeforeReader(t *testing.T) {
	src := &source{n: 10}
	s := newStream(t, context.Background(), src, 3)
	if s.Opens() != 0 || src.opens.Load() != 0 {
		t.Fatalf("opened %d times before any Reader call", s.Opens())
	}
}

// Consumers reading concurrently, with a window holding the whole object
// so that no detach can happen whatever the scheduling, share one open
// and get every record in order.
func TestOneOpenConcurrent(t *testing.T) {
	noLeak(t)
	const n = 10_000
	src := &source{n: n}
	s := newStream(t, context.Background(), src, 3, small(64, n/64+1))
	rs := readers(t, s, 3)
	res := concurrently(rs, func(_ int, r deliver.RecordReader) result { return drain(r) })
	want := seq(n, nil)
	for i, res := range res {
		if res.err != nil || !slices.Equal(res.got, want) {
			t.Errorf("consumer %d: %d records, err %v; want the %d records in order", i, len(res.got), res.err, n)
		}
	}
	if s.Opens() != 1 || src.opens.Load() != 1 {
		t.Errorf("Opens() = %d, source opened %d times; want 1", s.Opens(), src.opens.Load())
	}
	eventually(t, "the shared reader closed", src.allClosed)
}

// With the default options, consumers that keep up with each other share
// one open however large the object.
func TestOneOpenDefaults(t *testing.T) {
	noLeak(t)
	const n = 100_000 // about 49 windows
	src := &source{n: n}
	s := newStream(t, context.Background(), src, 3)
	want := seq(n, nil)
	for i, res := range lockstep(readers(t, s, 3)...) {
		if res.err != nil || !slices.Equal(res.got, want) {
			t.Errorf("consumer %d: %d records, err %v; want the %d records in order", i, len(res.got), res.err, n)
		}
	}
	if s.Opens() != 1 {
		t.Errorf("Opens() = %d, want 1", s.Opens())
	}
	if got := s.alive(); got > DefaultWindow+1 {
		t.Errorf("%d chunks alive at once, want at most %d", got, DefaultWindow+1)
	}
	if got := s.buffers(); got > DefaultWindow+1 {
		t.Errorf("%d chunk buffers allocated, want at most %d", got, DefaultWindow+1)
	}
}

func TestAccept(t *testing.T) {
	noLeak(t)
	const n = 1000
	none := func(*deliver.Record) bool { return false }
	accepts := []func(*deliver.Record) bool{nil, onlyApp("a"), onlyApp("b"), none}
	src := &source{n: n}
	// A window holding the whole object: the consumer rejecting every
	// record reads it all in one Next call, far ahead of the others.
	s := newStream(t, context.Background(), src, len(accepts), small(16, n/16+1))
	var rs []deliver.RecordReader
	for _, accept := range accepts {
		r, err := s.Reader(context.Background(), accept)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rs = append(rs, r)
	}
	res := concurrently(rs, func(_ int, r deliver.RecordReader) result { return drain(r) })
	for i, res := range res {
		want := seq(n, accepts[i])
		if res.err != nil || !slices.Equal(res.got, want) {
			t.Errorf("consumer %d: %d records, err %v; want %d records", i, len(res.got), res.err, len(want))
		}
		st := rs[i].Stats()
		wantStats := deliver.DecodeStats{
			Lines:      2 * n,
			Records:    int64(len(want)),
			Empty:      n,
			Filtered:   int64(n - len(want)),
			InputBytes: 100 * n,
		}
		if st != wantStats {
			t.Errorf("consumer %d: Stats() = %+v, want %+v", i, st, wantStats)
		}
	}
	if s.Opens() != 1 {
		t.Errorf("Opens() = %d, want 1", s.Opens())
	}
}

// An attached consumer's stats are the shared reader's as of the last
// chunk it took, with its own counts.
func TestStatsAttached(t *testing.T) {
	noLeak(t)
	src := &source{n: 10}
	s := newStream(t, context.Background(), src, 2, small(4, 2))
	rs := readers(t, s, 2)
	if st := rs[0].Stats(); st != (deliver.DecodeStats{}) {
		t.Errorf("Stats() before Next = %+v, want zero", st)
	}
	read(t, rs[0], 1)
	want := deliver.DecodeStats{Lines: 8, Records: 1, Empty: 4, InputBytes: 400}
	if st := rs[0].Stats(); st != want {
		t.Errorf("Stats() after the first record = %+v, want %+v (the first chunk's)", st, want)
	}
	read(t, rs[0], 4)
	want = deliver.DecodeStats{Lines: 16, Records: 5, Empty: 8, InputBytes: 800}
	if st := rs[0].Stats(); st != want {
		t.Errorf("Stats() after 5 records = %+v, want %+v (the second chunk's)", st, want)
	}
	if st := rs[1].Stats(); st != (deliver.DecodeStats{}) {
		t.Errorf("other consumer's Stats() = %+v, want zero", st)
	}
}

// A consumer that stops reading (its destination hangs) is detached as
// soon as the others starve; they get every record, and it gets every
// record exactly once, in order, when it resumes: the rest of the chunk it
// held, then a private re-read past what it had been handed.
func TestHungConsumer(t *testing.T) {
	const (
		n      = 1000
		chunk  = 16
		window = 3
	)
	for _, tc := range []struct {
		name   string
		before int // records the hung consumer reads before hanging
	}{
		{"never reads", 0},
		{"mid chunk", 21},
		{"chunk boundary", 2 * chunk},
		{"one record", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeak(t)
			src := &source{n: n}
			s := newStream(t, context.Background(), src, 3, small(chunk, window))
			rs := readers(t, s, 3)
			hung, others := rs[0], rs[1:]
			first := read(t, hung, tc.before)

			for i, res := range lockstep(others...) {
				if res.err != nil || !slices.Equal(res.got, seq(n, nil)) {
					t.Errorf("consumer %d: %d records, err %v; want all %d", i+1, len(res.got), res.err, n)
				}
			}
			if got := s.state(rs...); got != "d-- pending=0" {
				t.Errorf("state after the others finished: %q, want the hung consumer detached", got)
			}
			if s.Opens() != 1 {
				t.Errorf("Opens() = %d before the hung consumer resumes, want 1", s.Opens())
			}

			res := drain(hung)
			got := append(first, res.got...)
			if res.err != nil || !slices.Equal(got, seq(n, nil)) {
				t.Errorf("hung consumer: %d records, err %v; want all %d exactly once in order", len(got), res.err, n)
			}
			if s.Opens() != 2 {
				t.Errorf("Opens() = %d, want 2 (one private re-read)", s.Opens())
			}
			want := deliver.DecodeStats{Lines: 2 * n, Records: n, Empty: n, InputBytes: 100 * n}
			if st := hung.Stats(); st != want {
				t.Errorf("hung consumer's Stats() = %+v, want %+v", st, want)
			}
			for _, r := range rs {
				r.Close()
			}
			eventually(t, "every source reader closed", src.allClosed)
		})
	}
}

// A consumer that never calls Reader while the others read (its
// destination waits for a concurrency slot) does not hold them back; when
// it comes after they finished it reads privately from the start, unless
// the whole object was still in the window.
func TestPendingConsumer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n         int
		wantOpens int
	}{
		{"object larger than the window", 1000, 2},
		{"object within the window", 40, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeak(t)
			src := &source{n: tc.n}
			s := newStream(t, context.Background(), src, 3, small(16, 3))
			rs := readers(t, s, 2)
			for i, res := range lockstep(rs...) {
				if res.err != nil || !slices.Equal(res.got, seq(tc.n, nil)) {
					t.Errorf("consumer %d: %d records, err %v; want all %d", i, len(res.got), res.err, tc.n)
				}
			}
			late := readers(t, s, 1)[0]
			if res := drain(late); res.err != nil || !slices.Equal(res.got, seq(tc.n, nil)) {
				t.Errorf("late consumer: %d records, err %v; want all %d", len(res.got), res.err, tc.n)
			}
			if s.Opens() != tc.wantOpens {
				t.Errorf("Opens() = %d, want %d", s.Opens(), tc.wantOpens)
			}
		})
	}
}

func TestCloseEarly(t *testing.T) {
	noLeak(t)
	const n = 1000
	src := &source{n: n}
	s := newStream(t, context.Background(), src, 3, small(16, 2))
	rs := readers(t, s, 3)
	steps(t, 100, rs...)
	if err := rs[0].Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rs[0].Next(); err == nil || err == io.EOF {
		t.Errorf("Next after Close: %v, want an error", err)
	}
	if err := rs[0].Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for i, res := range lockstep(rs[1:]...) {
		if res.err != nil || !slices.Equal(res.got, seq(n, nil)[100:]) {
			t.Errorf("consumer %d: %d more records, err %v; want the other %d", i+1, len(res.got), res.err, n-100)
		}
	}
	if s.Opens() != 1 {
		t.Errorf("Opens() = %d, want 1: a closed consumer is not detached", s.Opens())
	}
}

// When every consumer is gone, the producer stops and closes the shared
// reader wherever it was: waiting for room, blocked in a read, or holding
// the window for a pending consumer.
func TestAllClose(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     *source
		readers int // of 3 consumers
	}{
		{"producer waits for room", &source{n: 1_000_000}, 3},
		{"producer blocked in Next", &source{n: 1_000_000, block: true, blockAt: 10}, 3},
		{"pending consumer remains", &source{n: 1_000_000}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeak(t)
			s := newStream(t, context.Background(), tc.src, 3, small(4, 2))
			rs := readers(t, s, tc.readers)
			for _, r := range rs {
				read(t, r, 5)
			}
			for _, r := range rs {
				r.Close()
			}
			eventually(t, "the shared reader closed", func() bool { return tc.src.closes.Load() == 1 })
			s.mu.Lock()
			chunks := len(s.chunks)
			s.mu.Unlock()
			if chunks != 0 {
				t.Errorf("%d chunks still held with no consumer left", chunks)
			}
		})
	}
}

var errBoom = errors.New("boom")

// An error of the shared stream reaches every consumer after the records
// before it, with its class, including a consumer that comes after the
// stream ended (through the log, or its own read when it was detached).
func TestSharedError(t *testing.T) {
	for _, tc := range []struct {
		name          string
		failAt        int
		err           error
		wantPermanent bool
	}{
		{"permanent mid chunk", 50, fault.Permanent(errBoom), true},
		{"retryable mid chunk", 50, errBoom, false},
		{"permanent at chunk boundary", 48, fault.Permanent(errBoom), true},
		{"first record", 0, fault.Permanent(errBoom), true},
		{"past the window", 500, fault.Permanent(errBoom), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeak(t)
			src := &source{n: 1000, failAt: tc.failAt, failErr: tc.err}
			s := newStream(t, context.Background(), src, 4, small(16, 3))
			rs := readers(t, s, 3)
			check := func(who string, res result) {
				t.Helper()
				if !slices.Equal(res.got, seq(tc.failAt, nil)) {
					t.Errorf("%s: %d records, want the %d before the error", who, len(res.got), tc.failAt)
				}
				if !errors.Is(res.err, errBoom) || fault.IsPermanent(res.err) != tc.wantPermanent {
					t.Errorf("%s: error %v (permanent %t), want %v (permanent %t)", who, res.err, fault.IsPermanent(res.err), errBoom, tc.wantPermanent)
				}
			}
			for i, res := range lockstep(rs...) {
				check(fmt.Sprintf("consumer %d", i), res)
			}
			check("late consumer", drain(readers(t, s, 1)[0]))
		})
	}
}

// A failed open reaches the consumers attached at the time, with its
// class; a consumer created afterwards opens the object for itself.
func TestOpenError(t *testing.T) {
	noLeak(t)
	const n = 100
	src := &source{n: n, openErr: func(call int) error {
		if call == 1 {
			return fault.Permanent(errBoom)
		}
		return nil
	}}
	// The shared open waits for the three readers to be attached.
	gate := make(chan struct{})
	open := func(ctx context.Context) (deliver.RecordReader, error) {
		if src.opens.Load() == 0 {
			<-gate
		}
		return src.open(ctx)
	}
	s, err := New(context.Background(), open, 4)
	if err != nil {
		t.Fatal(err)
	}
	rs := readers(t, s, 3)
	close(gate)
	for i, res := range lockstep(rs...) {
		if len(res.got) != 0 || !errors.Is(res.err, errBoom) || !fault.IsPermanent(res.err) {
			t.Errorf("consumer %d: %d records, error %v; want the permanent open error", i, len(res.got), res.err)
		}
	}
	if res := drain(readers(t, s, 1)[0]); res.err != nil || !slices.Equal(res.got, seq(n, nil)) {
		t.Errorf("late consumer: %d records, err %v; want all %d from its own open", len(res.got), res.err, n)
	}
	if s.Opens() != 2 {
		t.Errorf("Opens() = %d, want 2", s.Opens())
	}
}

// One consumer's context ending stops it with a retryable error and lets
// the others go on, without detaching anybody.
func TestConsumerContext(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before int // records read before the cancel
	}{
		{"while reading", 37},
		{"before reading", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeak(t)
			const n = 1000
			src := &source{n: n}
			s := newStream(t, context.Background(), src, 3, small(16, 2))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r, err := s.Reader(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			others := readers(t, s, 2)
			steps(t, tc.before, append(others, r)...)
			cancel()
			// The consumer leaves even though it does not call Next.
			eventually(t, "the cancelled consumer to leave", func() bool { return s.state(r) == "- pending=0" })

			for i, res := range lockstep(others...) {
				if res.err != nil || !slices.Equal(res.got, seq(n, nil)[tc.before:]) {
					t.Errorf("consumer %d: %d more records, err %v; want the other %d", i+1, len(res.got), res.err, n-tc.before)
				}
			}
			_, err = r.Next()
			if !errors.Is(err, context.Canceled) || !fault.IsRetryable(err) {
				t.Errorf("cancelled consumer's Next: %v, want a retryable error wrapping context.Canceled", err)
			}
			if s.Opens() != 1 {
				t.Errorf("Opens() = %d, want 1", s.Opens())
			}
		})
	}
}

// A consumer's context ending while it waits in Next for a chunk returns
// at once.
func TestConsumerContextWhileWaiting(t *testing.T) {
	noLeak(t)
	src := &source{n: 100, block: true, blockAt: 10}
	s := newStream(t, context.Background(), src, 2, small(4, 2))
	ctx, cancel := context.WithCancel(context.Background())
	r, err := s.Reader(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	other := readers(t, s, 1)[0]
	read(t, r, 8)
	errc := make(chan error, 1)
	go func() {
		_, err := r.Next() // waits: the source blocks at record 8
		errc <- err
	}()
	eventually(t, "the consumer to wait", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return r.(*reader).waiting
	})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || !fault.IsRetryable(err) {
		t.Errorf("Next: %v, want a retryable error wrapping context.Canceled", err)
	}
	if got := read(t, other, 8); !slices.Equal(got, seq(8, nil)) {
		t.Errorf("other consumer got %v", got)
	}
	other.Close()
	eventually(t, "the shared reader closed", src.allClosed)
}

// The producer's context ending stops every consumer with a retryable
// error, whether it waits for a chunk or not.
func TestProducerContext(t *testing.T) {
	noLeak(t)
	src := &source{n: 100, block: true, blockAt: 10}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newStream(t, ctx, src, 3, small(4, 2))
	rs := readers(t, s, 3)
	for _, r := range rs {
		read(t, r, 8)
	}
	res := concurrently(rs, func(i int, r deliver.RecordReader) result {
		if i == 0 {
			cancel()
		}
		return drain(r)
	})
	for i, res := range res {
		if !errors.Is(res.err, context.Canceled) || !fault.IsRetryable(res.err) {
			t.Errorf("consumer %d: %v, want a retryable error wrapping context.Canceled", i, res.err)
		}
	}
	for _, r := range rs {
		r.Close()
	}
	eventually(t, "the shared reader closed", src.allClosed)
}

// At most Window+1 chunks are alive at once, whatever the size of the
// object, with a slow consumer among fast ones.
func TestWindowBound(t *testing.T) {
	// 2 million records, or 300,000 under the race detector (which makes
	// each record about twenty times as costly) and in short mode.
	n := 2_000_000
	if raceEnabled || testing.Short() {
		n = 300_000
	}
	for _, tc := range []struct {
		name          string
		chunk, window int
	}{
		{"defaults", 0, 0},
		{"small", 16, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeak(t)
			src := &source{n: n}
			s := newStream(t, context.Background(), src, 3, small(tc.chunk, tc.window))
			rs := readers(t, s, 3)
			counts := make([]int, len(rs))
			res := concurrently(rs, func(i int, r deliver.RecordReader) result {
				for {
					rec, err := r.Next()
					if err == io.EOF {
						return result{}
					}
					if err != nil {
						return result{err: err}
					}
					if got := index(rec); got != counts[i] {
						return result{err: fmt.Errorf("record %d after %d records", got, counts[i])}
					}
					counts[i]++
					if i == 0 && counts[i]%s.opts.ChunkRecords == 0 && counts[i] < 200*s.opts.ChunkRecords {
						time.Sleep(50 * time.Microsecond) // the slow consumer
					}
				}
			})
			for i, res := range res {
				if res.err != nil || counts[i] != n {
					t.Errorf("consumer %d: %d records, err %v; want %d in order", i, counts[i], res.err, n)
				}
			}
			if got, limit := s.alive(), s.opts.Window+1; got > limit {
				t.Errorf("%d chunks alive at once, want at most Window+1 = %d", got, limit)
			}
			// Each detached consumer may hold one chunk more, the one it
			// was iterating when detached.
			if got, limit := s.buffers(), s.opts.Window+1+len(rs); got > limit {
				t.Errorf("%d chunk buffers allocated, want at most Window+1+consumers = %d", got, limit)
			}
			t.Logf("opens %d, most chunks alive %d, buffers %d", s.Opens(), s.alive(), s.buffers())
		})
	}
}

// The same as TestHungConsumer with every consumer on its own goroutine:
// the hung one blocks until the others are done, which they must get to
// without it.
func TestHungConsumerConcurrent(t *testing.T) {
	noLeak(t)
	const n = 20_000
	src := &source{n: n}
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	s := newStream(t, context.Background(), src, 3, small(16, 3), func(o *Options) { o.Logger = logger })
	rs := readers(t, s, 3)
	othersDone := make(chan struct{})
	var others sync.WaitGroup
	others.Add(2)
	go func() {
		others.Wait()
		close(othersDone)
	}()
	res := concurrently(rs, func(i int, r deliver.RecordReader) result {
		if i > 0 {
			defer others.Done()
			return drain(r)
		}
		var first []int
		for range 100 {
			rec, err := r.Next()
			if err != nil {
				return result{got: first, err: err}
			}
			first = append(first, index(rec))
		}
		<-othersDone
		res := drain(r)
		res.got = append(first, res.got...)
		return res
	})
	for i, res := range res {
		if res.err != nil || !slices.Equal(res.got, seq(n, nil)) {
			t.Errorf("consumer %d: %d records, err %v; want all %d exactly once in order", i, len(res.got), res.err, n)
		}
	}
	// The hung consumer re-read the object; the others may have, if one
	// fell a window behind the other while they competed for the CPUs.
	if got := s.Opens(); got < 2 || got > 3 {
		t.Errorf("Opens() = %d, want 2 or 3", got)
	}
	if !strings.Contains(logs.String(), "slow consumer detached") {
		t.Errorf("no detach logged:\n%s", logs.String())
	}
}

// A detached consumer's private stream fails only for it.
func TestPrivateErrors(t *testing.T) {
	const n = 1000
	for _, tc := range []struct {
		name          string
		open          func(src *source) OpenFunc
		wantPermanent bool
	}{
		{
			name: "private open fails",
			open: func(src *source) OpenFunc {
				return func(ctx context.Context) (deliver.RecordReader, error) {
					if src.opens.Load() > 0 {
						src.opens.Add(1)
						return nil, fault.Permanent(errBoom)
					}
					return src.open(ctx)
				}
			},
			wantPermanent: true,
		},
		{
			name: "object shorter on the re-read",
			open: func(src *source) OpenFunc {
				return func(ctx context.Context) (deliver.RecordReader, error) {
					r, err := src.open(ctx)
					if src.opens.Load() > 1 {
						r.(*sourceReader).i = n - 10 // only 10 records left
					}
					return r, err
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeak(t)
			src := &source{n: n}
			s, err := New(context.Background(), tc.open(src), 3, small(16, 2))
			if err != nil {
				t.Fatal(err)
			}
			rs := readers(t, s, 3)
			first := read(t, rs[0], 20)
			for i, res := range lockstep(rs[1:]...) {
				if res.err != nil || !slices.Equal(res.got, seq(n, nil)) {
					t.Errorf("consumer %d: %d records, err %v; want all %d", i+1, len(res.got), res.err, n)
				}
			}
			res := drain(rs[0])
			// The rest of the chunk it held, then the failure.
			if got := append(first, res.got...); !slices.Equal(got, seq(32, nil)) {
				t.Errorf("detached consumer: %d records, want the 32 of the chunks it took", len(got))
			}
			if res.err == nil || fault.IsPermanent(res.err) != tc.wantPermanent || tc.wantPermanent && !errors.Is(res.err, errBoom) {
				t.Errorf("detached consumer: error %v, want one (permanent %t)", res.err, tc.wantPermanent)
			}
			for _, r := range rs {
				r.Close()
			}
			eventually(t, "every source reader closed", src.allClosed)
		})
	}
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
