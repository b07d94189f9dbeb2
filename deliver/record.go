package deliver

import (
	"strconv"
	"time"
)

// Record is one decoded log event of an object.
type Record struct {
	// Time is the event time: from the record, from its message, or the
	// object's time when neither carries one (see TimeSource).
	Time time.Time
	// TimeSource says where Time came from.
	TimeSource TimeSource
	// Message is what the tenant receives: the original container line, or
	// the record without collector metadata as compact JSON. Never empty.
	Message string

	// Source metadata, empty when the collector did not send it.
	Stream    string // "stdout" or "stderr"
	Namespace string
	Pod       string
	Container string
	Cluster   string
	// Application is the record's application, falling back to the key's.
	Application string

	// Metadata decoded only when a selector or destination asks for it (see
	// Fields); nil or empty otherwise. Records of one pod share the same
	// maps: treat them as read-only.
	Host            string            // kubernetes.pod_node_name
	Labels          map[string]string // kubernetes.pod_labels
	NamespaceLabels map[string]string // kubernetes.namespace_labels
}

// Fields names the optional record metadata a consumer needs decoded.
type Fields uint8

// Optional record fields.
const (
	FieldHost            Fields = 1 << iota // Record.Host
	FieldLabels                             // Record.Labels
	FieldNamespaceLabels                    // Record.NamespaceLabels
)

// RecordFielder is implemented by settings whose deliverer reads optional
// record metadata (a destination turning pod labels into its own labels):
// the Dispatcher has the decoder fill those fields for it.
type RecordFielder interface {
	RecordFields() Fields
}

// Has reports whether f includes every field of g.
func (f Fields) Has(g Fields) bool { return f&g == g }

// TimeSource says where a Record's Time came from.
type TimeSource uint8

// Where a record's time came from.
const (
	TimeFromRecord  TimeSource = iota // the collector's timestamp field
	TimeFromMessage                   // a field or prefix of the message
	TimeFromObject                    // the object's time: nothing better found
)

// String returns "record", "message" or "object".
func (s TimeSource) String() string {
	switch s {
	case TimeFromRecord:
		return "record"
	case TimeFromMessage:
		return "message"
	case TimeFromObject:
		return "object"
	}
	return "TimeSource(" + strconv.Itoa(int(s)) + ")"
}

// RecordReader streams the records of one object.
type RecordReader interface {
	// Next returns the next record, or io.EOF after the last one. Any other
	// error ends the stream (for example a corrupt gzip member or the
	// decompressed size cap); records returned before it are valid. The
	// returned Record is owned by the caller.
	Next() (Record, error)
	// Stats reports what was decoded and skipped so far.
	Stats() DecodeStats
	Close() error
}

// DecodeStats counts the input of one record stream.
type DecodeStats struct {
	Lines        int64 // input lines read
	Records      int64 // records returned
	BadJSON      int64 // lines that were not valid JSON (sent as plain text or skipped, see the decoder)
	InvalidUTF8  int64 // records whose message had invalid UTF-8 repaired
	TooLong      int64 // lines over the line limit, skipped
	Empty        int64 // records with an empty message, skipped
	Filtered     int64 // records the destination's selection did not select
	InputBytes   int64 // decompressed bytes read
	CompressedIn int64 // compressed bytes read, when known
}

// Undecoded is the number of input lines or records that did not become
// records (too long, empty), selection excluded.
func (s DecodeStats) Undecoded() int64 { return s.TooLong + s.Empty }
