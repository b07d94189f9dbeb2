// Package cloudwatchtest is an in-process fake of the CloudWatch Logs API
// for tests: it speaks the service's wire protocol (AWS JSON 1.1, POST /
// with X-Amz-Target Logs_20140328.<Operation>), so that the real SDK
// client, with its serialisation, error decoding and retries, runs against
// it. Start a Server in a test, point the SDK's BaseEndpoint at its URL and
// inspect what it stored:
//
//	srv := cloudwatchtest.NewServer(cloudwatchtest.Options{})
//	defer srv.Close()
//	client := cloudwatchlogs.NewFromConfig(aws.Config{
//		Region:       "us-east-1",
//		BaseEndpoint: aws.String(srv.URL),
//		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
//	})
//
// Any credentials are accepted; the access key that signed each request is
// shown to hooks (Call.AccessKeyID), so tests can tell identities apart.
//
// # Rules
//
// The server enforces every PutLogEvents rule the service enforces: 1 to
// 10,000 events, at most 1,048,576 bytes counting the UTF-8 length of each
// message plus 26, chronological order, a span of at most 24 hours,
// non-empty valid UTF-8 messages, the maximum event size
// (Options.MaxEventSize), and an existing group and stream. Events older
// than 14 days or more than 2 hours ahead of Options.Now are reported in
// rejectedLogEventsInfo and not stored, as the service does. A request
// breaking a rule is answered with the service's error
// (InvalidParameterException, ResourceNotFoundException), so a client that
// builds bad batches fails its tests.
//
// # Faults
//
// A hook (Options.Hook, Server.SetHook) sees every request before it is
// handled and may answer it with a Fault instead: throttling, 5xx,
// ResourceNotFound, access denied, a partial rejection, or no answer at all
// (Hang).
//
// # Operations
//
// CreateLogGroup, CreateLogStream, PutRetentionPolicy, PutLogEvents and
// GetLogEvents are supported. Every other operation is answered
// UnknownOperationException and counted, so tests can assert, for example,
// that no Describe* call was made.
package cloudwatchtest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits of the service, which the Server enforces.
const (
	// MaxBatchEvents is the largest number of events of one PutLogEvents
	// call.
	MaxBatchEvents = 10000
	// MaxBatchBytes is the largest size of one PutLogEvents call: the sum
	// over its events of the UTF-8 length of the message plus
	// EventOverhead.
	MaxBatchBytes = 1048576
	// EventOverhead is the size the service adds to each event's message.
	EventOverhead = 26
	// MaxBatchSpan is the largest time between the oldest and the newest
	// event of one call.
	MaxBatchSpan = 24 * time.Hour
	// MaxEventAge and MaxEventFuture bound the timestamps of stored events
	// relative to Options.Now; events outside are rejected.
	MaxEventAge    = 14 * 24 * time.Hour
	MaxEventFuture = 2 * time.Hour
	// DefaultMaxEventSize is the largest message of one event under the
	// current 1 MB event limit: 1,048,550 bytes.
	DefaultMaxEventSize = MaxBatchBytes - EventOverhead
	// LegacyMaxEventSize is the largest message under the older 256 KB
	// limit, still enforced in some partitions: 262,118 bytes.
	LegacyMaxEventSize = 256*1024 - EventOverhead
)

// Options configure a Server.
type Options struct {
	// Now returns the service's current time, against which events are too
	// old or too new. Default: time.Now.
	Now func() time.Time
	// MaxEventSize is the largest message, in bytes, a single event may
	// carry. Default: DefaultMaxEventSize (the current 1 MB limit). Set
	// LegacyMaxEventSize to act like a partition that enforces the older
	// 256 KB limit.
	MaxEventSize int
	// DiscardEvents makes the server count accepted events without storing
	// them, for benchmarks with millions of events.
	DiscardEvents bool
	// Hook, when set, is called before each request is handled; a non-nil
	// Fault it returns is what the request gets. See Server.SetHook.
	Hook func(Call) *Fault
	// Latency delays every response, to model the network in end-to-end
	// benchmarks. Default: none.
	Latency time.Duration
	// Digest makes the server keep Server.Digest, a digest of every
	// accepted event, even with DiscardEvents. Default: off.
	Digest bool
}

// Call describes a request, as seen by a Hook.
type Call struct {
	Op     string // operation name, e.g. "PutLogEvents"
	N      int    // 1-based number of this call among calls of Op
	Group  string // logGroupName, when the operation has one
	Stream string // logStreamName, when the operation has one
	Events int    // number of log events (PutLogEvents)
	// AccessKeyID is the access key that signed the request, from its
	// Authorization header.
	AccessKeyID string
}

// Fault is an injected response.
type Fault struct {
	// Status is the HTTP status of an error response (default 400).
	Status int
	// Code is the error's __type, e.g. "ThrottlingException". Empty with
	// RejectOld or RejectNew set: the call succeeds partially.
	Code string
	// Message is the error's message.
	Message string
	// RejectOld and RejectNew make a PutLogEvents succeed while rejecting
	// its first RejectOld events as too old and its last RejectNew events
	// as too new (reported in rejectedLogEventsInfo, not stored).
	RejectOld, RejectNew int
	// Hang leaves the request unanswered until the client gives up on it
	// (its context ends and the connection closes) or the server is
	// closed; the other fields are ignored.
	Hang bool
}

// Hang returns a fault that leaves a request unanswered: a hung endpoint.
func Hang() *Fault { return &Fault{Hang: true} }

// Throttle returns the fault CloudWatch Logs answers when a rate limit is
// exceeded.
func Throttle() *Fault {
	return &Fault{Status: http.StatusBadRequest, Code: "ThrottlingException", Message: "Rate exceeded"}
}

// Unavailable returns a 503 ServiceUnavailableException fault.
func Unavailable() *Fault {
	return &Fault{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailableException", Message: "The service cannot complete the request."}
}

// InternalError returns a 500 fault.
func InternalError() *Fault {
	return &Fault{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "internal failure"}
}

// NotFound returns a ResourceNotFoundException fault.
func NotFound(msg string) *Fault {
	return &Fault{Status: http.StatusBadRequest, Code: "ResourceNotFoundException", Message: msg}
}

// AccessDenied returns the fault answered to an identity that may not make
// the call (a tenant role without logs:PutLogEvents on the group).
func AccessDenied() *Fault {
	return &Fault{Status: http.StatusBadRequest, Code: "AccessDeniedException", Message: "User is not authorized to perform this action"}
}

// Event is a stored log event.
type Event struct {
	Timestamp     int64 // milliseconds since the epoch
	Message       string
	IngestionTime int64 // milliseconds since the epoch, from Options.Now
}

// Batch describes one accepted PutLogEvents call.
type Batch struct {
	Group, Stream string
	Events        int   // events in the request
	Bytes         int   // request size as the service counts it
	Rejected      int   // events reported in rejectedLogEventsInfo
	Span          int64 // newest minus oldest timestamp, milliseconds
}

type stream struct {
	events []Event
	count  int
}

type group struct {
	retention int32
	streams   map[string]*stream
}

// Server is a running fake CloudWatch Logs endpoint. Its methods are safe
// for concurrent use.
type Server struct {
	// URL is the endpoint to give the SDK client (aws.Config.BaseEndpoint),
	// such as http://127.0.0.1:41234.
	URL string

	srv    *httptest.Server
	opts   Options
	closed chan struct{} // closed by Close: hung requests return
	once   sync.Once

	mu      sync.Mutex
	hook    func(Call) *Fault
	groups  map[string]*group
	calls   map[string]int
	batches []Batch
	digest  [4]uint64 // lane sums of the accepted events' SHA-256, see Digest
	hasher  hash.Hash // reused by addDigest
}

// NewServer starts a server listening on a local port. Close it when
// done.
func NewServer(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxEventSize <= 0 {
		opts.MaxEventSize = DefaultMaxEventSize
	}
	s := &Server{opts: opts, hook: opts.Hook, closed: make(chan struct{}), groups: map[string]*group{}, calls: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down; hung requests end without an answer. It may
// be called more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.srv.Close()
	})
}

// SetHook replaces the fault hook (nil: none).
func (s *Server) SetHook(h func(Call) *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}

// CreateLogGroup creates a group directly (no call counted). It is a no-op
// when the group exists.
func (s *Server) CreateLogGroup(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[name] == nil {
		s.groups[name] = &group{streams: map[string]*stream{}}
	}
}

// CreateLogStream creates a stream (and its group) directly.
func (s *Server) CreateLogStream(groupName, streamName string) {
	s.CreateLogGroup(groupName)
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupName]
	if g.streams[streamName] == nil {
		g.streams[streamName] = &stream{}
	}
}

// DeleteLogStream deletes a stream directly, as another actor might.
func (s *Server) DeleteLogStream(groupName, streamName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groups[groupName]; g != nil {
		delete(g.streams, streamName)
	}
}

// Groups returns the names of the log groups, sorted.
func (s *Server) Groups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.groups))
	for n := range s.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Streams returns the names of a group's streams, sorted.
func (s *Server) Streams(groupName string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupName]
	if g == nil {
		return nil
	}
	names := make([]string, 0, len(g.streams))
	for n := range g.streams {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Retention returns a group's retention in days (0: never expire or no
// such group).
func (s *Server) Retention(groupName string) int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groups[groupName]; g != nil {
		return g.retention
	}
	return 0
}

// Events returns a copy of a stream's events in the order they were
// accepted (nil when DiscardEvents is set).
func (s *Server) Events(groupName, streamName string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stream(groupName, streamName)
	if st == nil {
		return nil
	}
	return append([]Event(nil), st.events...)
}

// EventCount returns the number of events a stream accepted.
func (s *Server) EventCount(groupName, streamName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stream(groupName, streamName); st != nil {
		return st.count
	}
	return 0
}

// Calls returns how many requests of an operation the server received,
// including those that failed or were faulted.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// TotalCalls returns the number of requests of every operation.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// Batches returns the accepted PutLogEvents calls, in order.
func (s *Server) Batches() []Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Batch(nil), s.batches...)
}

// ResetCounters clears call counters and the batch log, keeping groups,
// streams and events.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.batches = nil
}

func (s *Server) stream(groupName, streamName string) *stream {
	g := s.groups[groupName]
	if g == nil {
		return nil
	}
	return g.streams[streamName]
}

// apiError is an error response.
type apiError struct {
	status  int
	code    string
	message string
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func invalidParameter(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "InvalidParameterException", format, args...)
}

const targetPrefix = "Logs_20140328."

type request struct {
	LogGroupName    string       `json:"logGroupName"`
	LogStreamName   string       `json:"logStreamName"`
	RetentionInDays *int32       `json:"retentionInDays"`
	StartFromHead   bool         `json:"startFromHead"`
	LogEvents       []inputEvent `json:"logEvents"`
}

type inputEvent struct {
	Timestamp *int64  `json:"timestamp"`
	Message   *string `json:"message"`
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opts.Latency > 0 {
		t := time.NewTimer(s.opts.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closed:
			t.Stop()
			panic(http.ErrAbortHandler) // no answer: the connection is closed
		}
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeError(w, errorf(http.StatusBadRequest, "UnknownOperationException", "no operation for %s %q", r.Method, target))
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "SerializationException", "read body: %v", err))
		return
	}
	req, fast := request{}, false
	if op == "PutLogEvents" {
		req, fast = parsePutLogEvents(body)
	}
	if !fast {
		req = request{}
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		s.count(op, req)
		writeError(w, errorf(http.StatusBadRequest, "SerializationException", "%v", err))
		return
	}
	call, hook := s.count(op, req)
	call.AccessKeyID = accessKeyID(r.Header.Get("Authorization"))
	var fault *Fault
	if hook != nil {
		fault = hook(call)
	}
	if fault != nil && fault.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		panic(http.ErrAbortHandler) // no answer: the connection is closed
	}
	if fault != nil && fault.Code != "" {
		st := fault.Status
		if st == 0 {
			st = http.StatusBadRequest
		}
		writeError(w, &apiError{status: st, code: fault.Code, message: fault.Message})
		return
	}
	var resp any
	var aerr *apiError
	switch op {
	case "CreateLogGroup":
		aerr = s.createLogGroup(req)
	case "CreateLogStream":
		aerr = s.createLogStream(req)
	case "PutRetentionPolicy":
		aerr = s.putRetentionPolicy(req)
	case "PutLogEvents":
		resp, aerr = s.putLogEvents(req, fault)
	case "GetLogEvents":
		resp, aerr = s.getLogEvents(req)
	default:
		aerr = errorf(http.StatusBadRequest, "UnknownOperationException", "operation %s is not supported by cloudwatchtest", op)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if resp == nil {
		resp = struct{}{}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(resp)
}

// readBody reads a request's body into a buffer of its declared length,
// rather than growing one as io.ReadAll does (megabyte PutLogEvents bodies
// would be copied several times over).
func readBody(r *http.Request) ([]byte, error) {
	const maxDeclared = 16 << 20
	if n := r.ContentLength; n > 0 && n <= maxDeclared {
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, err
		}
		// Anything beyond the declared length is a protocol error the
		// server's reader reports; read to the end to see it.
		if extra, err := io.ReadAll(r.Body); err != nil || len(extra) > 0 {
			return append(b, extra...), err
		}
		return b, nil
	}
	return io.ReadAll(r.Body)
}

func (s *Server) count(op string, req request) (Call, func(Call) *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	return Call{Op: op, N: s.calls[op], Group: req.LogGroupName, Stream: req.LogStreamName, Events: len(req.LogEvents)}, s.hook
}

// accessKeyID extracts the key id from a SigV4 Authorization header.
func accessKeyID(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(cred, "/")
	return id
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", "cloudwatchtest")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "message": e.message})
}

func (s *Server) createLogGroup(req request) *apiError {
	if req.LogGroupName == "" {
		return invalidParameter("logGroupName is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[req.LogGroupName] != nil {
		return errorf(http.StatusBadRequest, "ResourceAlreadyExistsException", "The specified log group already exists")
	}
	s.groups[req.LogGroupName] = &group{streams: map[string]*stream{}}
	return nil
}

func (s *Server) createLogStream(req request) *apiError {
	if req.LogStreamName == "" || len(req.LogStreamName) > 512 || strings.ContainsAny(req.LogStreamName, ":*") {
		return invalidParameter("invalid logStreamName %q", req.LogStreamName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[req.LogGroupName]
	if g == nil {
		return errorf(http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
	}
	if g.streams[req.LogStreamName] != nil {
		return errorf(http.StatusBadRequest, "ResourceAlreadyExistsException", "The specified log stream already exists")
	}
	g.streams[req.LogStreamName] = &stream{}
	return nil
}

var retentionDays = map[int32]bool{1: true, 3: true, 5: true, 7: true, 14: true, 30: true, 60: true, 90: true, 120: true, 150: true, 180: true, 365: true, 400: true, 545: true, 731: true, 1096: true, 1827: true, 2192: true, 2557: true, 2922: true, 3288: true, 3653: true}

func (s *Server) putRetentionPolicy(req request) *apiError {
	if req.RetentionInDays == nil || !retentionDays[*req.RetentionInDays] {
		return invalidParameter("invalid retentionInDays")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[req.LogGroupName]
	if g == nil {
		return errorf(http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
	}
	g.retention = *req.RetentionInDays
	return nil
}

type rejectedInfo struct {
	TooNewLogEventStartIndex *int `json:"tooNewLogEventStartIndex,omitempty"`
	TooOldLogEventEndIndex   *int `json:"tooOldLogEventEndIndex,omitempty"`
}

type putLogEventsResponse struct {
	NextSequenceToken     string        `json:"nextSequenceToken"`
	RejectedLogEventsInfo *rejectedInfo `json:"rejectedLogEventsInfo,omitempty"`
}

func (s *Server) putLogEvents(req request, fault *Fault) (any, *apiError) {
	n := len(req.LogEvents)
	if n < 1 || n > MaxBatchEvents {
		return nil, invalidParameter("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length between 1 and 10000 (got %d)", n)
	}
	size := 0
	var first, last int64
	for i, e := range req.LogEvents {
		if e.Timestamp == nil || e.Message == nil {
			return nil, invalidParameter("log event %d: timestamp and message are required", i)
		}
		m := *e.Message
		if m == "" {
			return nil, invalidParameter("log event %d: message must have length at least 1", i)
		}
		if !utf8.ValidString(m) {
			return nil, invalidParameter("log event %d: message is not valid UTF-8", i)
		}
		if len(m) > s.opts.MaxEventSize {
			return nil, invalidParameter("Log event too large: event %d is %d bytes, the limit is %d", i, len(m), s.opts.MaxEventSize)
		}
		size += len(m) + EventOverhead
		ts := *e.Timestamp
		if i == 0 {
			first = ts
		} else if ts < last {
			return nil, invalidParameter("Log events in a single PutLogEvents request must be in chronological order (event %d at %d follows %d).", i, ts, last)
		}
		last = ts
	}
	if size > MaxBatchBytes {
		return nil, invalidParameter("Upload too large: %d bytes exceeds limit of %d", size, MaxBatchBytes)
	}
	if last-first > MaxBatchSpan.Milliseconds() {
		return nil, invalidParameter("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}

	now := s.opts.Now()
	oldest := now.Add(-MaxEventAge).UnixMilli()
	newest := now.Add(MaxEventFuture).UnixMilli()
	// Events are sorted: the too old are a prefix, the too new a suffix.
	oldEnd, newStart := 0, n
	for oldEnd < n && *req.LogEvents[oldEnd].Timestamp < oldest {
		oldEnd++
	}
	for newStart > oldEnd && *req.LogEvents[newStart-1].Timestamp > newest {
		newStart--
	}
	if fault != nil {
		oldEnd = max(oldEnd, min(fault.RejectOld, n))
		newStart = max(min(newStart, n-fault.RejectNew), oldEnd)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stream(req.LogGroupName, req.LogStreamName)
	if st == nil {
		what := "log stream"
		if s.groups[req.LogGroupName] == nil {
			what = "log group"
		}
		return nil, errorf(http.StatusBadRequest, "ResourceNotFoundException", "The specified %s does not exist.", what)
	}
	ingest := now.UnixMilli()
	for _, e := range req.LogEvents[oldEnd:newStart] {
		st.count++
		if s.opts.Digest {
			s.addDigest(req.LogGroupName, req.LogStreamName, *e.Timestamp, *e.Message)
		}
		if !s.opts.DiscardEvents {
			st.events = append(st.events, Event{Timestamp: *e.Timestamp, Message: *e.Message, IngestionTime: ingest})
		}
	}
	resp := putLogEventsResponse{NextSequenceToken: strconv.Itoa(st.count)}
	if oldEnd > 0 || newStart < n {
		resp.RejectedLogEventsInfo = &rejectedInfo{}
		if oldEnd > 0 {
			resp.RejectedLogEventsInfo.TooOldLogEventEndIndex = &oldEnd
		}
		if newStart < n {
			resp.RejectedLogEventsInfo.TooNewLogEventStartIndex = &newStart
		}
	}
	s.batches = append(s.batches, Batch{
		Group: req.LogGroupName, Stream: req.LogStreamName,
		Events: n, Bytes: size, Rejected: oldEnd + n - newStart, Span: last - first,
	})
	return resp, nil
}

// Digest returns a digest of the accepted events (Options.Digest): the
// SHA-256 of each event's group, stream, timestamp and message, summed as
// four 64-bit lanes. It does not depend on the order in which the events
// arrived, so two deliveries of the same input, however their batches
// interleave, have equal digests exactly when they delivered the same
// events with the same bytes to the same streams, each as often. Without
// Options.Digest it is empty.
func (s *Server) Digest() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opts.Digest {
		return ""
	}
	return fmt.Sprintf("%016x%016x%016x%016x", s.digest[0], s.digest[1], s.digest[2], s.digest[3])
}

func (s *Server) addDigest(group, stream string, ts int64, msg string) {
	if s.hasher == nil {
		s.hasher = sha256.New()
	}
	h := s.hasher
	h.Reset()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(group)))
	h.Write(n[:])
	io.WriteString(h, group)
	binary.BigEndian.PutUint64(n[:], uint64(len(stream)))
	h.Write(n[:])
	io.WriteString(h, stream)
	binary.BigEndian.PutUint64(n[:], uint64(ts))
	h.Write(n[:])
	io.WriteString(h, msg)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	for i := range s.digest {
		s.digest[i] += binary.BigEndian.Uint64(sum[8*i:])
	}
}

type outputEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

func (s *Server) getLogEvents(req request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stream(req.LogGroupName, req.LogStreamName)
	if st == nil {
		return nil, errorf(http.StatusBadRequest, "ResourceNotFoundException", "The specified log stream does not exist.")
	}
	events := make([]outputEvent, len(st.events))
	for i, e := range st.events {
		events[i] = outputEvent(e)
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Timestamp < events[j].Timestamp })
	return map[string]any{"events": events, "nextForwardToken": "f/end", "nextBackwardToken": "b/end"}, nil
}
