// Package lokitest is an in-process fake of Grafana Loki's push API for
// tests: POST /loki/api/v1/push in both of Loki's encodings (protobuf
// compressed with snappy, Content-Type application/x-protobuf, and JSON,
// Content-Type application/json, optionally gzip-compressed), decoded
// strictly, with Loki's multi-tenancy and per-tenant limits. Start a
// Server in a test, push to Server.URL and read back what each tenant
// received:
//
//	srv := lokitest.NewServer(lokitest.Options{})
//	defer srv.Close()
//	// ... push to srv.URL + lokitest.PushPath with X-Scope-OrgID: acme ...
//	for _, e := range srv.Entries("acme") {
//		fmt.Println(e.Labels, e.Time, e.Line)
//	}
//
// # Answers
//
// Like Loki, the server answers:
//
//   - 204 No Content to a push it stored;
//   - 405 to a method other than POST, 404 to another path;
//   - 401 "no org id" without an X-Scope-OrgID header, and 401 when
//     Options.Authorize refuses the request's Authorization;
//   - 400 to an org id breaking Loki's rules (at most 150 bytes of
//     letters, digits and !-_.*'(), not "." or "..");
//   - 415 to a Content-Type or Content-Encoding it does not speak;
//   - 413 to a body that decompresses to more than MaxMessageSize;
//   - 400 to a body that does not decode: corrupt snappy or gzip, a
//     protobuf message with a truncated or unknown field, a wrong wire
//     type or invalid UTF-8, JSON that is not the push format (unknown
//     fields, a timestamp that is not a string of decimal nanoseconds,
//     a value of neither 2 nor 3 elements);
//   - 400 to streams whose labels do not parse, are empty, repeat a name
//     or break the label limits (Limits.MaxLabelNamesPerSeries, name and
//     value lengths): such streams are not stored;
//   - 400 to entries longer than Limits.MaxLineSize: as Loki does, the
//     valid entries of the push are stored and the answer lists the
//     invalid ones;
//   - 429 when the push's lines and structured metadata exceed the
//     tenant's ingestion rate (Limits.IngestionRateMB, with a burst of
//     Limits.IngestionBurstSizeMB): nothing of it is stored.
//
// Tenants are kept apart: each org id has its own streams, limits and rate
// limiter.
//
// # Faults
//
// A hook (Options.Hook, Server.SetHook) sees every push that decoded and
// may answer it with a Fault instead: 429 with a Retry-After, 5xx, 403, a
// whole-batch 400, or no answer at all (Hang).
package lokitest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// PushPath is the path of the push API.
const PushPath = "/loki/api/v1/push"

// Loki's defaults of the limits the server enforces.
const (
	DefaultMaxLineSize            = 256000 // max_line_size: 256KB
	DefaultMaxLabelNamesPerSeries = 15
	DefaultMaxLabelNameLength     = 1024
	DefaultMaxLabelValueLength    = 2048
	// MaxMessageSize is the most a push body may decompress to.
	MaxMessageSize = 100 << 20
	maxOrgIDLength = 150
)

// Limits are a tenant's limits, named after Loki's.
type Limits struct {
	// MaxLineSize is the longest line in bytes (max_line_size). Default:
	// DefaultMaxLineSize; negative for none.
	MaxLineSize int
	// IngestionRateMB is the tenant's rate in MiB per second of lines and
	// structured metadata (ingestion_rate_mb); 0 for none.
	IngestionRateMB float64
	// IngestionBurstSizeMB is the bucket of the rate limiter, in MiB
	// (ingestion_burst_size_mb). Default: IngestionRateMB. A push larger
	// than the burst is always refused, as Loki does.
	IngestionBurstSizeMB float64
	// MaxLabelNamesPerSeries bounds the labels of a stream. Default:
	// DefaultMaxLabelNamesPerSeries.
	MaxLabelNamesPerSeries int
	// MaxLabelNameLength and MaxLabelValueLength bound label names and
	// values in bytes. Defaults: DefaultMaxLabelNameLength and
	// DefaultMaxLabelValueLength.
	MaxLabelNameLength, MaxLabelValueLength int
}

func (l Limits) withDefaults() Limits {
	if l.MaxLineSize == 0 {
		l.MaxLineSize = DefaultMaxLineSize
	}
	if l.IngestionBurstSizeMB <= 0 {
		l.IngestionBurstSizeMB = l.IngestionRateMB
	}
	if l.MaxLabelNamesPerSeries <= 0 {
		l.MaxLabelNamesPerSeries = DefaultMaxLabelNamesPerSeries
	}
	if l.MaxLabelNameLength <= 0 {
		l.MaxLabelNameLength = DefaultMaxLabelNameLength
	}
	if l.MaxLabelValueLength <= 0 {
		l.MaxLabelValueLength = DefaultMaxLabelValueLength
	}
	return l
}

// Options configure a Server.
type Options struct {
	// Limits apply to every tenant without TenantLimits.
	Limits Limits
	// TenantLimits are the limits of particular org ids (Loki's runtime
	// overrides).
	TenantLimits map[string]Limits
	// Authorize, when set, decides whether a push of orgID with the
	// given Authorization header value may be made; refused pushes get
	// 401.
	Authorize func(orgID, authorization string) bool
	// Hook, when set, is called for each push that decoded; a non-nil
	// Fault it returns is the answer. See Server.SetHook.
	Hook func(Call) *Fault
	// DiscardEntries makes the server count accepted entries without
	// storing them, for benchmarks.
	DiscardEntries bool
	// Now is the rate limiter's clock. Default: time.Now.
	Now func() time.Time
}

// Call describes a push, as a Hook sees it.
type Call struct {
	N       int    // 1-based number of this push among those that decoded
	OrgID   string // X-Scope-OrgID
	Format  string // "protobuf" or "json"
	Streams int
	Entries int
	Bytes   int // lines and structured metadata
}

// Fault is an injected answer.
type Fault struct {
	Status int    // default 500
	Body   string // the answer's body
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Hang leaves the push unanswered until the client gives up or the
	// server is closed; the other fields are ignored.
	Hang bool
}

// TooManyRequests returns the 429 answer of an exceeded rate, with a
// Retry-After of d (none when d is 0).
func TooManyRequests(d time.Duration) *Fault {
	f := &Fault{Status: http.StatusTooManyRequests, Body: "Ingestion rate limit exceeded (injected)"}
	if d > 0 {
		f.RetryAfter = strconv.Itoa(int((d + time.Second - 1) / time.Second))
	}
	return f
}

// Unavailable returns a 503 answer.
func Unavailable() *Fault {
	return &Fault{Status: http.StatusServiceUnavailable, Body: "at least 2 live replicas required, could only find 1"}
}

// Forbidden returns a 403 answer, a gateway refusing the org.
func Forbidden() *Fault { return &Fault{Status: http.StatusForbidden, Body: "forbidden"} }

// BadRequest returns a 400 answer refusing the whole push.
func BadRequest(msg string) *Fault { return &Fault{Status: http.StatusBadRequest, Body: msg} }

// Hang returns a fault that leaves the push unanswered.
func Hang() *Fault { return &Fault{Hang: true} }

// Entry is a stored log entry.
type Entry struct {
	// Labels is the entry's stream in Loki's form, its labels sorted by
	// name: {app="api", namespace="shop"}. It is empty in the entries of a
	// decoded Push, whose Stream has the labels as sent.
	Labels   string
	Time     time.Time
	Line     string
	Metadata map[string]string // structured metadata; nil when none
}

type tenantState struct {
	entries []Entry
	streams map[string]int // labels → entries
	count   int64
	bytes   int64
	// The rate limiter's bucket.
	tokens float64
	last   time.Time
}

// Server is a running fake Loki. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, such as http://127.0.0.1:41234; pushes
	// go to URL + PushPath.
	URL string

	srv    *httptest.Server
	opts   Options
	closed chan struct{}
	once   sync.Once

	mu      sync.Mutex
	hook    func(Call) *Fault
	tenants map[string]*tenantState
	pushes  int            // pushes that decoded
	answers map[int]int    // status → count
	orgs    map[string]int // org id → pushes that decoded
}

// NewServer starts a server on a loopback port. Close it when done.
func NewServer(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, hook: opts.Hook, closed: make(chan struct{}),
		tenants: map[string]*tenantState{}, answers: map[int]int{}, orgs: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down; hung pushes end without an answer. It may
// be called more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// SetHook replaces the fault hook (nil: none).
func (s *Server) SetHook(h func(Call) *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}

// Entries returns the entries stored for orgID, in the order they were
// accepted.
func (s *Server) Entries(orgID string) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[orgID]; t != nil {
		return slices.Clone(t.entries)
	}
	return nil
}

// Streams returns the streams of orgID, sorted.
func (s *Server) Streams(orgID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	if t := s.tenants[orgID]; t != nil {
		for labels := range t.streams {
			out = append(out, labels)
		}
	}
	slices.Sort(out)
	return out
}

// Tenants returns the org ids that have stored entries, sorted.
func (s *Server) Tenants() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, t := range s.tenants {
		if t.count > 0 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Count returns the entries accepted for orgID, stored or discarded.
func (s *Server) Count(orgID string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[orgID]; t != nil {
		return t.count
	}
	return 0
}

// Total returns the entries accepted for every tenant.
func (s *Server) Total() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, t := range s.tenants {
		n += t.count
	}
	return n
}

// Pushes returns the number of pushes of orgID that decoded (every org id
// when orgID is ""), whatever their answer.
func (s *Server) Pushes(orgID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if orgID == "" {
		return s.pushes
	}
	return s.orgs[orgID]
}

// Answers returns how many requests got each HTTP status.
func (s *Server) Answers() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]int, len(s.answers))
	for k, v := range s.answers {
		out[k] = v
	}
	return out
}

// Reset forgets every entry and counter (not the hook).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tenants = map[string]*tenantState{}
	s.answers = map[int]int{}
	s.orgs = map[string]int{}
	s.pushes = 0
}

func (s *Server) limits(orgID string) Limits {
	if l, ok := s.opts.TenantLimits[orgID]; ok {
		return l.withDefaults()
	}
	return s.opts.Limits.withDefaults()
}

func (s *Server) answer(w http.ResponseWriter, status int, format string, args ...any) {
	s.mu.Lock()
	s.answers[status]++
	s.mu.Unlock()
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, format+"\n", args...)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != PushPath {
		s.answer(w, http.StatusNotFound, "404 page not found")
		return
	}
	if r.Method != http.MethodPost {
		s.answer(w, http.StatusMethodNotAllowed, "method %s not allowed", r.Method)
		return
	}
	orgID := r.Header.Get("X-Scope-OrgID")
	if orgID == "" {
		s.answer(w, http.StatusUnauthorized, "no org id")
		return
	}
	if msg := orgIDProblem(orgID); msg != "" {
		s.answer(w, http.StatusBadRequest, "invalid org id: %s", msg)
		return
	}
	req, status, err := decodeRequest(r)
	if err != nil {
		s.answer(w, status, "%v", err)
		return
	}

	s.mu.Lock()
	s.pushes++
	s.orgs[orgID]++
	call := Call{N: s.pushes, OrgID: orgID, Format: req.Format, Streams: len(req.Streams)}
	for _, st := range req.Streams {
		call.Entries += len(st.Entries)
		for _, e := range st.Entries {
			call.Bytes += entrySize(e)
		}
	}
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		if f := hook(call); f != nil {
			s.fault(w, r, f)
			return
		}
	}
	if s.opts.Authorize != nil && !s.opts.Authorize(orgID, r.Header.Get("Authorization")) {
		s.answer(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	status, msg := s.ingest(orgID, req)
	s.answer(w, status, "%s", msg)
}

func (s *Server) fault(w http.ResponseWriter, r *http.Request, f *Fault) {
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return
	}
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	s.answer(w, status, "%s", f.Body)
}

// ingest validates a decoded push against the tenant's limits and stores
// what is valid, as Loki's distributor does.
func (s *Server) ingest(orgID string, req *Push) (int, string) {
	l := s.limits(orgID)
	var problems []string
	type valid struct {
		labels  string
		entries []Entry
	}
	var streams []valid
	size := 0
	for _, st := range req.Streams {
		labels, err := canonicalLabels(st.Labels, l)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		v := valid{labels: labels}
		for _, e := range st.Entries {
			if l.MaxLineSize > 0 && len(e.Line) > l.MaxLineSize {
				problems = append(problems, fmt.Sprintf("Max entry size '%d' bytes exceeded for stream '%s' while adding an entry with length '%d' bytes",
					l.MaxLineSize, labels, len(e.Line)))
				continue
			}
			v.entries = append(v.entries, e)
			size += entrySize(e)
		}
		if len(v.entries) > 0 {
			streams = append(streams, v)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[orgID]
	if t == nil {
		burst := l.IngestionBurstSizeMB * (1 << 20)
		t = &tenantState{streams: map[string]int{}, tokens: burst, last: s.opts.Now()}
		s.tenants[orgID] = t
	}
	if l.IngestionRateMB > 0 && size > 0 {
		now := s.opts.Now()
		burst := l.IngestionBurstSizeMB * (1 << 20)
		t.tokens = min(burst, t.tokens+now.Sub(t.last).Seconds()*l.IngestionRateMB*(1<<20))
		t.last = now
		if float64(size) > t.tokens {
			entries := 0
			for _, v := range streams {
				entries += len(v.entries)
			}
			return http.StatusTooManyRequests, fmt.Sprintf("Ingestion rate limit exceeded for user %s (limit: %d bytes/sec) while attempting to ingest '%d' lines totaling '%d' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased",
				orgID, int64(l.IngestionRateMB*(1<<20)), entries, size)
		}
		t.tokens -= float64(size)
	}
	for _, v := range streams {
		t.streams[v.labels] += len(v.entries)
		t.count += int64(len(v.entries))
		for _, e := range v.entries {
			t.bytes += int64(len(e.Line))
			if !s.opts.DiscardEntries {
				e.Labels = v.labels
				t.entries = append(t.entries, e)
			}
		}
	}
	if len(problems) > 0 {
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("and %d more errors", len(problems)-10))
		}
		return http.StatusBadRequest, strings.Join(problems, "\n")
	}
	return http.StatusNoContent, ""
}

// orgIDProblem checks an org id against Loki's rules.
func orgIDProblem(id string) string {
	switch {
	case len(id) > maxOrgIDLength:
		return fmt.Sprintf("tenant ID is too long: max %d characters", maxOrgIDLength)
	case id == "." || id == "..":
		return `tenant ID is "." or ".."`
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!-_.*'()", c) >= 0) {
			return fmt.Sprintf("tenant ID '%s' contains unsupported character '%c'", id, c)
		}
	}
	return ""
}

// Push is a decoded push request.
type Push struct {
	Format  string // "protobuf" or "json"
	Streams []Stream
}

// Stream is a stream of a push.
type Stream struct {
	Labels  string // as sent
	Entries []Entry
}

// entrySize is what Loki's rate limiter counts of an entry: its line and
// its structured metadata's names and values.
func entrySize(e Entry) int {
	n := len(e.Line)
	for k, v := range e.Metadata {
		n += len(k) + len(v)
	}
	return n
}

// decodeRequest reads and decodes a push body, returning the HTTP status
// of its failure.
func decodeRequest(r *http.Request) (*Push, int, error) {
	var body io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("gzip: %v", err)
		}
		body = zr
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Encoding %q not supported", enc)
	}
	raw, err := io.ReadAll(io.LimitReader(body, MaxMessageSize+1))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("reading the body: %v", err)
	}
	if len(raw) > MaxMessageSize {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the body is larger than %d bytes", MaxMessageSize)
	}
	ct := r.Header.Get("Content-Type")
	mt := ""
	if ct != "" {
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Type %q: %v", ct, err)
		}
	}
	switch mt {
	case "", "application/x-protobuf":
		req, err := DecodeProtobuf(raw)
		if err != nil {
			return nil, http.StatusBadRequest, err
		}
		return req, 0, nil
	case "application/json":
		req, err := DecodeJSON(raw)
		if err != nil {
			return nil, http.StatusBadRequest, err
		}
		return req, 0, nil
	}
	return nil, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Type %q not supported: use application/x-protobuf or application/json", ct)
}

// DecodeProtobuf decodes a push body of Content-Type
// application/x-protobuf: a snappy block holding a PushRequest. It is
// strict: a field the push.proto does not define, a wrong wire type or
// invalid UTF-8 is an error. It is exported for fuzzing and for tests of
// encoders.
func DecodeProtobuf(body []byte) (*Push, error) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, fmt.Errorf("snappy: %v", err)
	}
	if n > MaxMessageSize {
		return nil, fmt.Errorf("snappy: decoded length %d is more than %d", n, MaxMessageSize)
	}
	raw, err := snappy.DecodeStrict(nil, body)
	if err != nil {
		return nil, fmt.Errorf("snappy: %v", err)
	}
	req := &Push{Format: "protobuf"}
	err = fields(raw, "PushRequest", func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 1 || typ != protowire.BytesType {
			return unknownField("PushRequest", num, typ)
		}
		st, err := decodeStream(v)
		if err != nil {
			return err
		}
		req.Streams = append(req.Streams, st)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("error parsing push request: %v", err)
	}
	return req, nil
}

func decodeStream(b []byte) (Stream, error) {
	var st Stream
	err := fields(b, "StreamAdapter", func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			if !utf8.Valid(v) {
				return errors.New("StreamAdapter.labels: invalid UTF-8")
			}
			st.Labels = string(v)
		case num == 2 && typ == protowire.BytesType:
			e, err := decodeEntry(v)
			if err != nil {
				return err
			}
			st.Entries = append(st.Entries, e)
		case num == 3 && typ == protowire.VarintType: // hash, unused
		default:
			return unknownField("StreamAdapter", num, typ)
		}
		return nil
	})
	return st, err
}

func decodeEntry(b []byte) (Entry, error) {
	var e Entry
	e.Time = time.Unix(0, 0).UTC()
	err := fields(b, "EntryAdapter", func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			var sec, nsec int64
			err := fields(v, "Timestamp", func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
				switch {
				case num == 1 && typ == protowire.VarintType:
					sec = int64(x)
				case num == 2 && typ == protowire.VarintType:
					nsec = int64(int32(x))
					if nsec < 0 || nsec > 999_999_999 || uint64(uint32(nsec)) != x&0xffffffff {
						return fmt.Errorf("Timestamp.nanos %d out of range", int64(x))
					}
				default:
					return unknownField("Timestamp", num, typ)
				}
				return nil
			})
			if err != nil {
				return err
			}
			e.Time = time.Unix(sec, nsec).UTC()
		case num == 2 && typ == protowire.BytesType:
			if !utf8.Valid(v) {
				return errors.New("EntryAdapter.line: invalid UTF-8")
			}
			e.Line = string(v)
		case num == 3 && typ == protowire.BytesType:
			var name, value string
			err := fields(v, "LabelPairAdapter", func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if typ != protowire.BytesType || num != 1 && num != 2 {
					return unknownField("LabelPairAdapter", num, typ)
				}
				if !utf8.Valid(v) {
					return errors.New("LabelPairAdapter: invalid UTF-8")
				}
				if num == 1 {
					name = string(v)
				} else {
					value = string(v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if e.Metadata == nil {
				e.Metadata = map[string]string{}
			}
			e.Metadata[name] = value
		default:
			return unknownField("EntryAdapter", num, typ)
		}
		return nil
	})
	return e, err
}

// fields calls fn for each field of a protobuf message: its number, wire
// type, and its bytes (length-delimited fields) or value (varints).
func fields(b []byte, msg string, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%s: %v", msg, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			return unknownField(msg, num, typ)
		}
		if n < 0 {
			return fmt.Errorf("%s field %d: %v", msg, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

func unknownField(msg string, num protowire.Number, typ protowire.Type) error {
	return fmt.Errorf("%s: unexpected field %d of wire type %d", msg, num, typ)
}

// DecodeJSON decodes a push body of Content-Type application/json:
//
//	{"streams":[{"stream":{"app":"api"},"values":[["1700000000000000001","line"],["1700000000000000002","line",{"pod":"api-0"}]]}]}
//
// strictly: unknown fields, trailing data, timestamps that are not strings
// of decimal nanoseconds and values of neither 2 nor 3 elements are
// errors. It is exported for fuzzing and for tests of encoders.
func DecodeJSON(body []byte) (*Push, error) {
	var in struct {
		Streams []struct {
			Stream map[string]string   `json:"stream"`
			Values [][]json.RawMessage `json:"values"`
		} `json:"streams"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("error parsing push request: %v", err)
	}
	if dec.More() {
		return nil, errors.New("error parsing push request: data after the JSON object")
	}
	req := &Push{Format: "json"}
	for i, st := range in.Streams {
		pairs := make([][2]string, 0, len(st.Stream))
		for k, v := range st.Stream {
			pairs = append(pairs, [2]string{k, v})
		}
		slices.SortFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
		ps := Stream{Labels: formatLabels(pairs)}
		for j, val := range st.Values {
			if len(val) != 2 && len(val) != 3 {
				return nil, fmt.Errorf("error parsing push request: streams[%d].values[%d] has %d elements, want 2 or 3", i, j, len(val))
			}
			var ts, line string
			if err := json.Unmarshal(val[0], &ts); err != nil {
				return nil, fmt.Errorf("error parsing push request: streams[%d].values[%d] timestamp: %v", i, j, err)
			}
			ns, err := strconv.ParseInt(ts, 10, 64)
			if err != nil || ts == "" || ts[0] == '+' || ts[0] == '-' {
				return nil, fmt.Errorf("error parsing push request: streams[%d].values[%d] timestamp %q is not decimal nanoseconds", i, j, ts)
			}
			if err := json.Unmarshal(val[1], &line); err != nil {
				return nil, fmt.Errorf("error parsing push request: streams[%d].values[%d] line: %v", i, j, err)
			}
			e := Entry{Time: time.Unix(0, ns).UTC(), Line: line}
			if len(val) == 3 {
				var meta map[string]string
				d := json.NewDecoder(bytes.NewReader(val[2]))
				if err := d.Decode(&meta); err != nil {
					return nil, fmt.Errorf("error parsing push request: streams[%d].values[%d] structured metadata: %v", i, j, err)
				}
				if len(meta) > 0 {
					e.Metadata = meta
				}
			}
			ps.Entries = append(ps.Entries, e)
		}
		req.Streams = append(req.Streams, ps)
	}
	return req, nil
}

// ParseLabels parses a label set in Loki's form, {a="1", b="2"}: names of
// letters, digits and '_' not starting with a digit, values Go-quoted
// strings. It returns the pairs in the order given.
func ParseLabels(s string) ([][2]string, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "{")
	if !ok {
		return nil, fmt.Errorf("labels %q do not start with '{'", short(s))
	}
	var pairs [][2]string
	for {
		rest = strings.TrimLeft(rest, " ")
		if strings.HasPrefix(rest, "}") && len(pairs) == 0 {
			rest = rest[1:]
			break
		}
		i := 0
		for i < len(rest) && (rest[i] == '_' || rest[i] >= 'a' && rest[i] <= 'z' || rest[i] >= 'A' && rest[i] <= 'Z' || i > 0 && rest[i] >= '0' && rest[i] <= '9') {
			i++
		}
		if i == 0 {
			return nil, fmt.Errorf("labels %q: expected a label name at %q", short(s), short(rest))
		}
		name := rest[:i]
		rest = strings.TrimLeft(rest[i:], " ")
		if !strings.HasPrefix(rest, "=") {
			return nil, fmt.Errorf("labels %q: expected '=' after %q", short(s), name)
		}
		rest = strings.TrimLeft(rest[1:], " ")
		q, err := strconv.QuotedPrefix(rest)
		if err != nil || !strings.HasPrefix(q, `"`) {
			return nil, fmt.Errorf("labels %q: the value of %q is not a quoted string", short(s), name)
		}
		value, _ := strconv.Unquote(q)
		if !utf8.ValidString(value) {
			return nil, fmt.Errorf("labels %q: the value of %q is not valid UTF-8", short(s), name)
		}
		pairs = append(pairs, [2]string{name, value})
		rest = strings.TrimLeft(rest[len(q):], " ")
		if strings.HasPrefix(rest, ",") {
			rest = rest[1:]
			continue
		}
		if strings.HasPrefix(rest, "}") {
			rest = rest[1:]
			break
		}
		return nil, fmt.Errorf("labels %q: expected ',' or '}' at %q", short(s), short(rest))
	}
	if strings.TrimSpace(rest) != "" {
		return nil, fmt.Errorf("labels %q: data after '}'", short(s))
	}
	return pairs, nil
}

// canonicalLabels parses and checks a stream's labels against l and
// returns them sorted, in Loki's form.
func canonicalLabels(s string, l Limits) (string, error) {
	pairs, err := ParseLabels(s)
	if err != nil {
		return "", fmt.Errorf("error parsing labels %s: %v", short(s), err)
	}
	// Loki drops labels with empty values.
	pairs = slices.DeleteFunc(pairs, func(p [2]string) bool { return p[1] == "" })
	if len(pairs) == 0 {
		return "", fmt.Errorf("error at least one label pair is required per stream")
	}
	slices.SortStableFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	labels := formatLabels(pairs)
	for i, p := range pairs {
		switch {
		case i > 0 && pairs[i-1][0] == p[0]:
			return "", fmt.Errorf("stream '%s' has duplicate label name: '%s'", short(labels), p[0])
		case len(p[0]) > l.MaxLabelNameLength:
			return "", fmt.Errorf("stream '%s' has label name too long: '%s'", short(labels), short(p[0]))
		case len(p[1]) > l.MaxLabelValueLength:
			return "", fmt.Errorf("stream '%s' has label value too long: '%s'", short(labels), short(p[1]))
		}
	}
	if len(pairs) > l.MaxLabelNamesPerSeries {
		return "", fmt.Errorf("stream '%s' has %d label names; limit %d", short(labels), len(pairs), l.MaxLabelNamesPerSeries)
	}
	return labels, nil
}

func formatLabels(pairs [][2]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p[0])
		b.WriteByte('=')
		b.WriteString(strconv.Quote(p[1]))
	}
	b.WriteByte('}')
	return b.String()
}

func short(s string) string {
	if len(s) > 200 {
		return strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}
