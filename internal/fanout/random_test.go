package fanout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
)

// plan is what one consumer of a randomized test does.
type plan struct {
	accept   func(*deliver.Record) bool
	late     bool // calls Reader only after the others finished
	pauseAt  int  // stops after this many records until the others finished; -1 never
	closeAt  int  // closes after this many records; -1 never
	cancelAt int  // cancels its context after this many records; -1 never
	every    int  // yields every that many records
	sleep    bool // sleeps instead of yielding
}

func (p plan) String() string {
	return fmt.Sprintf("{filter:%t late:%t pause:%d close:%d cancel:%d every:%d sleep:%t}",
		p.accept != nil, p.late, p.pauseAt, p.closeAt, p.cancelAt, p.every, p.sleep)
}

// TestRandomized runs consumers of random speeds, filters, pauses, close
// and cancel points over objects of random sizes, failing or not, with
// random chunk sizes and windows. Whatever happened to the others, every
// consumer reading to the end gets exactly the records (and the error) of
// the object, in order; the others get a prefix of them; nothing is left
// open or running.
func TestRandomized(t *testing.T) {
	seeds := 300
	if raceEnabled || testing.Short() {
		seeds = 100
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomized(t, seed) })
	}
}

func randomized(t *testing.T, seed uint64) {
	noLeak(t)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	n := rng.IntN(3000)
	src := &source{n: n}
	end := n // records before the end of the stream
	if rng.IntN(4) == 0 {
		end = rng.IntN(n + 1)
		src.failAt, src.failErr = end, fault.Permanent(errBoom)
	}
	chunk, window := 1+rng.IntN(20), 1+rng.IntN(5)
	plans := make([]plan, 1+rng.IntN(5))
	for i := range plans {
		p := plan{pauseAt: -1, closeAt: -1, cancelAt: -1, every: 1 + rng.IntN(100)}
		if rng.IntN(3) == 0 {
			p.accept = onlyApp(apps[rng.IntN(len(apps))])
		}
		switch rng.IntN(8) {
		case 0:
			p.late = true
		case 1:
			p.pauseAt = rng.IntN(end + 1)
		case 2:
			p.closeAt = rng.IntN(end + 1)
		case 3:
			p.cancelAt = rng.IntN(end + 1)
		}
		p.sleep = rng.IntN(8) == 0
		if p.sleep {
			p.every = 200 + rng.IntN(400)
		}
		plans[i] = p
	}
	t.Logf("n=%d end=%d failing=%t chunk=%d window=%d plans=%v", n, end, src.failErr != nil, chunk, window, plans)

	s := newStream(t, context.Background(), src, len(plans), small(chunk, window))
	rs := make([]deliver.RecordReader, len(plans))
	cancels := make([]context.CancelFunc, len(plans))
	create := func(i int) {
		ctx, cancel := context.WithCancel(context.Background())
		r, err := s.Reader(ctx, plans[i].accept)
		if err != nil {
			t.Error(err)
			cancel()
			return
		}
		rs[i], cancels[i] = r, cancel
	}
	for i, p := range plans {
		if !p.late {
			create(i)
		}
	}

	others := make(chan struct{}) // closed when the consumers neither late nor paused are done
	var active, all sync.WaitGroup
	res := make([]result, len(plans))
	for i, p := range plans {
		if !p.late && p.pauseAt < 0 {
			active.Add(1)
		}
		all.Go(func() {
			if p.late {
				<-others
				create(i)
			}
			if rs[i] == nil {
				return
			}
			defer cancels[i]()
			defer rs[i].Close()
			res[i] = consume(rs[i], p, cancels[i], others, func() {
				if !p.late && p.pauseAt < 0 {
					active.Done()
				}
			})
		})
	}
	go func() {
		active.Wait()
		close(others)
	}()
	wait(t, &all)

	full := seq(end, nil)
	for i, p := range plans {
		want := seq(end, p.accept)
		got := res[i]
		switch {
		case rs[i] == nil:
		case p.cancelAt >= 0 && p.cancelAt <= len(want):
			if !slices.Equal(got.got, want[:p.cancelAt]) || !errors.Is(got.err, context.Canceled) || !fault.IsRetryable(got.err) {
				t.Errorf("consumer %d %v: %d records, err %v; want %d then a retryable cancel", i, p, len(got.got), got.err, p.cancelAt)
			}
		case p.closeAt >= 0 && p.closeAt <= len(want):
			if !slices.Equal(got.got, want[:p.closeAt]) || got.err != nil {
				t.Errorf("consumer %d %v: %d records, err %v; want the first %d", i, p, len(got.got), got.err, p.closeAt)
			}
		default:
			if !slices.Equal(got.got, want) {
				t.Errorf("consumer %d %v: %d records, want %d: %v", i, p, len(got.got), len(want), got.got)
			}
			if src.failErr == nil && got.err != nil || src.failErr != nil && !errors.Is(got.err, errBoom) {
				t.Errorf("consumer %d %v: error %v, want %v", i, p, got.err, src.failErr)
			}
			st := rs[i].Stats()
			if st.Records != int64(len(want)) || st.Filtered != int64(len(full)-len(want)) {
				t.Errorf("consumer %d %v: Stats() Records, Filtered = %d, %d; want %d, %d", i, p, st.Records, st.Filtered, len(want), len(full)-len(want))
			}
		}
	}
	t.Logf("opens %d", s.Opens())
	if max := len(plans) + 1; s.Opens() > max {
		t.Errorf("Opens() = %d, want at most %d", s.Opens(), max)
	}
	if got := s.alive(); got > window+1 {
		t.Errorf("%d chunks alive at once, want at most %d", got, window+1)
	}
	if got, limit := s.buffers(), window+1+len(plans); got > limit {
		t.Errorf("%d chunk buffers allocated, want at most %d", got, limit)
	}
	eventually(t, "every source reader closed", src.allClosed)
}

// consume reads r following p until its stream ends, or p closes or
// cancels it; done is called once when it stops or pauses.
func consume(r deliver.RecordReader, p plan, cancel context.CancelFunc, others <-chan struct{}, done func()) result {
	res := result{got: []int{}}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			done()
		}
	}
	defer stop()
	for {
		switch len(res.got) {
		case p.pauseAt:
			stop()
			<-others
		case p.closeAt:
			r.Close()
			return res
		case p.cancelAt:
			cancel()
		}
		rec, err := r.Next()
		if err != nil {
			if err != io.EOF {
				res.err = err
			}
			return res
		}
		res.got = append(res.got, index(rec))
		if len(res.got)%p.every == 0 {
			if p.sleep {
				time.Sleep(time.Millisecond)
			} else {
				runtime.Gosched()
			}
		}
	}
}

// wait waits for wg, failing the test with every goroutine's stack after a
// deadline.
func wait(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("consumers still running after a minute:\n%s", buf[:runtime.Stack(buf, true)])
	}
}
