package loki

import (
	"slices"
	"time"

	"github.com/klauspost/compress/s2"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/logdelivery/logdelivery/internal/reqbody"
)

// entry is one log line of a stream.
type entry struct {
	ts   time.Time
	line string
	meta []pair // structured metadata; shared by the entries of one pod
}

// metaSize is what Loki counts of structured metadata: names and values.
func metaSize(meta []pair) int {
	n := 0
	for _, p := range meta {
		n += len(p.Name) + len(p.Value)
	}
	return n
}

// stream is the entries of one label set in a batch, in record order.
type stream struct {
	labels  string
	entries []entry
}

// batch is one push: streams in the order they first appeared.
type batch struct {
	streams []*stream
	index   map[string]*stream
	entries int
	bytes   int // lines and structured metadata, as Loki's limits count them
	lines   int64
	end     int64 // position, in the delivery's record order, of the batch's last record
}

func newBatch() *batch { return &batch{index: map[string]*stream{}} }

// add appends e to the stream of labels.
func (b *batch) add(labels string, e entry) {
	st := b.index[labels]
	if st == nil {
		st = &stream{labels: labels}
		b.index[labels] = st
		b.streams = append(b.streams, st)
	}
	st.entries = append(st.entries, e)
	b.entries++
	b.bytes += len(e.line) + metaSize(e.meta)
	b.lines += int64(len(e.line))
}

func (b *batch) has(labels string) bool { return b.index[labels] != nil }

// The field numbers of Loki's push.proto (package logproto):
//
//	message PushRequest { repeated StreamAdapter streams = 1; }
//	message StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
//	message EntryAdapter { google.protobuf.Timestamp timestamp = 1; string line = 2; repeated LabelPairAdapter structuredMetadata = 3; }
//	message LabelPairAdapter { string name = 1; string value = 2; }
//	message Timestamp { int64 seconds = 1; int32 nanos = 2; }
const (
	fieldPushStreams     protowire.Number = 1
	fieldStreamLabels    protowire.Number = 1
	fieldStreamEntries   protowire.Number = 2
	fieldEntryTimestamp  protowire.Number = 1
	fieldEntryLine       protowire.Number = 2
	fieldEntryMetadata   protowire.Number = 3
	fieldPairName        protowire.Number = 1
	fieldPairValue       protowire.Number = 2
	fieldTimestampSecond protowire.Number = 1
	fieldTimestampNanos  protowire.Number = 2
)

// appendPushRequest appends the PushRequest of b, protobuf-encoded, to
// dst.
func appendPushRequest(dst []byte, b *batch) []byte {
	for _, st := range b.streams {
		dst = protowire.AppendTag(dst, fieldPushStreams, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(streamSize(st)))
		dst = protowire.AppendTag(dst, fieldStreamLabels, protowire.BytesType)
		dst = protowire.AppendString(dst, st.labels)
		for i := range st.entries {
			e := &st.entries[i]
			dst = protowire.AppendTag(dst, fieldStreamEntries, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(entrySize(e)))
			dst = protowire.AppendTag(dst, fieldEntryTimestamp, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(timestampSize(e.ts)))
			if s := e.ts.Unix(); s != 0 {
				dst = protowire.AppendTag(dst, fieldTimestampSecond, protowire.VarintType)
				dst = protowire.AppendVarint(dst, uint64(s))
			}
			if n := e.ts.Nanosecond(); n != 0 {
				dst = protowire.AppendTag(dst, fieldTimestampNanos, protowire.VarintType)
				dst = protowire.AppendVarint(dst, uint64(n))
			}
			dst = protowire.AppendTag(dst, fieldEntryLine, protowire.BytesType)
			dst = protowire.AppendString(dst, e.line)
			for _, p := range e.meta {
				dst = protowire.AppendTag(dst, fieldEntryMetadata, protowire.BytesType)
				dst = protowire.AppendVarint(dst, uint64(pairSize(p)))
				dst = protowire.AppendTag(dst, fieldPairName, protowire.BytesType)
				dst = protowire.AppendString(dst, p.Name)
				dst = protowire.AppendTag(dst, fieldPairValue, protowire.BytesType)
				dst = protowire.AppendString(dst, p.Value)
			}
		}
	}
	return dst
}

// bytesField is the size of a length-delimited field of n bytes.
func bytesField(n int) int { return 1 + protowire.SizeBytes(n) }

func streamSize(st *stream) int {
	n := bytesField(len(st.labels))
	for i := range st.entries {
		n += bytesField(entrySize(&st.entries[i]))
	}
	return n
}

func entrySize(e *entry) int {
	n := bytesField(timestampSize(e.ts)) + bytesField(len(e.line))
	for _, p := range e.meta {
		n += bytesField(pairSize(p))
	}
	return n
}

func pairSize(p pair) int { return bytesField(len(p.Name)) + bytesField(len(p.Value)) }

func timestampSize(t time.Time) int {
	n := 0
	if s := t.Unix(); s != 0 {
		n += 1 + protowire.SizeVarint(uint64(s))
	}
	if ns := t.Nanosecond(); ns != 0 {
		n += 1 + protowire.SizeVarint(uint64(ns))
	}
	return n
}

// encoder encodes batches into push bodies, in buffers of its pool (a
// pool of its own when none is set).
type encoder struct{ pool *reqbody.Pool }

// encode returns the body of a push of b: the PushRequest in protobuf,
// compressed in the snappy block format, in a buffer of the pool that the
// caller gives back (pool.Put) when the push is over.
func (enc *encoder) encode(b *batch) *reqbody.Buffer {
	if enc.pool == nil {
		enc.pool = &reqbody.Pool{}
	}
	raw := enc.pool.Get()
	defer enc.pool.Put(raw)
	raw.B = appendPushRequest(raw.B, b)
	body := enc.pool.Get()
	n := s2.MaxEncodedLen(len(raw.B))
	body.B = s2.EncodeSnappy(slices.Grow(body.B[:0], n)[:n], raw.B)
	return body
}
