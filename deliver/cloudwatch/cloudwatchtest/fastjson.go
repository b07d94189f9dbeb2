package cloudwatchtest

import (
	"encoding/binary"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parsePutLogEvents decodes a PutLogEvents body as json.Unmarshal into a
// request does, for the shape clients send: the members logEvents,
// logGroupName and logStreamName, each once, spelled exactly, and events
// of message and timestamp. It is several times faster than
// encoding/json, which matters to benchmarks whose fake endpoint shares
// the machine with the client. ok false means the body is not of that
// shape (or holds something rare: invalid UTF-8, an escaped surrogate, a
// number that is not a plain integer): the caller decodes it with
// encoding/json, which also reports every syntax error. A differential
// fuzz test holds it to encoding/json.
func parsePutLogEvents(b []byte) (req request, ok bool) {
	p := &jsonParser{b: b}
	seen := 0
	if !p.members(func(key string) bool {
		bit := 0
		switch key {
		case "logGroupName":
			bit = 1
			req.LogGroupName, ok = p.string()
		case "logStreamName":
			bit = 2
			req.LogStreamName, ok = p.string()
		case "logEvents":
			bit = 4
			ok = p.events(&req)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}) {
		return request{}, false
	}
	p.space()
	return req, p.i == len(b)
}

type jsonParser struct {
	b   []byte
	i   int
	buf []byte
}

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) eat(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// members reads an object, calling member for each key with the parser
// at its value.
func (p *jsonParser) members(member func(key string) bool) bool {
	if !p.eat('{') {
		return false
	}
	if p.eat('}') {
		return true
	}
	for {
		p.space()
		key, ok := p.string()
		if !ok || !p.eat(':') {
			return false
		}
		p.space()
		if !member(key) {
			return false
		}
		switch {
		case p.eat(','):
		case p.eat('}'):
			return true
		default:
			return false
		}
	}
}

func (p *jsonParser) events(req *request) bool {
	if !p.eat('[') {
		return false
	}
	req.LogEvents = make([]inputEvent, 0, 64)
	if p.eat(']') {
		return true
	}
	for {
		var ev inputEvent
		if !p.members(func(key string) bool {
			switch key {
			case "message":
				s, ok := p.string()
				if !ok || ev.Message != nil {
					return false
				}
				ev.Message = &s
			case "timestamp":
				n, ok := p.int()
				if !ok || ev.Timestamp != nil {
					return false
				}
				ev.Timestamp = &n
			default:
				return false
			}
			return true
		}) {
			return false
		}
		req.LogEvents = append(req.LogEvents, ev)
		switch {
		case p.eat(','):
		case p.eat(']'):
			return true
		default:
			return false
		}
	}
}

// int reads a plain integer that fits an int64.
func (p *jsonParser) int() (int64, bool) {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || p.b[digits] == '0' && p.i-digits > 1 {
		return 0, false
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	return n, err == nil
}

// string reads a string of valid UTF-8 without raw control characters or
// escaped surrogates.
func (p *jsonParser) string() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	p.i++
	start := p.i
	p.buf = p.buf[:0]
	escaped := false
	for p.i < len(p.b) {
		// Skip eight plain ASCII bytes at a time.
		for p.i+8 <= len(p.b) && plain8(binary.LittleEndian.Uint64(p.b[p.i:])) {
			if escaped {
				p.buf = append(p.buf, p.b[p.i:p.i+8]...)
			}
			p.i += 8
		}
		if p.i >= len(p.b) {
			break
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if escaped {
				return string(p.buf), true
			}
			return string(s), true
		case c == '\\':
			if !escaped {
				p.buf = append(p.buf, p.b[start:p.i]...)
				escaped = true
			}
			if !p.escape() {
				return "", false
			}
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			if escaped {
				p.buf = append(p.buf, c)
			}
			p.i++
		default:
			r, n := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && n == 1 {
				return "", false
			}
			if escaped {
				p.buf = append(p.buf, p.b[p.i:p.i+n]...)
			}
			p.i += n
		}
	}
	return "", false
}

// plain8 reports whether none of the 8 bytes of x (little endian) is a
// quote, a backslash, a control character or a non-ASCII byte.
func plain8(x uint64) bool {
	const lanes01, lanes80 = 0x0101010101010101, 0x8080808080808080
	const quote, backslash = '"' * lanes01, '\\' * lanes01
	less := (x - 0x20*lanes01) &^ x // lanes below 0x20 (or borrowing)
	q := x ^ quote
	b := x ^ backslash
	return (less|((q-lanes01)&^q)|((b-lanes01)&^b)|x)&lanes80 == 0
}

// escape appends the escape sequence at p.b[p.i] to p.buf.
func (p *jsonParser) escape() bool {
	if p.i+1 >= len(p.b) {
		return false
	}
	c := p.b[p.i+1]
	p.i += 2
	switch c {
	case '"', '\\', '/':
		p.buf = append(p.buf, c)
	case 'b':
		p.buf = append(p.buf, '\b')
	case 'f':
		p.buf = append(p.buf, '\f')
	case 'n':
		p.buf = append(p.buf, '\n')
	case 'r':
		p.buf = append(p.buf, '\r')
	case 't':
		p.buf = append(p.buf, '\t')
	case 'u':
		if p.i+4 > len(p.b) {
			return false
		}
		v, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 16)
		if err != nil || utf16.IsSurrogate(rune(v)) {
			return false
		}
		p.i += 4
		p.buf = utf8.AppendRune(p.buf, rune(v))
	default:
		return false
	}
	return true
}
