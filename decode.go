package logdelivery

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/decode"
	"github.com/logdelivery/logdelivery/keyparse"
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
type source struct {
	d   *Dispatcher
	obj deliver.Object
	key keyparse.Key
}

// newSource prepares the delivery of o to jobs.
func (d *Dispatcher) newSource(_ context.Context, o indexed, _ []job) *source {
	obj := o.obj.deliverObject()
	if obj.Time.IsZero() {
		obj.Time, _ = o.key.FileTime()
	}
	return &source{d: d, obj: obj, key: o.key}
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

// records opens the records of the object that sel selects.
func (s *source) records(ctx context.Context, sel selector.Selector) (deliver.RecordReader, error) {
	body, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	rr, err := s.d.opts.Decode.newReader(body, s.obj, s.key, sel.Fields(), s.d.opts.Logger)
	if err != nil {
		return nil, err
	}
	return &selected{RecordReader: rr, key: s.key, sel: sel}, nil
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

// abandon tells the source that a record destination will not read.
func (s *source) abandon() {}

func (o DecodeOptions) newReader(body *deliver.Body, obj deliver.Object, key keyparse.Key, fields deliver.Fields, log *slog.Logger) (deliver.RecordReader, error) {
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
	})
}
