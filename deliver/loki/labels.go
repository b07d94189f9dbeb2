package loki

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/internal/cwbatch"
	"github.com/logdelivery/logdelivery/keyparse"
)

// unknownStream is the label set of a record whose labels all came out
// empty: Loki refuses streams without labels, and names such streams
// itself with this label.
const unknownStream = `{service_name="unknown_service"}`

// pair is a label or structured metadata name and value.
type pair struct{ Name, Value string }

// labeler turns records into label sets and structured metadata, as one
// destination's settings say. It is built once per delivery and used by
// one goroutine.
type labeler struct {
	key keyparse.Key
	// slots are the labels of every stream, sorted by name: static ones
	// (with their templates) and record fields.
	slots    []slot
	metadata []slot
	// templated is set when some static value holds a placeholder.
	templated bool

	// The inputs of the last label set and metadata built, to reuse them
	// for the next record of the same pod.
	lastInputs, inputs []string
	lastLabels         string
	lastMeta           []pair
	haveLast           bool
}

// slot is one label: a static value (possibly a template) or a field.
type slot struct {
	name  string
	value string // static value or template; "" for a field
	field string // record field; "" for a static value
}

func newLabeler(s *Settings, key keyparse.Key) *labeler {
	l := &labeler{key: key}
	fields := s.LabelFields
	if len(fields) == 0 {
		fields = defaultLabelFields
	}
	for name, v := range s.Labels {
		l.slots = append(l.slots, slot{name: name, value: v})
		if strings.Contains(v, "{") {
			l.templated = true
		}
	}
	for name, f := range fields {
		l.slots = append(l.slots, slot{name: name, field: f})
	}
	for name, f := range s.MetadataFields {
		l.metadata = append(l.metadata, slot{name: name, field: f})
	}
	byName := func(a, b slot) int { return strings.Compare(a.name, b.name) }
	slices.SortFunc(l.slots, byName)
	slices.SortFunc(l.metadata, byName)
	return l
}

// field returns the value of a record field, falling back to the object
// key's for the fields the key has.
func (l *labeler) field(rec *deliver.Record, f string) string {
	or := func(v, fallback string) string {
		if v != "" {
			return v
		}
		return fallback
	}
	switch f {
	case fieldNamespace:
		return or(rec.Namespace, l.key.Namespace)
	case fieldApplication:
		return or(rec.Application, l.key.Application)
	case fieldPod:
		return or(rec.Pod, l.key.Pod)
	case fieldContainer:
		return rec.Container
	case fieldHost:
		return rec.Host
	case fieldStream:
		return rec.Stream
	case fieldCluster:
		return or(rec.Cluster, l.key.Cluster)
	}
	if name, ok := strings.CutPrefix(f, podLabelsPrefix); ok {
		return rec.Labels[name]
	}
	return ""
}

// labels returns the label set of rec in Loki's {name="value", ...} form,
// its pairs (only when the set is new, changed is true), and the
// structured metadata of its entry. Records of one pod get the same
// strings and slice.
func (l *labeler) labels(rec *deliver.Record) (labels string, pairs []pair, meta []pair, changed bool) {
	l.inputs = l.inputs[:0]
	if l.templated {
		l.inputs = append(l.inputs, l.field(rec, fieldNamespace), l.field(rec, fieldApplication))
	}
	for _, s := range l.slots {
		if s.field != "" {
			l.inputs = append(l.inputs, l.field(rec, s.field))
		}
	}
	for _, s := range l.metadata {
		l.inputs = append(l.inputs, l.field(rec, s.field))
	}
	if l.haveLast && slices.Equal(l.inputs, l.lastInputs) {
		return l.lastLabels, nil, l.lastMeta, false
	}

	pairs = make([]pair, 0, len(l.slots))
	for _, s := range l.slots {
		var v string
		if s.field != "" {
			v = l.field(rec, s.field)
		} else {
			v = l.expand(s.value, rec)
		}
		if v = labelValue(v); v != "" {
			pairs = append(pairs, pair{s.name, v})
		}
	}
	labels = formatLabels(pairs)
	if len(pairs) == 0 {
		labels = unknownStream
		pairs = []pair{{"service_name", "unknown_service"}}
	}
	meta = nil
	for _, s := range l.metadata {
		if v := labelValue(l.field(rec, s.field)); v != "" {
			meta = append(meta, pair{s.name, v})
		}
	}
	l.lastInputs = append(l.lastInputs[:0], l.inputs...)
	l.lastLabels, l.lastMeta, l.haveLast = labels, meta, true
	return labels, pairs, meta, true
}

// expand fills the placeholders of a static label value.
func (l *labeler) expand(v string, rec *deliver.Record) string {
	if !strings.Contains(v, "{") {
		return v
	}
	return strings.NewReplacer(
		placeholderNamespace, l.field(rec, fieldNamespace),
		placeholderApplication, l.field(rec, fieldApplication),
	).Replace(v)
}

// labelValue makes a value from a record fit for a label: valid UTF-8, at
// most MaxLabelValueLength bytes.
func labelValue(v string) string {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	return cwbatch.TruncateUTF8(v, MaxLabelValueLength)
}

// formatLabels returns pairs in Loki's label set form, {a="1", b="2"},
// values quoted as Go strings, in the order given (Loki's own form sorts
// them by name).
func formatLabels(pairs []pair) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(p.Value))
	}
	b.WriteByte('}')
	return b.String()
}
