// Package fanout decodes a log object once and feeds its records to every
// record destination of a tenant, each through its own reader, so that one
// GetObject and one decode serve N destinations instead of N of each. A
// destination that is slow, hung or failing never slows, blocks or fails
// the others, and memory is bounded whatever the size of the object.
//
// # Design
//
// A Stream is a broadcast log of chunks. One producer goroutine opens the
// object's record stream (lazily, on the first Reader call), reads records
// into chunks of Options.ChunkRecords records and appends the chunks to the
// log. A chunk is never modified while it is in the log or in use, and is
// shared read-only by every consumer (Labels maps included): a consumer
// takes a whole chunk under the Stream's lock and then returns its records
// one by one without locking. Each consumer has its own position in the
// log and its own filter (the accept function of Reader), so consumers see
// the same unfiltered sequence and keep what they want. Chunks that every
// consumer has moved past leave the log, and their buffers are reused for
// later chunks.
//
// The producer may run at most Options.Window chunks ahead of the slowest
// consumer that holds it back. Consumers that were announced to New but
// have not called Reader yet ("pending" consumers, for example a
// destination waiting for a concurrency slot) hold it back at position 0,
// so that in the normal case, where every destination asks for its reader
// within microseconds of the others, all of them are served by the one
// shared read.
//
// Memory is bounded whatever the size of the object: at most Window+1
// chunks are alive in the log at once (the Window chunks the slowest
// consumer has not taken yet plus the one it is iterating, or, while the
// producer fills a chunk, that chunk instead of the last of the Window).
// Beyond that, a detached consumer may still hold the chunk it was
// iterating when it was detached, and holds what its private reader
// needs. A Stream allocates at most Window+1 chunk buffers plus one per
// detached consumer.
//
// # Detaching
//
// When the window is full the producer waits. It waits as long as every
// consumer is busy with records it already has; as soon as one of them is
// starving (it has taken every chunk produced and is blocked in Next), the
// consumers at the slowest position, those holding the window, are
// detached: they stop holding the producer back and each continues on a
// private stream of its own, opened when it next needs a record and
// advanced past exactly the records the shared stream had already handed
// it. The decoder is deterministic, so a re-read of the same object yields
// the same records; positions count unfiltered records. A pending consumer
// that is detached reads privately from the start when it calls Reader.
// The same happens when nobody reads the shared stream any more but
// pending consumers remain: holding the shared read open for consumers that
// may never come would hold a goroutine, a connection and Window chunks.
//
// Detaching is triggered by starvation, not by time. A time limit would
// detach consumers that are merely slower than the limit while nobody is
// waiting for them (costing a re-read for nothing), or keep a fast consumer
// waiting for the limit to pass while a hung one holds the window; and it
// would need tuning against destination latencies the package cannot
// know. Starvation is exactly the moment a slow consumer starts costing the
// others: before it, waiting is free; from it, a re-read is cheaper than
// stalling everyone. A consumer far behind the others pays for its own
// slowness with one more open and decode of the object, and only it does.
// The window is what a consumer may fall behind before that can happen, so
// it should hold more records than a destination's normal pause (sending a
// batch) lets pile up.
//
// # Lifetime and errors
//
// A consumer that is closed, or whose context is done, leaves at once and
// never holds the producer back again. When no consumer holds the producer
// back any more (each has closed, finished, left or been detached, and no
// pending one remains), the producer stops, cancels the context it opened
// the object with and closes the shared reader. A terminal error of the
// shared stream reaches every consumer still reading it after the records
// before it, with its classification (see package fault); a private
// stream's errors reach only its consumer.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
)

// Defaults of Options.
const (
	// DefaultChunkRecords is the default number of records per shared
	// chunk. A consumer takes the Stream's lock and the producer wakes
	// waiting consumers once per chunk, so 256 records make that cost a few
	// nanoseconds per record, while a chunk of typical 1 KB records stays
	// around a quarter of a megabyte, which keeps the Window+1 chunks alive
	// per object at a few megabytes.
	DefaultChunkRecords = 256
	// DefaultWindow is the default number of chunks the producer may run
	// ahead of the slowest consumer: 16 chunks of 256 records, about four
	// times the records of a full CloudWatch Logs batch (1 MiB) of 1 KB
	// events, so that a destination pausing to send a batch is rarely
	// detached for it.
	DefaultWindow = 16
	// DefaultDetachAfter is how long a consumer starves with the window
	// full before the slowest consumers are detached by default: long
	// enough that a consumer merely descheduled for a moment, or pausing
	// for one HTTP round trip, catches up instead of costing a re-read of
	// the object; short enough that a hung destination delays the others
	// by a fraction of a second, once per object.
	DefaultDetachAfter = 200 * time.Millisecond
)

// OpenFunc opens the object's full, unfiltered record stream from its
// start. Every call must yield the same records in the same order (a
// deterministic decoder over the same object version). The returned
// reader should honour ctx in its blocking reads, so that a stopped
// producer or a cancelled consumer does not leave a read pending.
type OpenFunc func(ctx context.Context) (deliver.RecordReader, error)

// Options configure a Stream. Zero values select the defaults.
type Options struct {
	// ChunkRecords is the number of records per shared chunk. Default
	// DefaultChunkRecords.
	ChunkRecords int
	// Window is the number of chunks the producer may run ahead of the
	// slowest consumer still holding it back. Default DefaultWindow.
	Window int
	// DetachAfter is how long some attached consumer must have been
	// starving, with the window full, before the slowest consumers are
	// detached. Default DefaultDetachAfter.
	DetachAfter time.Duration
	// Logger receives an Info message for each detach and a Warn message
	// when closing the shared reader fails. Default: discard.
	Logger *slog.Logger
}

// errClosed is returned by Next after Close.
var errClosed = errors.New("fanout: reader closed")

// A chunk is a run of consecutive records of the shared stream. It is not
// modified while in the log or held by a consumer; once it is neither, its
// buffer is reused for a later chunk.
type chunk struct {
	num   int // its number in the log
	recs  []deliver.Record
	stats deliver.DecodeStats // the shared reader's stats after recs[len(recs)-1]
	refs  int                 // consumers iterating recs; guarded by Stream.mu
}

// Stream fans the records of one object out to a fixed number of
// consumers. Create it with New; each consumer gets its reader from
// Reader. Its methods are safe for concurrent use; each reader is not (use
// a reader from one goroutine at a time, as any deliver.RecordReader).
type Stream struct {
	ctx    context.Context // bounds the shared read
	open   OpenFunc
	opts   Options
	logger *slog.Logger
	wake   chan struct{} // pokes the producer; buffered, never closed

	mu        sync.Mutex
	consumers int                 // announced to New
	created   int                 // readers returned by Reader
	pending   int                 // consumers not created yet that hold the producer back at position 0
	attached  []*reader           // created consumers reading the shared stream
	started   bool                // the producer was started
	cancel    context.CancelFunc  // cancels the producer's context
	chunks    []*chunk            // the log: chunks[i] is chunk number base+i
	base      int                 // number of the first chunk in chunks
	filling   bool                // the producer is filling a chunk
	free      []*chunk            // buffers of chunks nobody uses any more
	maxAlive  int                 // most chunks in the log and being filled at once
	allocated int                 // chunk buffers allocated
	done      bool                // the shared stream ended
	err       error               // why it ended; nil for io.EOF
	final     deliver.DecodeStats // the shared reader's stats after the last chunk, or at its end
	changed   chan struct{}       // closed and replaced when chunks are added, the stream ends or consumers are detached
	opens     int
	starved   time.Time // when the window was last found full with a consumer starving; zero otherwise
}

// New returns a Stream that will serve consumers readers of the records
// open returns. ctx bounds the shared read (the producer); it must outlive
// the consumers' own contexts (the Dispatcher passes its dispatch
// context). Nothing is opened before the first Reader call. Negative
// options, fewer than one consumer or a nil open are an error.
func New(ctx context.Context, open OpenFunc, consumers int, optFns ...func(*Options)) (*Stream, error) {
	var opts Options
	for _, fn := range optFns {
		fn(&opts)
	}
	switch {
	case open == nil:
		return nil, errors.New("fanout: nil OpenFunc")
	case consumers < 1:
		return nil, fmt.Errorf("fanout: %d consumers, want at least 1", consumers)
	case opts.ChunkRecords < 0:
		return nil, fmt.Errorf("fanout: negative ChunkRecords %d", opts.ChunkRecords)
	case opts.Window < 0:
		return nil, fmt.Errorf("fanout: negative Window %d", opts.Window)
	case opts.DetachAfter < 0:
		return nil, fmt.Errorf("fanout: negative DetachAfter %s", opts.DetachAfter)
	}
	if opts.DetachAfter == 0 {
		opts.DetachAfter = DefaultDetachAfter
	}
	if opts.ChunkRecords == 0 {
		opts.ChunkRecords = DefaultChunkRecords
	}
	if opts.Window == 0 {
		opts.Window = DefaultWindow
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Stream{
		ctx:       ctx,
		open:      open,
		opts:      opts,
		logger:    logger,
		wake:      make(chan struct{}, 1),
		consumers: consumers,
		pending:   consumers,
		changed:   make(chan struct{}),
	}, nil
}

// Reader returns the next consumer's reader; call it at most once per
// consumer announced to New (more is an error). The first call starts the
// shared read.
//
// accept, when not nil, filters records for this consumer only: it is
// called with each record of the stream, which is shared with the other
// consumers, so it must neither modify the record nor keep the pointer.
// Records it rejects are counted in the reader's DecodeStats.Filtered.
//
// ctx is the consumer's own context: once it is done, the reader's Next
// returns a retryable error wrapping ctx.Err(), and the consumer stops
// holding the producer back at once, even when it is not calling Next.
// The consumer must Close the reader.
//
// The reader reads the shared stream from its start, unless the pending
// consumers were detached before this call (see the package
// documentation): then it reads a private stream opened with open(ctx).
func (s *Stream) Reader(ctx context.Context, accept func(*deliver.Record) bool) (deliver.RecordReader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.created == s.consumers {
		return nil, fmt.Errorf("fanout: Reader called more than the %d times announced", s.consumers)
	}
	s.created++
	r := &reader{s: s, ctx: ctx, accept: accept, id: s.created}
	if s.pending == 0 {
		// The pending consumers were detached: read privately from the
		// start.
		r.detached = true
		return r, nil
	}
	s.pending--
	r.attached = true
	s.attached = append(s.attached, r)
	s.trim() // the last pending consumer may have held the oldest chunk
	if !s.started {
		s.started = true
		var pctx context.Context
		pctx, s.cancel = context.WithCancel(s.ctx)
		go s.produce(pctx)
	}
	r.stop = context.AfterFunc(ctx, r.leave)
	return r, nil
}

// Abandon tells the Stream that one consumer announced to New will never
// call Reader (its delivery ended before it read), so that it stops
// holding the producer back at once. It does nothing when every announced
// consumer has called Reader or been abandoned.
func (s *Stream) Abandon() {
	s.mu.Lock()
	if s.created == s.consumers {
		s.mu.Unlock()
		return
	}
	s.consumers--
	if s.pending > 0 {
		s.pending--
		if s.started {
			s.trim()
		}
	}
	s.mu.Unlock()
	s.poke()
}

// Opens reports how many times open was called: the shared read plus the
// private re-reads of detached consumers, failed attempts included.
func (s *Stream) Opens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

// produce is the producer goroutine: it opens the shared stream and
// appends its chunks to the log until the stream ends or nobody holds the
// producer back any more.
func (s *Stream) produce(ctx context.Context) {
	defer s.cancel()
	s.mu.Lock()
	s.opens++
	s.mu.Unlock()
	rd, err := s.open(ctx)
	if err != nil {
		s.mu.Lock()
		// The consumers attached now get the error; those not created yet
		// try for themselves, privately, when they come.
		s.pending = 0
		s.end(err)
		s.mu.Unlock()
		return
	}
	defer func() {
		if err := rd.Close(); err != nil {
			s.logger.Warn("fanout: closing the shared record stream", "err", err)
		}
	}()
	for {
		c := s.waitRoom(ctx)
		if c == nil {
			return
		}
		var err error
		for len(c.recs) < cap(c.recs) {
			var rec deliver.Record
			if rec, err = rd.Next(); err != nil {
				break
			}
			c.recs = append(c.recs, rec)
		}
		c.stats = rd.Stats()
		if !s.publish(c, err) {
			return
		}
	}
}

// waitRoom waits until the window has room for one more chunk and returns
// an empty chunk to fill. It detaches the slowest consumers when the
// window is full and some attached consumer is starving, or when only
// pending consumers hold the window. It returns nil when the producer must
// stop: nobody holds it back any more, or its context is done.
func (s *Stream) waitRoom(ctx context.Context) *chunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	var grace <-chan time.Time
	for {
		slowest, ok := s.slowest()
		switch {
		case !ok:
			return nil
		case s.ctx.Err() != nil:
			s.end(s.ctx.Err())
			return nil
		case s.produced()-slowest < s.opts.Window:
			s.starved = time.Time{}
			return s.fill()
		case len(s.attached) == 0:
			s.detach(slowest)
			continue
		case s.starving():
			now := time.Now()
			if s.starved.IsZero() {
				s.starved = now
			}
			if left := s.opts.DetachAfter - now.Sub(s.starved); left > 0 {
				grace = time.After(left)
				break
			}
			s.starved = time.Time{}
			s.detach(slowest)
			continue
		default:
			s.starved, grace = time.Time{}, nil
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-grace:
		case <-ctx.Done():
		}
		s.mu.Lock()
	}
}

// fill returns a chunk buffer for the producer to fill: a free one, or a
// new one. Called with s.mu held.
func (s *Stream) fill() *chunk {
	s.filling = true
	s.track()
	var c *chunk
	if n := len(s.free); n > 0 {
		c = s.free[n-1]
		s.free[n-1] = nil
		s.free = s.free[:n-1]
		c.recs = c.recs[:0]
	} else {
		c = &chunk{recs: make([]deliver.Record, 0, s.opts.ChunkRecords)}
		s.allocated++
	}
	c.num = s.produced()
	return c
}

// publish appends the chunk just filled, and ends the stream when err is
// not nil. It returns false when the producer must stop.
func (s *Stream) publish(c *chunk, err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.filling = false
	if _, ok := s.slowest(); !ok {
		return false // everybody left while the chunk was filled
	}
	if len(c.recs) > 0 {
		s.chunks = append(s.chunks, c)
		s.track()
	} else {
		s.recycle(c)
	}
	s.final = c.stats
	if err != nil {
		s.end(err)
		return false
	}
	s.broadcast()
	return true
}

// end ends the shared stream with err (io.EOF for a clean end) and wakes
// the consumers. When the producer's context is done, the error says so
// (a retryable error wrapping ctx.Err()), whatever the reader returned.
// Called with s.mu held.
func (s *Stream) end(err error) {
	if ctxErr := s.ctx.Err(); ctxErr != nil && err != io.EOF {
		err = fault.Retryable(fmt.Errorf("fanout: shared read stopped: %w", ctxErr))
	}
	if err == io.EOF {
		err = nil
	}
	s.done, s.err = true, err
	s.free = nil
	s.broadcast()
}

// produced returns the number of chunks appended so far. Called with s.mu
// held.
func (s *Stream) produced() int { return s.base + len(s.chunks) }

// slowest returns the position, in chunks taken, of the slowest consumer
// holding the producer back; ok is false when there is none. Called with
// s.mu held.
func (s *Stream) slowest() (next int, ok bool) {
	if s.pending > 0 {
		return 0, true
	}
	for _, r := range s.attached {
		if !ok || r.next < next {
			next, ok = r.next, true
		}
	}
	return next, ok
}

// starving reports whether some attached consumer is blocked in Next for a
// chunk not produced yet (one woken by the last chunk but not running yet
// is not). Called with s.mu held.
func (s *Stream) starving() bool {
	for _, r := range s.attached {
		if r.waiting && r.next == s.produced() {
			return true
		}
	}
	return false
}

// detach detaches the consumers at position next, the slowest. Called with
// s.mu held.
func (s *Stream) detach(next int) {
	if next == 0 && s.pending > 0 {
		s.logger.Info("fanout: consumers not started yet will read the object privately", "consumers", s.pending)
		s.pending = 0
	}
	kept := s.attached[:0]
	for _, r := range s.attached {
		if r.next != next {
			kept = append(kept, r)
			continue
		}
		r.attached, r.detached = false, true
		s.logger.Info("fanout: slow consumer detached, it will read the object privately",
			"consumer", r.id, "records", r.pos, "behind", s.produced()-r.next)
	}
	clear(s.attached[len(kept):])
	s.attached = kept
	s.trim()
	s.broadcast()
}

// trim drops the chunks no consumer holding the producer back can need:
// those before the one the slowest consumer is iterating. With no such
// consumer left it drops every chunk and cancels the producer's context,
// so that a blocked read returns. Called with s.mu held.
func (s *Stream) trim() {
	keep := s.produced()
	if slowest, ok := s.slowest(); ok {
		keep = max(slowest-1, 0)
	} else {
		s.free = nil
		if s.cancel != nil {
			s.cancel()
		}
	}
	for s.base < keep {
		c := s.chunks[0]
		s.chunks[0] = nil
		s.chunks = s.chunks[1:]
		s.base++
		if c.refs == 0 {
			s.recycle(c)
		}
	}
}

// release ends a consumer's use of c (which may be nil). Called with s.mu
// held.
func (s *Stream) release(c *chunk) {
	if c == nil {
		return
	}
	if c.refs--; c.refs == 0 && c.num < s.base {
		s.recycle(c)
	}
}

// recycle keeps the buffer of c, which nobody uses any more, for a later
// chunk, unless the producer will not need it. Called with s.mu held.
func (s *Stream) recycle(c *chunk) {
	if _, ok := s.slowest(); ok && !s.done && len(s.free) <= s.opts.Window {
		s.free = append(s.free, c)
	}
}

// track records the most chunks in the log and being filled at once, for
// tests. Called with s.mu held.
func (s *Stream) track() {
	alive := len(s.chunks)
	if s.filling {
		alive++
	}
	s.maxAlive = max(s.maxAlive, alive)
}

// broadcast wakes the consumers waiting for a change. Called with s.mu
// held.
func (s *Stream) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// poke wakes the producer if it waits.
func (s *Stream) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// reader is one consumer's deliver.RecordReader.
type reader struct {
	s      *Stream
	ctx    context.Context
	accept func(*deliver.Record) bool
	id     int         // 1 for the first Reader call, and so on; for logs
	stop   func() bool // stops the context.AfterFunc of an attached reader

	// Guarded by s.mu.
	next     int   // number of the next shared chunk to take
	pos      int64 // records (unfiltered) taken from the shared stream
	attached bool  // in s.attached: holds the producer back
	detached bool  // reads, or will read, a private stream
	waiting  bool  // blocked in Next for a chunk not produced yet

	// Owned by the consumer, but for held, which is guarded by s.mu.
	held     *chunk              // the shared chunk being iterated
	cur      []deliver.Record    // the rest of it
	stats    deliver.DecodeStats // the shared stats as of the last chunk taken
	private  deliver.RecordReader
	rec      deliver.Record // the last record read from private
	records  int64
	filtered int64
	err      error // sticky: the stream ended, failed or was closed
	closed   bool
}

// Next returns the next record accepted for this consumer, or io.EOF after
// the last one.
func (r *reader) Next() (deliver.Record, error) {
	if r.err != nil {
		return deliver.Record{}, r.err
	}
	for {
		if err := r.ctxErr(); err != nil {
			return r.fail(err)
		}
		var rec *deliver.Record
		switch {
		case len(r.cur) > 0:
			rec = &r.cur[0]
			r.cur = r.cur[1:]
		case r.private != nil:
			var err error
			if r.rec, err = r.private.Next(); err != nil {
				return r.fail(err)
			}
			rec = &r.rec
		default:
			if err := r.take(); err != nil {
				return r.fail(err)
			}
			continue
		}
		if r.accept != nil && !r.accept(rec) {
			r.filtered++
			continue
		}
		r.records++
		return *rec, nil
	}
}

// take makes the next shared chunk current, waiting for it if it is not
// produced yet, or opens the private stream when r was detached. It
// returns io.EOF or the shared stream's error at its end.
func (r *reader) take() error {
	s := r.s
	s.mu.Lock()
	for {
		s.release(r.held)
		r.held = nil
		if r.detached {
			s.mu.Unlock()
			return r.openPrivate()
		}
		if r.next < s.produced() {
			c := s.chunks[r.next-s.base]
			c.refs++
			r.next++
			r.pos += int64(len(c.recs))
			r.held, r.cur, r.stats = c, c.recs, c.stats
			s.trim()
			s.mu.Unlock()
			s.poke()
			return nil
		}
		if s.done {
			r.stats = s.final
			err := s.err
			s.mu.Unlock()
			if err == nil {
				return io.EOF
			}
			return err
		}
		r.waiting = true
		changed := s.changed
		s.mu.Unlock()
		s.poke()
		select {
		case <-changed:
		case <-r.ctx.Done():
		case <-s.ctx.Done():
		}
		s.mu.Lock()
		r.waiting = false
		if err := r.ctxErr(); err != nil {
			s.mu.Unlock()
			return err
		}
	}
}

// openPrivate opens r's private stream and skips the records the shared
// stream handed r already.
func (r *reader) openPrivate() error {
	r.s.mu.Lock()
	r.s.opens++
	skip := r.pos
	r.s.mu.Unlock()
	rd, err := r.s.open(r.ctx)
	if err != nil {
		return err
	}
	r.private = rd
	for n := int64(0); n < skip; n++ {
		if err := r.ctxErr(); err != nil {
			return err
		}
		if _, err := rd.Next(); err != nil {
			if err == io.EOF {
				err = fault.Retryable(fmt.Errorf("fanout: the re-read object ended after %d records, %d were read before", n, skip))
			}
			return err
		}
	}
	return nil
}

// ctxErr returns a retryable error when the consumer's context or the
// producer's is done.
func (r *reader) ctxErr() error {
	if err := r.ctx.Err(); err != nil {
		return fault.Retryable(fmt.Errorf("fanout: consumer stopped: %w", err))
	}
	if err := r.s.ctx.Err(); err != nil {
		return fault.Retryable(fmt.Errorf("fanout: shared read stopped: %w", err))
	}
	return nil
}

// fail ends r's stream with err.
func (r *reader) fail(err error) (deliver.Record, error) {
	r.err = err
	r.drop()
	return deliver.Record{}, err
}

// drop releases the shared chunk r iterates and stops r from holding the
// producer back.
func (r *reader) drop() {
	r.cur = nil
	r.s.mu.Lock()
	r.s.release(r.held)
	r.held = nil
	r.s.mu.Unlock()
	r.leave()
}

// leave stops r from holding the producer back. It may run on any
// goroutine (it is r's context.AfterFunc), so it leaves the chunk r
// iterates to r itself.
func (r *reader) leave() {
	s := r.s
	s.mu.Lock()
	if !r.attached {
		s.mu.Unlock()
		return
	}
	r.attached = false
	s.attached = slices.DeleteFunc(s.attached, func(a *reader) bool { return a == r })
	s.trim()
	s.mu.Unlock()
	s.poke()
}

// Stats reports what was decoded for this consumer. Records and Filtered
// are this consumer's own counts: the records Next returned and those
// accept rejected. The other fields are those of the stream the consumer
// reads: while it reads the shared stream, the shared reader's stats as of
// the last chunk it took (or as of the end of the stream once Next
// returned it); once it reads a private stream, the private reader's
// stats, which count the object from its start, including the records
// skipped to catch up, so nothing is counted twice.
func (r *reader) Stats() deliver.DecodeStats {
	st := r.stats
	if r.private != nil {
		st = r.private.Stats()
	}
	st.Records, st.Filtered = r.records, r.filtered
	return st
}

// Close releases the consumer: it stops holding the producer back and
// closes its private stream, if any, returning that Close's error. Next
// returns an error afterwards. Later calls do nothing and return nil.
func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.stop != nil {
		r.stop()
	}
	if r.err == nil {
		r.err = errClosed
	}
	r.drop()
	if r.private != nil {
		return r.private.Close()
	}
	return nil
}
