package httpsend

import (
	"math/bits"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/keyparse"
)

// TimeLayout is the layout of @timestamp: RFC 3339 in UTC with nanoseconds,
// always nine digits.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Document encodes records as the JSON documents the HTTP kinds send:
//
//	{"@timestamp":"2026-11-30T10:00:00.000000000Z","message":"payment accepted",
//	 "stream":"stdout","cluster":"prod-east-1","application":"payments",
//	 "kubernetes":{"namespace":"acme","pod":"payments-0","container":"app",
//	  "host":"node-1","labels":{"app":"payments"},"namespace_labels":{"team":"pay"}}}
//
// Empty fields are left out. Cluster, namespace, application and pod fall
// back to the object key's when the record has none. host, labels and
// namespace_labels are written only when Fields asks for them; label keys
// are written in sorted order. A Document is not safe for concurrent use.
type Document struct {
	// Key is the object key of the records: the fallback of their fields.
	Key keyparse.Key
	// Fields are the optional fields to write: deliver.FieldHost,
	// deliver.FieldLabels, deliver.FieldNamespaceLabels.
	Fields deliver.Fields
	// ReplaceDots writes the '.' of label keys as '_', so that
	// app.kubernetes.io/name does not become an object path where app is
	// also a label (as Elasticsearch and OpenSearch read dotted names).
	ReplaceDots bool

	// The records of one pod share their label maps: the last encoding
	// of each is kept.
	labels, nsLabels cachedMap
	// sec and secText are the last second formatted, up to its '.'.
	sec     int64
	secText []byte
}

// appendTime appends t in TimeLayout, formatting its date and time of day
// only when the second changes.
func (d *Document) appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if sec := t.Unix(); sec != d.sec || d.secText == nil {
		d.sec = sec
		d.secText = t.AppendFormat(d.secText[:0], "2006-01-02T15:04:05.")
	}
	dst = append(dst, d.secText...)
	ns := t.Nanosecond()
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + ns%10)
		ns /= 10
	}
	dst = append(dst, digits[:]...)
	return append(dst, 'Z')
}

type cachedMap struct {
	m    map[string]string // held, so that no other map takes its address
	n    int
	json []byte
}

// Append appends the document of rec to dst.
func (d *Document) Append(dst []byte, rec *deliver.Record) []byte {
	dst = append(dst, `{"@timestamp":"`...)
	dst = d.appendTime(dst, rec.Time)
	dst = append(dst, `","message":`...)
	dst = AppendString(dst, rec.Message)
	dst = appendField(dst, "stream", rec.Stream)
	dst = appendField(dst, "cluster", or(rec.Cluster, d.Key.Cluster))
	dst = appendField(dst, "application", or(rec.Application, d.Key.Application))
	dst = append(dst, kubernetes...)
	open := len(dst)
	dst = appendField(dst, "namespace", or(rec.Namespace, d.Key.Namespace))
	dst = appendField(dst, "pod", or(rec.Pod, d.Key.Pod))
	dst = appendField(dst, "container", rec.Container)
	if d.Fields.Has(deliver.FieldHost) {
		dst = appendField(dst, "host", rec.Host)
	}
	if d.Fields.Has(deliver.FieldLabels) && len(rec.Labels) > 0 {
		dst = append(dst, `,"labels":`...)
		dst = append(dst, d.labels.encode(rec.Labels, d.ReplaceDots)...)
	}
	if d.Fields.Has(deliver.FieldNamespaceLabels) && len(rec.NamespaceLabels) > 0 {
		dst = append(dst, `,"namespace_labels":`...)
		dst = append(dst, d.nsLabels.encode(rec.NamespaceLabels, d.ReplaceDots)...)
	}
	if len(dst) == open {
		dst = dst[:open-len(kubernetes)] // no kubernetes fields
	} else {
		dst = slices.Delete(dst, open, open+1) // the first field's comma
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

const kubernetes = `,"kubernetes":{`

func or(v, fallback string) string {
	if v != "" {
		return v
	}
	return fallback
}

// appendField appends ,"name":"value" unless value is empty.
func appendField(dst []byte, name, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return AppendString(dst, value)
}

// encode returns the JSON object of m, from the cache when m is the map
// encoded last.
func (c *cachedMap) encode(m map[string]string, replaceDots bool) []byte {
	if c.m != nil && reflect.ValueOf(m).Pointer() == reflect.ValueOf(c.m).Pointer() && len(m) == c.n {
		return c.json
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := append(c.json[:0], '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		name := k
		if replaceDots {
			name = strings.ReplaceAll(k, ".", "_")
		}
		b = AppendString(b, name)
		b = append(b, ':')
		b = AppendString(b, m[k])
	}
	b = append(b, '}')
	c.m, c.n, c.json = m, len(m), b
	return b
}

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
