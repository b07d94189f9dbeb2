package logdelivery

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/decode"
	"github.com/logdelivery/logdelivery/internal/fanout"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/limits"
	"github.com/logdelivery/logdelivery/selector"
)

// DecodeOptions configures how objects are decoded into records for
// deliverers that read records (Delivery.Records).
type DecodeOptions struct {
	// MaxDecompressedBytes caps an object's decompressed size, a guard
	// against decompression bombs; a larger object fails permanently.
	// Default: 4 GiB.
	MaxDecompressedBytes int64
	// MaxLineBytes is the longest line decoded; longer lines are skipped and
	// counted. Default: 2 MiB.
	MaxLineBytes int
}

// source is one object being delivered to one tenant's destinations: its
// raw body for copy destinations and its records for record destinations.
// When two or more record destinations deliver it, they share one download
// and one decode of the object (internal/fanout): each reads the shared
// stream through its own selector, and one that falls behind reads the
// object again on its own instead of holding the others back.
type source struct {
	d      *Dispatcher
	obj    deliver.Object
	key    keyparse.Key
	fields deliver.Fields // what the record destinations' selectors read
	stream *fanout.Stream // nil for fewer than two record destinations
}

// newSource prepares the delivery of o to jobs. ctx bounds the shared
// read; it is the Dispatch call's context, which outlives every delivery.
func (d *Dispatcher) newSource(ctx context.Context, o indexed, jobs []job) *source {
	obj := o.obj.deliverObject()
	if obj.Time.IsZero() {
		obj.Time, _ = o.key.FileTime()
	}
	s := &source{d: d, obj: obj, key: o.key}
	readers := 0
	for _, j := range jobs {
		if j.plan.records {
			readers++
			s.fields |= j.plan.fields
		}
	}
	if readers >= 2 {
		// New fails only on invalid arguments, which these are not; without
		// a stream every destination reads on its own.
		s.stream, _ = fanout.New(ctx, s.decoded, readers, func(fo *fanout.Options) { fo.Logger = d.opts.Logger })
	}
	return s
}

// open opens the raw object.
func (s *source) open(ctx context.Context) (*deliver.Body, error) {
	if s.d.opts.Opener == nil {
		return nil, fault.Permanent(ErrNoOpener)
	}
	body, err := s.d.opts.Opener.Open(ctx, s.obj)
	if err != nil {
		return nil, fmt.Errorf("opening s3://%s/%s: %w", s.obj.Bucket, s.obj.Key, err)
	}
	return body, nil
}

// decoded opens every record of the object, with the metadata every
// record destination's selector reads.
func (s *source) decoded(ctx context.Context) (deliver.RecordReader, error) {
	return s.decode(ctx, s.fields)
}

func (s *source) decode(ctx context.Context, fields deliver.Fields) (deliver.RecordReader, error) {
	body, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return s.d.opts.Decode.newReader(body, s.obj, s.key, fields, s.d.opts.Logger, &s.d.decodePool)
}

// reading is one delivery's use of its source's records.
type reading struct {
	src    *source
	sel    selector.Selector
	fields deliver.Fields
	shared bool // the delivery is one of the stream's consumers

	mu     sync.Mutex
	called bool // Records was called
	permit *limits.Permit
	slot   *sharedSlot
}

// limit charges the records the delivery reads to permit (nil: no
// limits), which waits without slot.
func (rd *reading) limit(permit *limits.Permit, slot *sharedSlot) {
	rd.mu.Lock()
	rd.permit, rd.slot = permit, slot
	rd.mu.Unlock()
}

// reading returns the records access of a delivery with plan p.
func (s *source) reading(p *plan) *reading {
	return &reading{src: s, sel: p.sel, fields: p.fields, shared: s.stream != nil && p.records}
}

// records opens the records of the object the delivery's selector selects:
// the first time from the shared stream, if any, and otherwise (a
// deliverer that reads twice) from a private decode.
func (rd *reading) records(ctx context.Context) (deliver.RecordReader, error) {
	rd.mu.Lock()
	first := !rd.called
	rd.called = true
	permit, slot := rd.permit, rd.slot
	rd.mu.Unlock()
	key, sel := rd.src.key, rd.sel
	var rr deliver.RecordReader
	if first && rd.shared {
		var err error
		if rr, err = rd.src.stream.Reader(ctx, func(r *deliver.Record) bool { return sel.Record(key, r) }); err != nil {
			return nil, err
		}
	} else {
		dec, err := rd.src.decode(ctx, rd.fields)
		if err != nil {
			return nil, err
		}
		rr = &selected{RecordReader: dec, key: key, sel: sel}
	}
	if permit != nil {
		rr = &limitedReader{RecordReader: rr, ctx: ctx, permit: permit, slot: slot}
	}
	return rr, nil
}

// done ends the delivery's use of the source: a delivery that never read
// its share of the stream stops holding the others back.
func (rd *reading) done() {
	rd.mu.Lock()
	abandon := rd.shared && !rd.called
	rd.called = true
	rd.mu.Unlock()
	if abandon {
		rd.src.stream.Abandon()
	}
}

// selected is the records of a reader that a selector selects.
type selected struct {
	deliver.RecordReader
	key      keyparse.Key
	sel      selector.Selector
	filtered int64
}

func (r *selected) Next() (deliver.Record, error) {
	for {
		rec, err := r.RecordReader.Next()
		if err != nil || r.sel.Record(r.key, &rec) {
			return rec, err
		}
		r.filtered++
	}
}

func (r *selected) Stats() deliver.DecodeStats {
	st := r.RecordReader.Stats()
	st.Filtered += r.filtered
	st.Records -= r.filtered
	return st
}

func (o DecodeOptions) newReader(body *deliver.Body, obj deliver.Object, key keyparse.Key, fields deliver.Fields, log *slog.Logger, pool *decode.Pool) (deliver.RecordReader, error) {
	return decode.NewReader(body, obj, func(do *decode.Options) {
		if o.MaxDecompressedBytes > 0 {
			do.MaxDecompressedBytes = o.MaxDecompressedBytes
		}
		if o.MaxLineBytes > 0 {
			do.MaxLineBytes = o.MaxLineBytes
		}
		do.Application = key.Application
		do.Fields = fields
		do.Logger = log
		do.Pool = pool
	})
}
