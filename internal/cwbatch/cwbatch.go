// Package cwbatch packs log events into CloudWatch Logs PutLogEvents
// batches that respect every limit of the API, with as few batches as the
// order of the input allows.
//
// A Batcher is fed events in input order. It closes the open batch as soon
// as the next event would break a limit (count, bytes, 24 h span), so every
// batch is as large as it can be given the events that follow it: for
// input that is in time order this is the minimum number of calls. A closed
// batch is sorted stably by timestamp before it is returned, so every batch
// is chronological as the API requires, and events with equal timestamps
// keep their input order. Memory is bounded by one batch: whole objects are
// never sorted in memory, so ordering across batches is the input's order
// (CloudWatch Logs accepts batches whose time ranges overlap and returns
// events by timestamp when read).
//
// Prepare applies the per-event rules first: messages over the maximum
// event size are truncated on a UTF-8 boundary, invalid UTF-8 is repaired,
// and events the API would reject (empty, more than 14 days old, more than
// 2 hours in the future) are dropped, each counted by the caller.
package cwbatch

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the PutLogEvents API.
const (
	// MaxEvents is the largest number of events in one call.
	MaxEvents = 10000
	// MaxBytes is the largest size of one call: the sum over its events of
	// the UTF-8 length of the message plus EventOverhead.
	MaxBytes = 1048576
	// EventOverhead is the size the API adds to every event's message.
	EventOverhead = 26
	// MaxSpan is the largest time between the oldest and newest event of
	// one call.
	MaxSpan = 24 * time.Hour
	// MaxAge and MaxFuture bound event timestamps relative to now.
	MaxAge    = 14 * 24 * time.Hour
	MaxFuture = 2 * time.Hour
	// MaxEventSize is the largest message of one event under the current
	// 1 MB event limit: 1,048,576 - 26 bytes.
	MaxEventSize = MaxBytes - EventOverhead
	// LegacyMaxEventSize is the largest message under the older 256 KB event
	// limit, still enforced in some partitions: 262,144 - 26 bytes.
	LegacyMaxEventSize = 256*1024 - EventOverhead
)

// Event is one log event: a timestamp in milliseconds since the epoch and a
// non-empty, valid UTF-8 message.
type Event struct {
	Timestamp int64
	Message   string
}

// Size returns the event's size as the API counts it.
func (e Event) Size() int { return len(e.Message) + EventOverhead }

// Outcome says what Prepare did to an event.
type Outcome uint8

// Outcomes of Prepare.
const (
	Kept      Outcome = iota // unchanged (invalid UTF-8 may have been repaired)
	Truncated                // shortened to the maximum event size
	TooOld                   // dropped: older than MaxAge
	TooNew                   // dropped: more than MaxFuture ahead
	Empty                    // dropped: empty message
)

// Dropped reports whether the event must not be sent.
func (o Outcome) Dropped() bool { return o >= TooOld }

// Prepare turns a record into an event: it repairs invalid UTF-8 (U+FFFD,
// so that the size counted is the size sent), truncates messages longer
// than maxEventSize bytes on a rune boundary, and reports events the API
// would reject relative to now. maxEventSize <= 0 means MaxEventSize.
//
// Over-long messages are truncated rather than split: a continuation would
// arrive as a separate, unparseable log line (half a JSON document), while
// a truncated line keeps its start, where the timestamp, level and message
// are.
func Prepare(msg string, t, now time.Time, maxEventSize int) (Event, Outcome) {
	if maxEventSize <= 0 || maxEventSize > MaxEventSize {
		maxEventSize = MaxEventSize
	}
	if msg == "" {
		return Event{}, Empty
	}
	switch {
	case t.Before(now.Add(-MaxAge)):
		return Event{}, TooOld
	case t.After(now.Add(MaxFuture)):
		return Event{}, TooNew
	}
	if !utf8.ValidString(msg) {
		msg = strings.ToValidUTF8(msg, "\uFFFD")
	}
	out := Kept
	if len(msg) > maxEventSize {
		msg = TruncateUTF8(msg, maxEventSize)
		out = Truncated
	}
	return Event{Timestamp: t.UnixMilli(), Message: msg}, out
}

// TruncateUTF8 returns the longest prefix of s that is at most n bytes and
// ends on a rune boundary.
func TruncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	// Back up over continuation bytes to the start of the cut rune.
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// Batch is a closed batch, sorted by timestamp.
type Batch struct {
	Events []Event
	Bytes  int // size as the API counts it
}

// Span returns the time between the batch's oldest and newest events.
func (b *Batch) Span() time.Duration {
	if len(b.Events) == 0 {
		return 0
	}
	return time.Duration(b.Events[len(b.Events)-1].Timestamp-b.Events[0].Timestamp) * time.Millisecond
}

// Limits configure a Batcher; zero fields take the API's limits. Lower
// values are for tests.
type Limits struct {
	MaxEvents int
	MaxBytes  int
	MaxSpan   time.Duration
}

// Batcher accumulates events into batches. It is not safe for concurrent
// use; use one per stream.
type Batcher struct {
	maxEvents int
	maxBytes  int
	maxSpan   int64

	events   []Event
	bytes    int
	min, max int64
	sorted   bool
}

// New returns a Batcher for the given limits.
func New(l Limits) *Batcher {
	b := &Batcher{maxEvents: l.MaxEvents, maxBytes: l.MaxBytes, maxSpan: l.MaxSpan.Milliseconds()}
	if b.maxEvents <= 0 || b.maxEvents > MaxEvents {
		b.maxEvents = MaxEvents
	}
	if b.maxBytes <= 0 || b.maxBytes > MaxBytes {
		b.maxBytes = MaxBytes
	}
	if b.maxSpan <= 0 || b.maxSpan > MaxSpan.Milliseconds() {
		b.maxSpan = MaxSpan.Milliseconds()
	}
	return b
}

// Add adds an event prepared by Prepare. When the event does not fit the
// open batch, Add closes that batch and returns it, and the event starts
// the next one; otherwise it returns nil. The returned batch is owned by
// the caller.
func (b *Batcher) Add(e Event) *Batch {
	var full *Batch
	if len(b.events) > 0 && !b.fits(e) {
		full = b.Flush()
	}
	if len(b.events) == 0 {
		b.min, b.max, b.sorted = e.Timestamp, e.Timestamp, true
		if b.events == nil {
			b.events = make([]Event, 0, 256)
		}
	} else {
		if e.Timestamp < b.max {
			b.sorted = false
		}
		b.min = min(b.min, e.Timestamp)
		b.max = max(b.max, e.Timestamp)
	}
	b.events = append(b.events, e)
	b.bytes += e.Size()
	return full
}

func (b *Batcher) fits(e Event) bool {
	return len(b.events) < b.maxEvents &&
		b.bytes+e.Size() <= b.maxBytes &&
		max(b.max, e.Timestamp)-min(b.min, e.Timestamp) <= b.maxSpan
}

// Len returns the number of events in the open batch.
func (b *Batcher) Len() int { return len(b.events) }

// Bytes returns the size of the open batch.
func (b *Batcher) Bytes() int { return b.bytes }

// Flush closes the open batch and returns it sorted, or nil when it is
// empty.
func (b *Batcher) Flush() *Batch {
	if len(b.events) == 0 {
		return nil
	}
	batch := &Batch{Events: b.events, Bytes: b.bytes}
	if !b.sorted {
		slices.SortStableFunc(batch.Events, func(x, y Event) int {
			switch {
			case x.Timestamp < y.Timestamp:
				return -1
			case x.Timestamp > y.Timestamp:
				return 1
			}
			return 0
		})
	}
	b.events, b.bytes = nil, 0
	return batch
}

// MinCalls returns the fewest PutLogEvents calls that can carry n events of
// total size bytes (as the API counts it) under the API's count and size
// limits: the lower bound any batcher is measured against.
func MinCalls(n, bytes int64) int64 {
	if n == 0 {
		return 0
	}
	byCount := (n + MaxEvents - 1) / MaxEvents
	bySize := (bytes + MaxBytes - 1) / MaxBytes
	return max(byCount, bySize)
}
