package egress

import (
	"errors"
	"fmt"
	"io"
)

// DefaultErrorBodyLimit is the limit ReadBody and LimitedBody apply when
// given none: enough for the error message of any destination.
const DefaultErrorBodyLimit = 64 << 10

// ErrBodyTooLarge is matched by errors.Is on the error of a body read past
// its limit. That error is not classified (so retryable by the module's
// rule): whether a destination's oversized answer should be retried is for
// its caller to say.
var ErrBodyTooLarge = errors.New("egress: response body too large")

// LimitedBody returns rc limited to limit bytes (DefaultErrorBodyLimit
// when limit <= 0): the first limit bytes read as from rc, and a read that
// would go past them fails with an error matching ErrBodyTooLarge. Close
// closes rc.
func LimitedBody(rc io.ReadCloser, limit int64) io.ReadCloser {
	if limit <= 0 {
		limit = DefaultErrorBodyLimit
	}
	return &limitedBody{rc: rc, limit: limit, left: limit}
}

// ReadBody reads r to its end, at most limit bytes (DefaultErrorBodyLimit
// when limit <= 0). When r holds more, it returns the first limit bytes
// and an error matching ErrBodyTooLarge, so that an error message can
// still quote the start of the body.
func ReadBody(r io.Reader, limit int64) ([]byte, error) {
	return io.ReadAll(LimitedBody(io.NopCloser(r), limit))
}

type limitedBody struct {
	rc    io.ReadCloser
	limit int64
	left  int64 // bytes that may still be read
	err   error // sticky ErrBodyTooLarge
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Read one byte past the limit, to tell a body of exactly limit
	// bytes from a longer one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = 0
		b.err = fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, b.limit)
		return n, b.err
	}
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
