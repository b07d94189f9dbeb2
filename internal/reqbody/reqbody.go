// Package reqbody holds what the destinations' request serialisers share:
// a JSON string writer and pooled request-body buffers whose readers can
// be detached, so that a buffer is reused only when no transport can read
// it any more.
//
// A serialiser takes a Buffer from its Pool, appends the body to
// Buffer.B, sends it through Buffer.Reader and, when the request is over,
// gives it back with Pool.Put. The Reader is detached at Put: a transport
// that still holds it (net/http may close or read a request body after
// RoundTrip returned) reads end of file, never the next request's bytes.
package reqbody

import (
	"errors"
	"io"
	"math/bits"
	"sync"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// Masks of the SWAR scan of AppendString: a byte of every lane.
const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// special8 returns the high bit of the lanes of x (8 bytes, little
// endian) that may need escaping: control characters, '"', '\\' and
// non-ASCII bytes. Borrows run from lower lanes to higher ones only, so
// the lowest lane set is exact; higher ones may not be.
func special8(x uint64) uint64 {
	const quote, backslash = '"' * lanes01, '\\' * lanes01
	less := (x - 0x20*lanes01) &^ x // lanes below 0x20
	q := x ^ quote
	b := x ^ backslash
	return (less | ((q - lanes01) &^ q) | ((b - lanes01) &^ b) | x) & lanes80
}

// load8 returns the 8 bytes of w as a little-endian integer, in one load.
func load8(w string) uint64 {
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// AppendString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD, and
// U+2028 and U+2029 escaped as encoding/json does.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip to the first byte that may need escaping, 8 at a time.
		for i+8 <= len(s) {
			if m := special8(load8(s[i : i+8])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// DefaultMaxRetained is the default of Pool.MaxRetained: a little more
// than the largest PutLogEvents body (1 MiB of events plus their JSON).
const DefaultMaxRetained = 4 << 20

// DefaultMaxIdle is the default of Pool.MaxIdle.
const DefaultMaxIdle = 4

// Pool is a pool of request-body buffers. The zero Pool is ready to use
// and safe for concurrent use. Buffers in use are bounded by the requests
// in flight, which the destinations bound by their concurrency; of the
// buffers given back, Pool keeps MaxIdle for good (a sync.Pool would drop
// them at every garbage collection, and a 1 MB body would be allocated
// again after each) and leaves the others to the garbage collector.
type Pool struct {
	// MaxRetained is the largest buffer capacity kept for reuse; larger
	// buffers are left to the garbage collector, so that one huge body
	// does not stay pinned. Zero means DefaultMaxRetained.
	MaxRetained int
	// MaxIdle is the number of free buffers kept. Zero means
	// DefaultMaxIdle.
	MaxIdle int

	once sync.Once
	free chan *Buffer
}

func (p *Pool) init() {
	p.once.Do(func() {
		n := p.MaxIdle
		if n <= 0 {
			n = DefaultMaxIdle
		}
		p.free = make(chan *Buffer, n)
	})
}

// Get returns an empty buffer, reused when one is free.
func (p *Pool) Get() *Buffer {
	p.init()
	select {
	case b := <-p.free:
		return b
	default:
		return &Buffer{}
	}
}

// Put detaches the buffer's reader, if any, and keeps the buffer for
// reuse when there is room. The buffer must not be used after Put.
func (p *Pool) Put(b *Buffer) {
	if b == nil {
		return
	}
	if b.r != nil {
		b.r.detach()
		b.r = nil
	}
	limit := p.MaxRetained
	if limit <= 0 {
		limit = DefaultMaxRetained
	}
	if cap(b.B) > limit {
		return
	}
	b.B = b.B[:0]
	p.init()
	select {
	case p.free <- b:
	default:
	}
}

// Buffer is a request body being written or sent.
type Buffer struct {
	// B is the body.
	B []byte
	r *Reader
}

// Reader returns a reader of the body, B as it is now, for a request. It
// is valid until the buffer is given back to its Pool; a reader obtained
// earlier is detached.
func (b *Buffer) Reader() *Reader {
	if b.r != nil {
		b.r.detach()
	}
	b.r = &Reader{b: b.B}
	return b.r
}

// NewReader returns a reader of b, a body the caller owns: once the
// request is over, Detach it before b is written again.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Detach ends the reader's access to its body: later reads report io.EOF.
// It waits for a read in progress.
func (r *Reader) Detach() { r.detach() }

// Reader reads a Buffer's body. It is an io.ReadSeeker with a Len, as
// request signers and content-length computation expect, and is safe for
// use by the transport while the serialiser detaches it.
type Reader struct {
	mu  sync.Mutex
	b   []byte // nil once detached
	off int64
}

var errNegative = errors.New("reqbody: seek to a negative position")

// Read reads from the body; once detached it reports io.EOF.
func (r *Reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += int64(n)
	return n, nil
}

// WriteTo writes the rest of the body to w, so that io.Copy (request
// signing's hash, the transport's socket) needs no buffer of its own.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off >= int64(len(r.b)) {
		return 0, nil
	}
	n, err := w.Write(r.b[r.off:])
	r.off += int64(n)
	return int64(n), err
}

// Seek sets the offset of the next Read.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = int64(len(r.b)) + offset
	default:
		return 0, errors.New("reqbody: invalid whence")
	}
	if abs < 0 {
		return 0, errNegative
	}
	r.off = abs
	return abs, nil
}

// Len returns the number of bytes not read yet.
func (r *Reader) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(len(r.b)-int(r.off), 0)
}

// Size returns the length of the whole body (0 once detached).
func (r *Reader) Size() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int64(len(r.b))
}

// Close does nothing: the body's buffer is given back with Pool.Put.
func (r *Reader) Close() error { return nil }

func (r *Reader) detach() {
	r.mu.Lock()
	r.b, r.off = nil, 0
	r.mu.Unlock()
}

// The reader is what transports and signers probe for.
var _ interface {
	io.ReadSeeker
	io.WriterTo
	io.Closer
	Len() int
} = (*Reader)(nil)
