package logdelivery

import (
	"errors"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/keyparse"
)

// DecodeOptions configures how objects are decoded into records.
type DecodeOptions struct{}

func (o DecodeOptions) newReader(body *deliver.Body, obj deliver.Object, key keyparse.Key) (deliver.RecordReader, error) {
	body.Close()
	return nil, deliver.Permanent(errors.New("record decoding is not available yet"))
}
