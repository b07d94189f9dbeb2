package egress_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/fault"
)

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestReadBody(t *testing.T) {
	for _, tt := range []struct {
		size, limit int
		want        int
		tooLarge    bool
	}{
		{0, 10, 0, false},
		{9, 10, 9, false},
		{10, 10, 10, false},
		{11, 10, 10, true},
		{1000, 10, 10, true},
		{egress.DefaultErrorBodyLimit, 0, egress.DefaultErrorBodyLimit, false},
		{egress.DefaultErrorBodyLimit + 1, 0, egress.DefaultErrorBodyLimit, true},
		{egress.DefaultErrorBodyLimit + 1, -1, egress.DefaultErrorBodyLimit, true},
	} {
		// One byte at a time too, for readers that return short reads.
		for _, r := range []io.Reader{strings.NewReader(strings.Repeat("a", tt.size)), iotest.OneByteReader(strings.NewReader(strings.Repeat("a", tt.size)))} {
			b, err := egress.ReadBody(r, int64(tt.limit))
			assert.Len(t, b, tt.want, "size %d limit %d", tt.size, tt.limit)
			if tt.tooLarge {
				assert.ErrorIs(t, err, egress.ErrBodyTooLarge)
				assert.True(t, fault.IsRetryable(err), "left to the caller to classify")
			} else {
				assert.NoError(t, err)
			}
		}
	}
}

func TestLimitedBody(t *testing.T) {
	src := &closeRecorder{Reader: strings.NewReader("0123456789")}
	body := egress.LimitedBody(src, 4)
	buf := make([]byte, 3)
	n, err := body.Read(buf)
	assert.Equal(t, 3, n)
	assert.NoError(t, err)
	n, err = body.Read(buf)
	assert.Equal(t, 1, n, "the last byte under the limit is returned")
	assert.EqualError(t, err, "egress: response body too large: more than 4 bytes")
	n, err = body.Read(buf)
	assert.Zero(t, n)
	assert.ErrorIs(t, err, egress.ErrBodyTooLarge, "the error sticks")
	n, err = body.Read(nil)
	assert.Zero(t, n)
	require.NoError(t, body.Close())
	assert.True(t, src.closed)

	// Errors of the underlying body pass through.
	boom := errors.New("boom")
	_, err = io.ReadAll(egress.LimitedBody(io.NopCloser(iotest.ErrReader(boom)), 4))
	assert.ErrorIs(t, err, boom)

	// iotest.TestReader checks the io.Reader contract under the limit.
	assert.NoError(t, iotest.TestReader(egress.LimitedBody(io.NopCloser(strings.NewReader("abcdef")), 6), []byte("abcdef")))
}
