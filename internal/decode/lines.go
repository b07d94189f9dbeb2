package decode

import (
	"bytes"
	"io"
)

// lineReader splits a stream into lines with a buffer that grows up to the
// line limit and no further. Lines over the limit are skipped whole.
type lineReader struct {
	r     io.Reader
	buf   []byte
	start int // first unread byte
	end   int // end of buffered data
	max   int // longest line accepted, without its '\n'
	err   error
}

const initialLineBuffer = 64 << 10

func newLineReader(r io.Reader, max int, pool *Pool) *lineReader {
	size := initialLineBuffer
	if size > max+1 {
		size = max + 1
	}
	return &lineReader{r: r, buf: pool.lineBuffer(size), max: max}
}

// next returns the next line without its '\n'. The line is valid until the
// next call. tooLong reports a line over the limit, which is skipped and
// returned empty. At the end of the stream it returns the last unterminated
// line, if any, then the reader's error (io.EOF at a clean end). A read
// error other than io.EOF is returned at once: the partial line before it is
// not trusted.
func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	skipping := false
	for {
		if i := bytes.IndexByte(l.buf[l.start:l.end], '\n'); i >= 0 {
			line = l.buf[l.start : l.start+i]
			l.start += i + 1
			if skipping || len(line) > l.max {
				return nil, true, nil
			}
			return line, false, nil
		}
		if l.err != nil {
			if l.err != io.EOF {
				return nil, false, l.err
			}
			if l.start < l.end {
				line = l.buf[l.start:l.end]
				l.start = l.end
				if skipping || len(line) > l.max {
					return nil, true, nil
				}
				return line, false, nil
			}
			if skipping {
				return nil, true, nil
			}
			return nil, false, io.EOF
		}
		// Make room: drop consumed bytes, grow up to the limit, or give up
		// on this line and keep reading until its end.
		if l.start > 0 {
			l.end = copy(l.buf, l.buf[l.start:l.end])
			l.start = 0
		}
		if l.end == len(l.buf) {
			if len(l.buf) > l.max {
				skipping = true
				l.end = 0
			} else {
				size := 2 * len(l.buf)
				if size > l.max+1 {
					size = l.max + 1
				}
				nb := make([]byte, size)
				copy(nb, l.buf[:l.end])
				l.buf = nb
			}
		}
		n, err := l.r.Read(l.buf[l.end:])
		l.end += n
		if err != nil {
			l.err = err
		}
	}
}
