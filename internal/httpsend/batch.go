package httpsend

import "fmt"

// Framing is how the items of a batch make one request body.
type Framing int

// Framings of a batch body.
const (
	// NDJSON ends every item with a newline: "a\nb\n".
	NDJSON Framing = iota
	// JSONArray encloses the items in brackets, separated by commas:
	// "[a,b]".
	JSONArray
)

// String returns "ndjson" or "json".
func (f Framing) String() string {
	switch f {
	case NDJSON:
		return "ndjson"
	case JSONArray:
		return "json"
	}
	return fmt.Sprintf("Framing(%d)", int(f))
}

// Limits bound one request body.
type Limits struct {
	// MaxBytes bounds the body, framing included (uncompressed).
	MaxBytes int
	// MaxItems bounds the items of the body.
	MaxItems int
}

// Batch is a request body being built: encoded items in a framing, at
// most Limits.MaxItems of them in at most Limits.MaxBytes. Each item
// carries its payload, the bytes it counts for in a receipt (the length
// of its message). A Batch is not safe for concurrent use.
type Batch struct {
	framing Framing
	limits  Limits
	// Seq is the batch's number within its delivery, from 0, set by Run.
	// A delivery resumed from a checkpoint goes on counting where the
	// checkpoint left off, so that a batch sent again has its number.
	Seq int
	// End is the position, in the delivery's record order, of the batch's
	// last record, set by Run.
	End int64

	buf     []byte  // the framed items so far; JSONArray: "[" and items joined by ","
	starts  []int   // where each item starts in buf
	ends    []int   // where each item ends in buf, framing excluded
	payload []int64 // each item's payload bytes
	sealed  bool    // Body was called: JSONArray's "]" is in buf
}

// NewBatch returns an empty batch.
func NewBatch(f Framing, l Limits) *Batch {
	return &Batch{framing: f, limits: l}
}

// size returns the size of the body with one more item of n bytes.
func (b *Batch) size(n int) int {
	switch b.framing {
	case JSONArray:
		if len(b.starts) == 0 {
			return 2 + n // "[" item "]"
		}
		return len(b.buf) + 1 + n + 1 // "," item "]"
	default:
		return len(b.buf) + n + 1
	}
}

// Oversized reports whether an item of n bytes cannot fit even in an empty
// batch.
func (b *Batch) Oversized(n int) bool {
	switch b.framing {
	case JSONArray:
		return 2+n > b.limits.MaxBytes
	default:
		return n+1 > b.limits.MaxBytes
	}
}

// Add appends item, which counts payload bytes in a receipt, and reports
// whether it fitted. A full batch is left unchanged: send it, Reset it
// and add the item again. Add panics after Body.
func (b *Batch) Add(item []byte, payload int64) bool {
	if b.sealed {
		panic("httpsend: Add after Body")
	}
	if len(b.starts) >= b.limits.MaxItems || b.size(len(item)) > b.limits.MaxBytes {
		return false
	}
	if b.framing == JSONArray {
		if len(b.starts) == 0 {
			b.buf = append(b.buf, '[')
		} else {
			b.buf = append(b.buf, ',')
		}
	}
	b.starts = append(b.starts, len(b.buf))
	b.buf = append(b.buf, item...)
	b.ends = append(b.ends, len(b.buf))
	if b.framing == NDJSON {
		b.buf = append(b.buf, '\n')
	}
	b.payload = append(b.payload, payload)
	return true
}

// Len returns the number of items.
func (b *Batch) Len() int { return len(b.starts) }

// Item returns item i, without its framing. It is valid until Reset.
func (b *Batch) Item(i int) []byte { return b.buf[b.starts[i]:b.ends[i]] }

// Payload returns the payload bytes of item i.
func (b *Batch) Payload(i int) int64 { return b.payload[i] }

// PayloadBytes returns the payload bytes of all the items.
func (b *Batch) PayloadBytes() int64 {
	var n int64
	for _, p := range b.payload {
		n += p
	}
	return n
}

// Body returns the framed body. The batch takes no more items until
// Reset; the body is valid until then.
func (b *Batch) Body() []byte {
	if b.framing == JSONArray && !b.sealed {
		if len(b.starts) == 0 {
			b.buf = append(b.buf, '[')
		}
		b.buf = append(b.buf, ']')
	}
	b.sealed = true
	return b.buf
}

// Subset returns a new batch of the items of b at the indexes idx, in
// that order, with b's framing and Seq: the items a destination asks to
// be sent again.
func (b *Batch) Subset(idx []int) *Batch {
	n := len(idx) + 2
	for _, i := range idx {
		n += b.ends[i] - b.starts[i] + 1
	}
	s := &Batch{framing: b.framing, limits: Limits{MaxBytes: n, MaxItems: len(idx)}, Seq: b.Seq, buf: make([]byte, 0, n)}
	for _, i := range idx {
		s.Add(b.Item(i), b.payload[i])
	}
	s.limits = b.limits
	return s
}

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() {
	b.buf = b.buf[:0]
	b.starts = b.starts[:0]
	b.ends = b.ends[:0]
	b.payload = b.payload[:0]
	b.sealed = false
}
