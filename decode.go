package logdelivery

import (
	"log/slog"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/groups"
	"github.com/logdelivery/logdelivery/internal/decode"
	"github.com/logdelivery/logdelivery/keyparse"
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

func (o DecodeOptions) newReader(body *deliver.Body, obj deliver.Object, key keyparse.Key, filter groups.Filter, log *slog.Logger) (deliver.RecordReader, error) {
	return decode.NewReader(body, obj, func(do *decode.Options) {
		if o.MaxDecompressedBytes > 0 {
			do.MaxDecompressedBytes = o.MaxDecompressedBytes
		}
		if o.MaxLineBytes > 0 {
			do.MaxLineBytes = o.MaxLineBytes
		}
		do.Application = key.Application
		if !filter.All() {
			do.Accept = filter.Allows
		}
		do.Logger = log
	})
}
