package decode

import (
	"bytes"
	"math"
	"strconv"
	"time"
)

// This file finds event times: in JSON values (ISO-8601 strings and numeric
// epochs) and at the start of text messages (ISO-8601, logfmt time=/ts=,
// klog, Go log). Every parser works on bytes, allocates nothing and returns
// UTC times.

// parseISO parses an ISO-8601 / RFC 3339 date-time at the start of b:
// YYYY-MM-DD, a 'T', 't' or ' ' separator, hh:mm:ss, an optional '.' or ','
// with any number of fractional digits (nanoseconds are kept, further digits
// dropped), and a mandatory zone: 'Z', 'z', ±hh:mm or ±hhmm. A time without
// a zone is ambiguous and is not accepted. It returns the time and the
// number of bytes used.
func parseISO(b []byte) (time.Time, int, bool) {
	if len(b) < 20 {
		return time.Time{}, 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 ||
		b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') ||
		b[13] != ':' || b[16] != ':' {
		return time.Time{}, 0, false
	}
	i := 19
	nsec, i := fraction(b, i)
	if i >= len(b) {
		return time.Time{}, 0, false
	}
	offset := 0
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		sign := 1
		if b[i] == '-' {
			sign = -1
		}
		i++
		if i+2 > len(b) {
			return time.Time{}, 0, false
		}
		oh, ok := digits(b[i : i+2])
		if !ok || oh > 23 {
			return time.Time{}, 0, false
		}
		i += 2
		if i < len(b) && b[i] == ':' {
			i++
		}
		if i+2 > len(b) {
			return time.Time{}, 0, false
		}
		om, ok := digits(b[i : i+2])
		if !ok || om > 59 {
			return time.Time{}, 0, false
		}
		i += 2
		offset = sign * (oh*3600 + om*60)
	default:
		return time.Time{}, 0, false
	}
	t, ok := makeTime(year, month, day, hour, minute, sec, nsec)
	if !ok {
		return time.Time{}, 0, false
	}
	return t.Add(-time.Duration(offset) * time.Second), i, true
}

// fraction parses an optional '.' or ',' followed by digits at b[i] and
// returns nanoseconds and the index after it.
func fraction(b []byte, i int) (int, int) {
	if i >= len(b) || (b[i] != '.' && b[i] != ',') || i+1 >= len(b) || b[i+1] < '0' || b[i+1] > '9' {
		return 0, i
	}
	i++
	nsec, n := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if n < 9 {
			nsec = nsec*10 + int(b[i]-'0')
			n++
		}
	}
	for ; n < 9; n++ {
		nsec *= 10
	}
	return nsec, i
}

// digits parses a fixed-width run of decimal digits.
func digits(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// makeTime checks the ranges of the fields and builds a UTC time.
func makeTime(year, month, day, hour, minute, sec, nsec int) (time.Time, bool) {
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// Epoch bounds: integer parts below minEpoch are not taken for times (they
// are more likely counters or durations); the magnitude of the integer part
// selects the unit.
const (
	minEpoch     = 1e8  // 1973-03-03 in seconds
	maxEpochSec  = 1e11 // below: seconds (up to year 5138)
	maxEpochMsec = 1e14 // below: milliseconds
	maxEpochUsec = 1e17 // below: microseconds; above: nanoseconds
)

// parseEpoch parses a whole value as a Unix epoch in seconds, milliseconds,
// microseconds or nanoseconds, chosen by the magnitude of the integer part
// (see the constants above). Fractions keep sub-unit precision up to the
// nanosecond; exponent notation is accepted with float64 precision.
func parseEpoch(b []byte) (time.Time, bool) {
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return time.Time{}, false
	}
	i := 0
	var ip uint64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if ip > math.MaxInt64/10 {
			return time.Time{}, false
		}
		ip = ip*10 + uint64(b[i]-'0')
	}
	// Fractional digits, kept as a nanosecond-scaled fraction of one unit.
	var frac uint64 // fraction * 1e9
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		scale := uint64(1e8)
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			frac += uint64(b[i]-'0') * scale
			scale /= 10
		}
		if i == start {
			return time.Time{}, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil || f < minEpoch || f >= math.MaxInt64 {
			return time.Time{}, false
		}
		ip = uint64(f)
		frac = uint64((f - math.Floor(f)) * 1e9)
		i = len(b)
	}
	if i != len(b) || ip < minEpoch || ip > math.MaxInt64 {
		return time.Time{}, false
	}
	var sec, nsec int64
	switch {
	case ip < maxEpochSec:
		sec, nsec = int64(ip), int64(frac)
	case ip < maxEpochMsec:
		sec, nsec = int64(ip/1e3), int64(ip%1e3)*1e6+int64(frac/1e3)
	case ip < maxEpochUsec:
		sec, nsec = int64(ip/1e6), int64(ip%1e6)*1e3+int64(frac/1e6)
	default:
		sec, nsec = int64(ip/1e9), int64(ip%1e9)
	}
	return time.Unix(sec, nsec).UTC(), true
}

// valueTime returns the time held by a JSON value: an ISO-8601 string, a
// numeric string or a number (epochs). s is the value's span in b.
func valueTime(b []byte, s span, scratch []byte) (time.Time, bool) {
	v := s.bytes(b)
	switch s.kind {
	case '"':
		if s.esc {
			v = unescape(scratch[:0], v)
		}
		if t, n, ok := parseISO(v); ok && n == len(v) {
			return t, true
		}
		return parseEpoch(v)
	case '0':
		return parseEpoch(v)
	}
	return time.Time{}, false
}

// textTime finds a time at the start of a plain-text message: ISO-8601 with
// a zone, klog, Go log, or a logfmt time=/ts= field. objTime gives klog its
// year.
func textTime(msg []byte, objTime time.Time) (time.Time, bool) {
	if len(msg) == 0 {
		return time.Time{}, false
	}
	switch c := msg[0]; {
	case c >= '0' && c <= '9':
		if t, _, ok := parseISO(msg); ok {
			return t, true
		}
		if t, ok := goLogTime(msg); ok {
			return t, true
		}
	case c == 'I' || c == 'W' || c == 'E' || c == 'F':
		if t, ok := klogTime(msg, objTime); ok {
			return t, true
		}
	}
	return logfmtTime(msg)
}

// goLogTime parses the standard library log prefix "2006/01/02 15:04:05"
// with optional microseconds, taken as UTC.
func goLogTime(b []byte) (time.Time, bool) {
	if len(b) < 19 || b[4] != '/' || b[7] != '/' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return time.Time{}, false
	}
	nsec, _ := fraction(b, 19)
	return makeTime(year, month, day, hour, minute, sec, nsec)
}

// klogTime parses a klog header "Lmmdd hh:mm:ss.uuuuuu" (L is I, W, E or
// F), taken as UTC. klog omits the year: it is the year, of the three around
// objTime's, that puts the line closest to objTime, so that a December line
// in an object written in January lands in the previous year.
func klogTime(b []byte, objTime time.Time) (time.Time, bool) {
	if len(b) < 14 || b[5] != ' ' || b[8] != ':' || b[11] != ':' {
		return time.Time{}, false
	}
	month, ok1 := digits(b[1:3])
	day, ok2 := digits(b[3:5])
	hour, ok3 := digits(b[6:8])
	minute, ok4 := digits(b[9:11])
	sec, ok5 := digits(b[12:14])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return time.Time{}, false
	}
	nsec, _ := fraction(b, 14)
	year := objTime.UTC().Year()
	var best time.Time
	var bestDist time.Duration = math.MaxInt64
	for y := year - 1; y <= year+1; y++ {
		t, ok := makeTime(y, month, day, hour, minute, sec, nsec)
		if !ok { // 29 February in a common year
			continue
		}
		d := t.Sub(objTime)
		if d < 0 {
			d = -d
		}
		if d < bestDist {
			best, bestDist = t, d
		}
	}
	return best, !best.IsZero()
}

var (
	logfmtTimeKey = []byte("time=")
	logfmtTSKey   = []byte("ts=")
)

// logfmtTime finds a logfmt field time= or ts= (at the start of the message
// or after a space), quoted or not, holding an ISO-8601 time with a zone.
func logfmtTime(msg []byte) (time.Time, bool) {
	for _, key := range [...][]byte{logfmtTimeKey, logfmtTSKey} {
		rest := msg
		for {
			i := bytes.Index(rest, key)
			if i < 0 {
				break
			}
			if i > 0 && rest[i-1] != ' ' {
				rest = rest[i+len(key):]
				continue
			}
			v := rest[i+len(key):]
			if len(v) > 0 && v[0] == '"' {
				v = v[1:]
			}
			if t, _, ok := parseISO(v); ok {
				return t, true
			}
			rest = rest[i+len(key):]
		}
	}
	return time.Time{}, false
}
