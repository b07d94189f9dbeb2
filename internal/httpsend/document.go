package httpsend

import (
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/internal/reqbody"
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
	dst = reqbody.AppendString(dst, rec.Message)
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
	return reqbody.AppendString(dst, value)
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
		b = reqbody.AppendString(b, name)
		b = append(b, ':')
		b = reqbody.AppendString(b, m[k])
	}
	b = append(b, '}')
	c.m, c.n, c.json = m, len(m), b
	return b
}
