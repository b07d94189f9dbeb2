package decode

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small, allocation-free JSON scanner. It validates the
// JSON grammar (RFC 8259) while skipping values, and reports the byte spans
// of the members of an object, so that the decoder can pick the few
// top-level fields it needs without building a map per line. It is lenient
// in one way only: raw control characters inside strings are accepted, as
// collectors sometimes let them through and rejecting the line would turn a
// good event into plain text.

// maxDepth bounds the nesting of arrays and objects, so that hostile input
// cannot exhaust the stack.
const maxDepth = 1000

// span is a value inside a buffer. For strings, start and end delimit the
// contents between the quotes; for other values the raw text.
type span struct {
	start, end int
	kind       byte // '"' string, '{' object, '[' array, '0' number, 't' true, 'f' false, 'n' null
	esc        bool // a string that contains escape sequences
}

func (s span) bytes(b []byte) []byte { return b[s.start:s.end] }

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-whitespace byte of b at or
// after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scanString scans the string starting with the quote at b[i]. It returns
// the index just past the closing quote and whether the string holds escape
// sequences.
func scanString(b []byte, i int) (end int, esc, ok bool) {
	i++
	for {
		// Most strings (keys, metadata) are short: eight bytes at a time
		// find their end faster than a call to bytes.IndexByte; long runs
		// use it.
		j, found := i, false
		for lim := min(len(b), i+shortString); j+8 <= lim; j += 8 {
			if m := quoteOrBackslash(binary.LittleEndian.Uint64(b[j:])); m != 0 {
				j += bits.TrailingZeros64(m) / 8
				found = true
				break
			}
		}
		if !found {
			q := bytes.IndexByte(b[j:], '"')
			if q < 0 {
				return 0, false, false
			}
			bs := bytes.IndexByte(b[j:j+q], '\\')
			if bs < 0 {
				return j + q + 1, esc, true
			}
			j += bs
		}
		if b[j] == '"' {
			return j + 1, esc, true
		}
		// An escape sequence at b[j].
		esc = true
		if j+1 >= len(b) {
			return 0, false, false
		}
		switch b[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i = j + 2
		case 'u':
			if j+6 > len(b) || !isHex4(b[j+2:j+6]) {
				return 0, false, false
			}
			i = j + 6
		default:
			return 0, false, false
		}
	}
}

// shortString is how far scanString looks eight bytes at a time before it
// calls bytes.IndexByte.
const shortString = 64

// quoteOrBackslash returns a mask whose lowest set bit is the high bit of
// the first byte of x (little-endian) that is '"' or '\\', or 0 when there
// is none. Bits above the lowest may be false positives.
func quoteOrBackslash(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	s := x ^ (lo * '\\')
	return ((q-lo)&^q | (s-lo)&^s) & hi
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if hexVal(c) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// scanValue scans the value starting at b[i] (no leading whitespace) and
// returns its span; for strings the span excludes the quotes.
func scanValue(b []byte, i int) (span, int, bool) {
	if i >= len(b) {
		return span{}, 0, false
	}
	switch c := b[i]; c {
	case '"':
		end, esc, ok := scanString(b, i)
		return span{start: i + 1, end: end - 1, kind: '"', esc: esc}, end, ok
	case '{', '[':
		end, ok := skipComposite(b, i, 0)
		return span{start: i, end: end, kind: c}, end, ok
	case 't':
		return literal(b, i, "true", 't')
	case 'f':
		return literal(b, i, "false", 'f')
	case 'n':
		return literal(b, i, "null", 'n')
	default:
		end, ok := scanNumber(b, i)
		return span{start: i, end: end, kind: '0'}, end, ok
	}
}

func literal(b []byte, i int, lit string, kind byte) (span, int, bool) {
	end := i + len(lit)
	if end > len(b) || string(b[i:end]) != lit {
		return span{}, 0, false
	}
	return span{start: i, end: end, kind: kind}, end, true
}

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// skipComposite skips the object or array starting at b[i].
func skipComposite(b []byte, i, depth int) (int, bool) {
	if depth >= maxDepth {
		return 0, false
	}
	closer := byte('}')
	if b[i] == '[' {
		closer = ']'
	}
	obj := closer == '}'
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, true
	}
	for {
		if obj {
			if i >= len(b) || b[i] != '"' {
				return 0, false
			}
			end, _, ok := scanString(b, i)
			if !ok {
				return 0, false
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, false
			}
			i = skipSpace(b, i+1)
		}
		if i >= len(b) {
			return 0, false
		}
		var ok bool
		if c := b[i]; c == '{' || c == '[' {
			i, ok = skipComposite(b, i, depth+1)
		} else {
			_, i, ok = scanValue(b, i)
		}
		if !ok {
			return 0, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case closer:
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// members iterates over the members of a JSON object. Use it as
//
//	it := members{b: b, i: start}
//	for it.next() { use it.key, it.val }
//	if it.err { invalid }
type members struct {
	b        []byte
	i        int // position of the next token
	started  bool
	done     bool
	err      bool
	key, val span
}

// next advances to the next member and reports whether there is one. On a
// syntax error it returns false and sets err.
func (m *members) next() bool {
	if !m.nextKey() {
		return false
	}
	return m.value()
}

// nextKey advances to the key of the next member and leaves the iterator
// at the start of its value, which the caller reads with value, or with
// another members iterator and skipTo.
func (m *members) nextKey() bool {
	if m.done || m.err {
		return false
	}
	b := m.b
	i := skipSpace(b, m.i)
	if !m.started {
		m.started = true
		if i >= len(b) || b[i] != '{' {
			return m.fail()
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			m.i, m.done = i+1, true
			return false
		}
	} else {
		if i >= len(b) {
			return m.fail()
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			m.i, m.done = i+1, true
			return false
		default:
			return m.fail()
		}
	}
	if i >= len(b) || b[i] != '"' {
		return m.fail()
	}
	end, esc, ok := scanString(b, i)
	if !ok {
		return m.fail()
	}
	m.key = span{start: i + 1, end: end - 1, kind: '"', esc: esc}
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return m.fail()
	}
	m.i = skipSpace(b, i+1)
	return true
}

// value reads the value of the member whose key nextKey just returned.
func (m *members) value() bool {
	if m.i < len(m.b) && m.b[m.i] == '"' { // the common case, without a call
		end, esc, ok := scanString(m.b, m.i)
		if !ok {
			return m.fail()
		}
		m.val, m.i = span{start: m.i + 1, end: end - 1, kind: '"', esc: esc}, end
		return true
	}
	var ok bool
	m.val, m.i, ok = scanValue(m.b, m.i)
	if !ok {
		return m.fail()
	}
	return true
}

// skipTo records that the value of the current member, read by the caller,
// is v and ends at end; ok false marks a syntax error.
func (m *members) skipTo(v span, end int, ok bool) bool {
	if !ok {
		return m.fail()
	}
	m.val, m.i = v, end
	return true
}

func (m *members) fail() bool {
	m.err = true
	return false
}

// keyIs reports whether the member key equals name, decoding escapes when
// the key has any.
func (m *members) keyIs(name string) bool {
	k := m.key.bytes(m.b)
	if !m.key.esc {
		return string(k) == name
	}
	var tmp [64]byte
	return string(unescape(tmp[:0], k)) == name
}

// unescape appends the decoded contents of a JSON string (without quotes,
// already validated by scanString) to dst. Invalid surrogates become
// U+FFFD, as encoding/json does.
func unescape(dst, s []byte) []byte {
	for len(s) > 0 {
		bs := bytes.IndexByte(s, '\\')
		if bs < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:bs]...)
		s = s[bs:]
		switch c := s[1]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[2:6])
			s = s[6:]
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					r2 = hex4(s[2:6])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					s = s[6:]
					r = dec
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
		s = s[2:]
	}
	return dst
}

func hex4(b []byte) rune {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

// compact appends the JSON value v with insignificant whitespace removed.
// Escape sequences are kept as they are.
func compact(dst, v []byte) []byte {
	for len(v) > 0 {
		c := v[0]
		switch {
		case c == '"':
			end, _, ok := scanString(v, 0)
			if !ok { // cannot happen for scanned values; keep the rest
				return append(dst, v...)
			}
			dst = append(dst, v[:end]...)
			v = v[end:]
		case isSpace(c):
			v = v[1:]
		default:
			dst = append(dst, c)
			v = v[1:]
		}
	}
	return dst
}
