// Package decode streams the log records of a log object: it detects the
// compression (gzip, including multi-member, zstd, or none), splits the
// object into lines, decodes Vector events (NDJSON, or lines holding JSON
// arrays of events) and plain-text lines, and finds each record's message
// and time. Memory is bounded by one line plus buffers, whatever the size of
// the object.
//
// # Messages
//
// A record's message is the event's "message" field, unchanged; a
// non-string message is its compact JSON. An event without a message (or
// with a null one) becomes the event minus the collector's metadata fields
// (timestamp, kubernetes, cluster_id, namespace, application, pod_name,
// container_name, ingest_timestamp, stream, source_type, file), as compact
// JSON. A line that is not a JSON object or array is a plain-text message
// as it is, without its line ending; a line that starts like a JSON object
// but is not valid JSON is sent the same way and counted in
// DecodeStats.BadJSON, so that nothing is lost. Empty messages and blank
// lines are counted in DecodeStats.Empty and skipped: CloudWatch Logs
// rejects empty events. Lines longer than Options.MaxLineBytes are counted
// in DecodeStats.TooLong and skipped; the lines after them decode normally.
//
// Invalid UTF-8 (CloudWatch Logs requires valid UTF-8) is repaired: each run
// of invalid bytes becomes U+FFFD, and the record is counted in
// DecodeStats.InvalidUTF8. Metadata fields are repaired the same way.
//
// # Metadata
//
// A record carries the event's source metadata: stream, namespace
// (kubernetes.pod_namespace or kubernetes.namespace_name, else namespace),
// pod, container, cluster and application (the event's "application", else
// Options.Application). Options.Fields asks for more, decoded only then:
// Record.Host from kubernetes.pod_node_name, Record.Labels from
// kubernetes.pod_labels and Record.NamespaceLabels from
// kubernetes.namespace_labels. Labels map each key, as it is, to its string
// value; Vector's flattened keys such as "app.kubernetes.io/name" are not
// split, a value that is not a string becomes its compact JSON text, and a
// labels field that is not an object gives no labels (nil, as does an empty
// object). The records of one pod carry byte-identical label objects: a
// Reader decodes each distinct object once (it remembers the last few) and
// gives every record of it the same map. Record maps are therefore shared
// between records and must be treated as read-only.
//
// # Times
//
// A record's time is the first found of: the event's "timestamp" field;
// the fields "ts", "time", "stageTimestamp", "requestReceivedTimestamp" of a
// message that is a JSON object; a time at the start of a text message
// (ISO-8601 with "Z" or a ±hh:mm offset and 0–9 fractional digits, klog
// "I0830 11:27:01.564974" with the year taken from the object's time, Go log
// "2006/01/02 15:04:05"), or a logfmt time= or ts= field. Time values in
// JSON fields may also be Unix epochs in seconds, milliseconds, microseconds
// or nanoseconds, chosen by magnitude, as numbers or numeric strings
// (values below 1e8 are not taken for times). Sub-second precision is kept.
// Times without a zone are not trusted, except klog and Go log headers,
// which are read as UTC. When nothing is found the record gets the object's
// time. Record times are in UTC; Record.TimeSource says which rule applied.
//
// # Errors
//
// Corrupt compressed data and the decompressed size cap end the stream with
// a permanent error (wrapping ErrCorrupt or ErrTooLarge); a failure to read
// the object ends it with a retryable error. Records returned before the
// error are as the object holds them; note that gzip verifies its checksum
// only at the end of each member, so the lines just before a corruption is
// detected may hold garbage.
package decode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
)

// Defaults of Options.
const (
	// DefaultMaxDecompressedBytes is the default cap on the decompressed
	// size of one object: 4 GiB. Collectors write objects of megabytes (a
	// Vector S3 sink batch is 10 MB by default); log text compresses about
	// 10:1, so this is orders of magnitude above real objects, yet a
	// decompression bomb costs seconds of CPU, not a function's deadline.
	// Memory never depends on it.
	DefaultMaxDecompressedBytes = 4 << 30
	// DefaultMaxLineBytes is the default longest line: 2 MiB, room for a
	// Vector event around a 1 MiB message (the largest CloudWatch Logs
	// event) with its escaping and metadata.
	DefaultMaxLineBytes = 2 << 20
	// maxZstdWindow bounds the memory a zstd frame may ask for. Every
	// compression level of the zstd tool up to 19 uses at most 8 MiB.
	maxZstdWindow = 32 << 20
)

// Errors wrapped by the errors that end a stream, for errors.Is.
var (
	// ErrCorrupt marks an object whose compressed data cannot be decoded.
	ErrCorrupt = errors.New("corrupt log object")
	// ErrTooLarge marks an object that decompresses to more than
	// Options.MaxDecompressedBytes.
	ErrTooLarge = errors.New("log object exceeds the decompressed size limit")
)

// metadataFields are the top-level event fields the collector adds. They
// are left out of the message built for an event without a "message".
var metadataFields = [...]string{
	"timestamp", "kubernetes", "cluster_id", "namespace", "application",
	"pod_name", "container_name", "ingest_timestamp", "stream",
	"source_type", "file",
}

// Options configure a Reader.
type Options struct {
	// MaxDecompressedBytes caps the decompressed size of the object; more
	// ends the stream with a permanent error wrapping ErrTooLarge.
	// Default DefaultMaxDecompressedBytes.
	MaxDecompressedBytes int64
	// MaxLineBytes is the longest line decoded; longer lines are skipped
	// and counted in DecodeStats.TooLong. Default DefaultMaxLineBytes.
	MaxLineBytes int
	// Application is the application of records that do not name one,
	// usually the object key's. Default empty.
	Application string
	// Accept, when set, decides by application which records are
	// returned; the others are counted in DecodeStats.Filtered. Default:
	// every record.
	Accept func(application string) bool
	// Fields names the optional metadata to decode into records (see the
	// package documentation). Default: none, which costs nothing.
	Fields deliver.Fields
	// Logger receives a warning for the first bad line of each kind in an
	// object (later ones are only counted). Default: discard.
	Logger *slog.Logger
	// Pool, when set, lends the Reader its read buffer, line buffer and
	// gzip decompressor, which Close gives back, so that a processor of
	// many small objects does not allocate them for every object. Share
	// one Pool between the Readers of a process. Default: none.
	Pool *Pool
	// Sequential decompresses on the goroutine that calls Next. By
	// default, when GOMAXPROCS is above 1, a compressed object of at least
	// 128 KiB (or of unknown size) is decompressed on a goroutine of its
	// own, up to 256 KiB ahead of the decoder, so that decompression and
	// decoding overlap; smaller objects take too little time for it to
	// pay.
	Sequential bool
}

// Pool keeps the buffers and decompressors of closed Readers for the next
// ones. The zero Pool is ready to use; it is safe for concurrent use, and
// holds only what closed Readers gave back (a garbage collection may drop
// it).
type Pool struct {
	reads, lines, gzips, blocks sync.Pool
}

func (p *Pool) block() []byte {
	if p != nil {
		if b, ok := p.blocks.Get().(*[]byte); ok {
			return *b
		}
	}
	return make([]byte, aheadBlockSize)
}

func (p *Pool) putBlock(b []byte) {
	if p != nil && cap(b) == aheadBlockSize {
		b = b[:aheadBlockSize]
		p.blocks.Put(&b)
	}
}

func (p *Pool) bufioReader(r io.Reader) *bufio.Reader {
	if p != nil {
		if br, ok := p.reads.Get().(*bufio.Reader); ok {
			br.Reset(r)
			return br
		}
	}
	return bufio.NewReaderSize(r, readBuffer)
}

func (p *Pool) lineBuffer(size int) []byte {
	if p != nil && size == initialLineBuffer {
		if b, ok := p.lines.Get().(*[]byte); ok {
			return *b
		}
	}
	return make([]byte, size)
}

// gzipReader returns a gzip reader of r and whether it came from the pool.
func (p *Pool) gzipReader(r io.Reader) (*gzip.Reader, error) {
	if p != nil {
		if zr, ok := p.gzips.Get().(*gzip.Reader); ok {
			if err := zr.Reset(r); err != nil {
				p.gzips.Put(zr)
				return nil, err
			}
			return zr, nil
		}
	}
	return gzip.NewReader(r)
}

// put gives back what a closed Reader borrowed.
func (p *Pool) put(br *bufio.Reader, lines []byte, zr *gzip.Reader) {
	if p == nil {
		return
	}
	if br != nil {
		br.Reset(nil)
		p.reads.Put(br)
	}
	if len(lines) == initialLineBuffer {
		p.lines.Put(&lines)
	}
	if zr != nil {
		p.gzips.Put(zr)
	}
}

// readBuffer is the size of the buffer between the body and the
// decompressor.
const readBuffer = 64 << 10

// Compression is the compression of an object.
type Compression uint8

// Compressions of an object.
const (
	None Compression = iota
	Gzip
	Zstd
)

// String returns "none", "gzip" or "zstd".
func (c Compression) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "none"
}

// Reader streams the records of one object. It implements
// deliver.RecordReader. A Reader is not safe for concurrent use.
type Reader struct {
	opts    Options
	name    string // s3://bucket/key, for messages
	objTime time.Time

	body   io.Closer
	src    *sourceReader
	capped *capReader
	ahead  *aheadReader // decompressing on its own goroutine; nil when not
	br     *bufio.Reader
	gz     *gzip.Reader
	zr     *zstd.Decoder
	comp   Compression
	lines  *lineReader
	stats  deliver.DecodeStats
	err    error
	closed bool

	// The array line being iterated, if any.
	arr    []byte
	arrPos int

	// Scratch buffers, reused across records.
	msgBuf  []byte
	scratch []byte

	// Last seen metadata values, to share strings and maps between
	// records.
	stream, namespace, pod, container, cluster, app, host interner
	labels, namespaceLabels                               labelCache
	k8s                                                   k8sMemo

	warned [4]bool
}

// bad line kinds, for the first-occurrence warnings
const (
	warnBadJSON = iota
	warnTooLong
	warnUTF8
	warnEmpty
)

// NewReader returns a Reader of the records of obj, read from body. The
// Reader owns body and closes it in Close (and on error). The compression is
// detected from the first bytes; Body.ContentEncoding, Body.ContentType and
// the key's extension are only consulted when the data does not start with
// a gzip or zstd header: an object declared compressed whose first bytes
// are not valid UTF-8 text is corrupt (a permanent error), while one that is
// text was decompressed on the way and is read as it is.
//
// obj.Time is the fallback time of records; when it is zero,
// body.LastModified is used, and when both are zero the time the Reader was
// created, with a warning.
func NewReader(body *deliver.Body, obj deliver.Object, optFns ...func(*Options)) (*Reader, error) {
	var opts Options
	for _, fn := range optFns {
		fn(&opts)
	}
	if opts.MaxDecompressedBytes <= 0 {
		opts.MaxDecompressedBytes = DefaultMaxDecompressedBytes
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Reader{
		opts:    opts,
		name:    "s3://" + obj.Bucket + "/" + obj.Key,
		objTime: obj.Time,
		body:    body,
	}
	if r.objTime.IsZero() {
		r.objTime = body.LastModified
	}
	if r.objTime.IsZero() {
		r.objTime = time.Now()
		opts.Logger.Warn("log object has no time; records without a timestamp get the read time",
			"object", r.name, "time", r.objTime)
	}
	r.objTime = r.objTime.UTC()

	r.src = &sourceReader{r: body}
	br := opts.Pool.bufioReader(r.src)
	r.br = br
	magic, err := br.Peek(4)
	if err != nil && err != io.EOF {
		r.release()
		body.Close()
		return nil, fault.Retryable(fmt.Errorf("decode: reading %s: %w", r.name, err))
	}
	declared := declaredCompression(body, obj.Key)
	var data io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		r.comp = Gzip
		zr, err := opts.Pool.gzipReader(br)
		if err != nil {
			r.release()
			body.Close()
			return nil, r.classify(noEOF(err))
		}
		r.gz = zr
		data = zr
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		r.comp = Zstd
		zr, err := zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			r.release()
			body.Close()
			return nil, r.classify(noEOF(err))
		}
		r.zr = zr
		data = zr
	case declared != None && len(magic) > 0:
		head, _ := br.Peek(512)
		if !looksLikeText(head) {
			r.release()
			body.Close()
			return nil, fault.Permanent(fmt.Errorf("decode: %s is declared %s but does not start with a %s header: %w",
				r.name, declared, declared, ErrCorrupt))
		}
		opts.Logger.Debug("log object declared compressed holds text; reading it as is",
			"object", r.name, "declared", declared.String())
	}
	r.capped = &capReader{r: data, max: opts.MaxDecompressedBytes}
	var lines io.Reader = r.capped
	if r.comp != None && !opts.Sequential && runtime.GOMAXPROCS(0) > 1 && !(body.Size >= 0 && body.Size < minAheadSize) {
		capped, src := r.capped, r.src
		r.ahead = startAhead(capped, func() (int64, int64) { return capped.n, src.n }, opts.Pool)
		lines = r.ahead
	}
	r.lines = newLineReader(lines, opts.MaxLineBytes, opts.Pool)
	return r, nil
}

// release gives the Reader's buffers and decompressor back to the pool.
func (r *Reader) release() {
	var lines []byte
	if r.lines != nil {
		lines, r.lines.buf = r.lines.buf, nil
	}
	r.opts.Pool.put(r.br, lines, r.gz)
	r.br, r.gz = nil, nil
}

// Records returns a function for deliver.Delivery.Records: each call opens
// the object with open and returns a Reader of its records. Errors of open
// are returned as they are.
func Records(open func(context.Context) (*deliver.Body, error), obj deliver.Object, optFns ...func(*Options)) func(context.Context) (deliver.RecordReader, error) {
	return func(ctx context.Context) (deliver.RecordReader, error) {
		body, err := open(ctx)
		if err != nil {
			return nil, err
		}
		return NewReader(body, obj, optFns...)
	}
}

// Compression returns the compression detected.
func (r *Reader) Compression() Compression { return r.comp }

// declaredCompression reads the compression from the object's metadata and
// key.
func declaredCompression(body *deliver.Body, key string) Compression {
	enc := strings.ToLower(body.ContentEncoding)
	typ := strings.ToLower(body.ContentType)
	key = strings.ToLower(key)
	switch {
	case strings.Contains(enc, "gzip"), strings.Contains(typ, "gzip"),
		strings.HasSuffix(key, ".gz"), strings.HasSuffix(key, ".gzip"):
		return Gzip
	case strings.Contains(enc, "zstd"), strings.Contains(typ, "zstd"),
		strings.HasSuffix(key, ".zst"), strings.HasSuffix(key, ".zstd"):
		return Zstd
	}
	return None
}

// looksLikeText reports whether b is valid UTF-8 (allowing a rune cut at
// the end) without NUL bytes.
func looksLikeText(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			return len(b) < utf8.UTFMax && !utf8.FullRune(b)
		}
		b = b[n:]
	}
	return true
}

// Next returns the next record, or io.EOF after the last one. Any other
// error ends the stream; see the package documentation.
func (r *Reader) Next() (deliver.Record, error) {
	if r.err != nil {
		return deliver.Record{}, r.err
	}
	for {
		if r.arr != nil {
			if rec, ok := r.nextElement(); ok {
				r.stats.Records++
				return rec, nil
			}
			continue
		}
		line, tooLong, err := r.lines.next()
		if err != nil {
			r.err = r.classify(err)
			return deliver.Record{}, r.err
		}
		r.stats.Lines++
		if tooLong {
			r.stats.TooLong++
			r.warn(warnTooLong, "log line over the length limit skipped", "limit", r.opts.MaxLineBytes)
			continue
		}
		if rec, ok := r.decodeLine(line); ok {
			r.stats.Records++
			return rec, nil
		}
	}
}

// Stats reports what was decoded and skipped so far.
func (r *Reader) Stats() deliver.DecodeStats {
	s := r.stats
	var out, in int64
	if r.ahead != nil {
		out, in = r.ahead.out, r.ahead.in
	} else {
		out, in = r.capped.n, r.src.n
	}
	s.InputBytes = out
	if r.comp != None {
		s.CompressedIn = in
	}
	return s
}

// Close releases the decompressor and closes the body. Later calls do
// nothing and return nil.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.err == nil {
		r.err = errClosed
	}
	var err error
	if r.ahead != nil {
		err = r.ahead.stopAndWait(r.body.Close, r.opts.Pool)
	} else {
		err = r.body.Close()
	}
	if r.zr != nil {
		r.zr.Close()
		r.zr = nil
	}
	r.release()
	return err
}

// noEOF turns io.EOF, which means a truncated header where a header is
// due, into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

var errClosed = errors.New("decode: reader closed")

// classify turns the error that ended the data stream into the error Next
// returns.
func (r *Reader) classify(err error) error {
	switch {
	case err == io.EOF:
		return io.EOF
	case r.src.err != nil:
		// The body failed: the same object may read fine later.
		return fault.Retryable(fmt.Errorf("decode: reading %s: %w", r.name, r.src.err))
	case errors.Is(err, ErrTooLarge):
		return fault.Permanent(fmt.Errorf("decode: %s: %w (%d bytes)", r.name, err, r.opts.MaxDecompressedBytes))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fault.Permanent(fmt.Errorf("decode: %s: truncated %s data: %w", r.name, r.comp, ErrCorrupt))
	}
	return fault.Permanent(fmt.Errorf("decode: %s: %s data: %w: %w", r.name, r.comp, ErrCorrupt, err))
}

func (r *Reader) warn(kind int, msg string, args ...any) {
	if r.warned[kind] {
		return
	}
	r.warned[kind] = true
	r.opts.Logger.Warn(msg, append(args, "object", r.name, "line", r.stats.Lines)...)
}

// decodeLine decodes one line that is not part of an array. It returns
// false when the line yields no record now (skipped, or an array whose
// elements Next iterates).
func (r *Reader) decodeLine(line []byte) (deliver.Record, bool) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	i := skipSpace(line, 0)
	if i == len(line) {
		r.stats.Empty++
		return deliver.Record{}, false
	}
	switch line[i] {
	case '{':
		var ev event
		if ev.parse(line, i, &r.k8s) {
			return r.eventRecord(line, &ev)
		}
		r.stats.BadJSON++
		r.warn(warnBadJSON, "log line is not valid JSON; sent as plain text")
	case '[':
		if end, ok := skipComposite(line, i, 0); ok && skipSpace(line, end) == len(line) {
			r.arr = line
			r.arrPos = skipSpace(line, i+1)
			return deliver.Record{}, false
		}
		if j := skipSpace(line, i+1); j < len(line) && line[j] == '{' {
			r.stats.BadJSON++
			r.warn(warnBadJSON, "log line is not a valid JSON array; sent as plain text")
		}
	}
	return r.textRecord(line)
}

// nextElement decodes the next element of the current array line.
func (r *Reader) nextElement() (deliver.Record, bool) {
	b := r.arr
	i := skipSpace(b, r.arrPos)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] == ']' {
		r.arr = nil
		return deliver.Record{}, false
	}
	v, end, _ := scanValue(b, i) // the array was validated
	r.arrPos = end
	elem := b[:end]
	switch v.kind {
	case '{':
		var ev event
		ev.parse(elem, i, &r.k8s)
		return r.eventRecord(elem, &ev)
	case '"':
		msg := v.bytes(b)
		if v.esc {
			r.msgBuf = unescape(r.msgBuf[:0], msg)
			msg = r.msgBuf
		}
		return r.textRecord(msg)
	case 'n':
		r.stats.Empty++
		return deliver.Record{}, false
	}
	r.msgBuf = append(r.msgBuf[:0], v.bytes(b)...)
	return r.textRecord(r.msgBuf)
}

// event holds the spans of the fields of a Vector event the decoder uses.
type event struct {
	start                                   int // index of the opening brace
	message, timestamp                      span
	hasMessage, hasTimestamp                bool
	k8sPod, k8sContainer, k8sNamespace      span
	k8sHost, k8sLabels, k8sNamespaceLabels  span
	cluster, namespace, app, pod, container span
	stream                                  span
}

// parse finds the fields of the event object starting at b[i] and reports
// whether the line is a valid JSON object with nothing after it.
func (ev *event) parse(b []byte, i int, memo *k8sMemo) bool {
	ev.start = i
	m := members{b: b, i: i}
	for m.nextKey() {
		if string(m.key.bytes(b)) == "kubernetes" && m.i < len(b) && b[m.i] == '{' {
			// Read the metadata object in the same pass that skips it, or
			// take it from the memo when the pod's last event had the same.
			start := m.i
			end, ok := memo.lookup(ev, b, start)
			if !ok {
				end, ok = ev.parseKubernetes(b, start)
				if ok {
					memo.remember(ev, b, start, end)
				}
			}
			if !m.skipTo(span{start: start, end: end, kind: '{'}, end, ok) {
				break
			}
			continue
		}
		if !m.value() {
			break
		}
		switch string(m.key.bytes(b)) {
		case "message":
			ev.message, ev.hasMessage = m.val, m.val.kind != 'n'
		case "timestamp":
			ev.timestamp, ev.hasTimestamp = m.val, true
		case "cluster_id":
			ev.cluster = m.val
		case "namespace":
			ev.namespace = m.val
		case "application":
			ev.app = m.val
		case "pod_name":
			ev.pod = m.val
		case "container_name":
			ev.container = m.val
		case "stream":
			ev.stream = m.val
		default:
			if m.key.esc {
				ev.escapedKey(&m)
			}
		}
	}
	return !m.err && skipSpace(b, m.i) == len(b)
}

// escapedKey handles a member whose key is written with escapes, which is
// rare but legal.
func (ev *event) escapedKey(m *members) {
	switch {
	case m.keyIs("message"):
		ev.message, ev.hasMessage = m.val, m.val.kind != 'n'
	case m.keyIs("timestamp"):
		ev.timestamp, ev.hasTimestamp = m.val, true
	}
}

// parseKubernetes reads the collector's "kubernetes" object starting at
// b[i] and returns the index after it.
func (ev *event) parseKubernetes(b []byte, i int) (int, bool) {
	m := members{b: b, i: i}
	for m.next() {
		switch string(m.key.bytes(b)) {
		case "pod_name":
			ev.k8sPod = m.val
		case "container_name":
			ev.k8sContainer = m.val
		case "pod_namespace", "namespace_name":
			ev.k8sNamespace = m.val
		case "pod_node_name":
			ev.k8sHost = m.val
		case "pod_labels":
			ev.k8sLabels = m.val
		case "namespace_labels":
			ev.k8sNamespaceLabels = m.val
		}
	}
	return m.i, !m.err
}

// k8sMemo remembers the last few "kubernetes" objects and the spans
// parseKubernetes found in them, relative to the object's start. The
// events of one pod carry byte-identical objects (hundreds of bytes of
// names, labels and ids), so comparing bytes replaces scanning them: a
// remembered object is valid JSON, so bytes equal to it are the same
// complete object.
type k8sMemo struct {
	raw   [4][]byte
	spans [4]k8sSpans
	next  int
}

// k8sSpans are the fields of event that parseKubernetes sets.
type k8sSpans struct {
	pod, container, namespace, host, labels, namespaceLabels span
}

// maxMemoK8s is the largest object the memo keeps, so that hostile lines
// cannot make it hold megabytes.
const maxMemoK8s = 16 << 10

func (k *k8sSpans) shift(d int) {
	for _, s := range []*span{&k.pod, &k.container, &k.namespace, &k.host, &k.labels, &k.namespaceLabels} {
		if s.kind != 0 {
			s.start += d
			s.end += d
		}
	}
}

// lookup sets the kubernetes fields of ev from a remembered object equal
// to the one at b[start], and returns the index after it.
func (k *k8sMemo) lookup(ev *event, b []byte, start int) (int, bool) {
	rest := b[start:]
	for i, raw := range k.raw {
		if len(raw) == 0 || len(rest) < len(raw) || !bytes.Equal(rest[:len(raw)], raw) {
			continue
		}
		sp := k.spans[i]
		sp.shift(start)
		ev.k8sPod, ev.k8sContainer, ev.k8sNamespace = sp.pod, sp.container, sp.namespace
		ev.k8sHost, ev.k8sLabels, ev.k8sNamespaceLabels = sp.host, sp.labels, sp.namespaceLabels
		return start + len(raw), true
	}
	return 0, false
}

// remember keeps the object b[start:end] that ev was just parsed from.
func (k *k8sMemo) remember(ev *event, b []byte, start, end int) {
	if end-start > maxMemoK8s {
		return
	}
	sp := k8sSpans{ev.k8sPod, ev.k8sContainer, ev.k8sNamespace, ev.k8sHost, ev.k8sLabels, ev.k8sNamespaceLabels}
	sp.shift(-start)
	k.raw[k.next] = append(k.raw[k.next][:0], b[start:end]...)
	k.spans[k.next] = sp
	k.next = (k.next + 1) % len(k.raw)
}

// recordMeta is the source metadata of a record.
type recordMeta struct {
	stream, namespace, pod, container, cluster, app string
	host                                            string
	labels, namespaceLabels                         map[string]string
}

// eventRecord builds the record of a parsed event.
func (r *Reader) eventRecord(b []byte, ev *event) (deliver.Record, bool) {
	meta := recordMeta{
		stream:    r.stream.get(r, b, ev.stream),
		namespace: r.namespace.get(r, b, first(ev.k8sNamespace, ev.namespace)),
		pod:       r.pod.get(r, b, first(ev.k8sPod, ev.pod)),
		container: r.container.get(r, b, first(ev.k8sContainer, ev.container)),
		cluster:   r.cluster.get(r, b, ev.cluster),
		app:       r.app.get(r, b, ev.app),
	}
	if meta.app == "" {
		meta.app = r.opts.Application
	}
	if r.opts.Accept != nil && !r.opts.Accept(meta.app) {
		r.stats.Filtered++
		return deliver.Record{}, false
	}
	if f := r.opts.Fields; f != 0 {
		if f.Has(deliver.FieldHost) {
			meta.host = r.host.get(r, b, ev.k8sHost)
		}
		if f.Has(deliver.FieldLabels) {
			meta.labels = r.labels.get(r, b, ev.k8sLabels)
		}
		if f.Has(deliver.FieldNamespaceLabels) {
			meta.namespaceLabels = r.namespaceLabels.get(r, b, ev.k8sNamespaceLabels)
		}
	}

	// The message.
	var msg []byte
	msgIsText := false
	switch {
	case !ev.hasMessage:
		r.msgBuf = rest(r.msgBuf[:0], b, ev)
		msg = r.msgBuf
	case ev.message.kind == '"':
		msg = ev.message.bytes(b)
		if ev.message.esc {
			r.msgBuf = unescape(r.msgBuf[:0], msg)
			msg = r.msgBuf
		}
		msgIsText = true
	default:
		r.msgBuf = compact(r.msgBuf[:0], ev.message.bytes(b))
		msg = r.msgBuf
	}
	if len(msg) == 0 {
		r.stats.Empty++
		r.warn(warnEmpty, "log record with an empty message skipped")
		return deliver.Record{}, false
	}

	// The time: the event's, else the message's.
	if ev.hasTimestamp {
		if t, ok := valueTime(b, ev.timestamp, r.scratch); ok {
			return r.finish(msg, t, deliver.TimeFromRecord, meta, false)
		}
	}
	if !msgIsText && msg[0] == '{' {
		// A JSON object message, or the event without metadata.
		if t, ok := r.jsonTime(msg); ok {
			return r.finish(msg, t, deliver.TimeFromMessage, meta, false)
		}
	}
	return r.finish(msg, time.Time{}, deliver.TimeFromObject, meta, msgIsText)
}

// first returns a when it is a value, else b.
func first(a, b span) span {
	if a.kind != 0 {
		return a
	}
	return b
}

// rest appends the event without metadata fields, as compact JSON. It
// returns dst unchanged when nothing is left.
func rest(dst, b []byte, ev *event) []byte {
	start := len(dst)
	dst = append(dst, '{')
	m := members{b: b, i: ev.start}
	n := 0
	for m.next() {
		if isMetadata(&m) || (m.keyIs("message") && m.val.kind == 'n') {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, '"')
		dst = append(dst, m.key.bytes(b)...)
		dst = append(dst, '"', ':')
		dst = compact(dst, rawValue(b, m.val))
	}
	if n == 0 {
		return dst[:start]
	}
	return append(dst, '}')
}

// rawValue returns the text of a value, with the quotes of a string.
func rawValue(b []byte, v span) []byte {
	if v.kind == '"' {
		return b[v.start-1 : v.end+1]
	}
	return v.bytes(b)
}

func isMetadata(m *members) bool {
	for _, f := range metadataFields {
		if m.keyIs(f) {
			return true
		}
	}
	return false
}

// Fields of a JSON message that hold its time, in order of preference.
var messageTimeFields = [...]string{"ts", "time", "stageTimestamp", "requestReceivedTimestamp"}

// jsonTime returns the time of a message that is a JSON object, from the
// first of messageTimeFields that holds a valid time.
func (r *Reader) jsonTime(msg []byte) (time.Time, bool) {
	var found [len(messageTimeFields)]span
	m := members{b: msg, i: skipSpace(msg, 0)}
	for m.next() {
		for i, f := range messageTimeFields {
			if found[i].kind != 0 || !m.keyIs(f) {
				continue
			}
			if i == 0 { // the preferred field: no need to read further
				if t, ok := valueTime(msg, m.val, r.scratch); ok {
					return t, true
				}
			}
			found[i] = m.val
			break
		}
	}
	for _, v := range found[1:] {
		if v.kind == 0 {
			continue
		}
		if t, ok := valueTime(msg, v, r.scratch); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// textRecord builds the record of a plain-text message: a line, or an
// array element that is not an object.
func (r *Reader) textRecord(line []byte) (deliver.Record, bool) {
	if r.opts.Accept != nil && !r.opts.Accept(r.opts.Application) {
		r.stats.Filtered++
		return deliver.Record{}, false
	}
	return r.finish(line, time.Time{}, deliver.TimeFromObject, recordMeta{app: r.opts.Application}, true)
}

// finish completes a record: it finds the time of a text message when
// none is known yet, repairs invalid UTF-8 and copies the message.
func (r *Reader) finish(msg []byte, t time.Time, src deliver.TimeSource, meta recordMeta, text bool) (deliver.Record, bool) {
	if len(msg) == 0 {
		r.stats.Empty++
		r.warn(warnEmpty, "log record with an empty message skipped")
		return deliver.Record{}, false
	}
	if src == deliver.TimeFromObject && text {
		if mt, ok := r.messageTime(msg); ok {
			t, src = mt, deliver.TimeFromMessage
		}
	}
	if src == deliver.TimeFromObject {
		t = r.objTime
	}
	var s string
	if utf8.Valid(msg) {
		s = string(msg)
	} else {
		s = strings.ToValidUTF8(string(msg), "\uFFFD")
		r.stats.InvalidUTF8++
		r.warn(warnUTF8, "log record with invalid UTF-8 repaired")
	}
	if meta.app == "" {
		meta.app = r.opts.Application
	}
	return deliver.Record{
		Time:        t,
		TimeSource:  src,
		Message:     s,
		Stream:      meta.stream,
		Namespace:   meta.namespace,
		Pod:         meta.pod,
		Container:   meta.container,
		Cluster:     meta.cluster,
		Application: meta.app,

		Host:            meta.host,
		Labels:          meta.labels,
		NamespaceLabels: meta.namespaceLabels,
	}, true
}

// messageTime finds the time of a text message: the fields of a JSON
// object message, or a leading time.
func (r *Reader) messageTime(msg []byte) (time.Time, bool) {
	if i := skipSpace(msg, 0); i < len(msg) && msg[i] == '{' {
		return r.jsonTime(msg[i:])
	}
	return textTime(msg, r.objTime)
}

// interner shares the strings of a metadata field between records: it
// remembers the last few distinct values.
type interner struct {
	s    [4]string
	next int
}

func (in *interner) get(r *Reader, b []byte, v span) string {
	if v.kind != '"' {
		return ""
	}
	raw := v.bytes(b)
	if v.esc {
		r.scratch = unescape(r.scratch[:0], raw)
		raw = r.scratch
	}
	for _, s := range in.s {
		if string(raw) == s {
			return s
		}
	}
	s := validString(raw)
	in.s[in.next] = s
	in.next = (in.next + 1) % len(in.s)
	return s
}

// validString returns b as a string, with invalid UTF-8 repaired.
func validString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// maxCachedLabels is the largest labels object a labelCache remembers, so
// that hostile lines cannot make it hold megabytes; larger objects are
// decoded for each record.
const maxCachedLabels = 16 << 10

// labelCache shares the label maps of records: it remembers the last few
// distinct label objects by their JSON text, which is byte-identical in
// the records of one pod.
type labelCache struct {
	raw  [4][]byte
	m    [4]map[string]string
	next int
}

// get returns the labels of the object v, nil when v is not an object or is
// empty. The map may be shared with earlier records.
func (c *labelCache) get(r *Reader, b []byte, v span) map[string]string {
	if v.kind != '{' {
		return nil
	}
	raw := v.bytes(b)
	for i, m := range c.m {
		if m != nil && bytes.Equal(raw, c.raw[i]) {
			return m
		}
	}
	m := r.decodeLabels(raw)
	if m != nil && len(raw) <= maxCachedLabels {
		c.raw[c.next] = append(c.raw[c.next][:0], raw...)
		c.m[c.next] = m
		c.next = (c.next + 1) % len(c.m)
	}
	return m
}

// decodeLabels decodes a labels object, already validated: keys as they
// are, string values unescaped, other values as compact JSON, invalid UTF-8
// repaired. A key given twice takes its last value. It returns nil for an
// empty object.
func (r *Reader) decodeLabels(obj []byte) map[string]string {
	var labels map[string]string
	m := members{b: obj}
	for m.next() {
		if labels == nil {
			labels = make(map[string]string, 8)
		}
		k := r.text(obj, m.key)
		labels[k] = r.text(obj, m.val)
	}
	return labels
}

// text returns the text of a value: a string's contents, unescaped, or the
// compact JSON of any other value, with invalid UTF-8 repaired.
func (r *Reader) text(b []byte, v span) string {
	raw := v.bytes(b)
	switch {
	case v.kind != '"':
		r.scratch = compact(r.scratch[:0], raw)
		raw = r.scratch
	case v.esc:
		r.scratch = unescape(r.scratch[:0], raw)
		raw = r.scratch
	}
	return validString(raw)
}

// sourceReader counts the bytes read from the body and remembers its
// error, which tells read failures from corrupt data.
type sourceReader struct {
	r   io.Reader
	n   int64
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// capReader counts decompressed bytes and fails with ErrTooLarge past max.
type capReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		// Probe for one more byte to tell the end from an overflow.
		var one [1]byte
		for {
			k, err := c.r.Read(one[:])
			if k > 0 {
				return 0, ErrTooLarge
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if rem := c.max - c.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
