// Package opensearchtest is an in-process fake of the OpenSearch and
// Elasticsearch _bulk API for tests: it answers POST .../_bulk as a
// cluster does, strictly, so that a client building bad requests fails its
// tests. Start a Server, point the destination's URL at Server.URL (an
// http URL on loopback: allow both in the egress policy) and inspect what
// it stored:
//
//	srv := opensearchtest.NewServer(opensearchtest.Options{})
//	defer srv.Close()
//	// … deliver to srv.URL …
//	docs := srv.Documents("logs-acme-2026.11.30")
//
// # Rules
//
// The body must be NDJSON (Content-Type application/x-ndjson or
// application/json) ending with a newline, without empty lines; every
// action line an object with one action (create, index, update, delete)
// naming its _index, with only the metadata fields the API knows; every
// create, index and update followed by a source line that is a JSON
// object. A request breaking these rules is answered 400 (406 for the
// content type) as the API answers it, and nothing of it is stored. Each
// document is then checked like a cluster would: an invalid index name
// (upper case, a forbidden character, a leading '-', '_' or '+') and a
// field whose type conflicts with the index's dynamic mapping so far (a
// label app next to app.kubernetes.io/name: dotted names are object paths)
// are answered 400 for that document only. A body larger than
// Options.MaxBodyBytes is answered 413.
//
// # Authentication
//
// With Options.Username, requests need that HTTP basic authentication
// (401 otherwise); with Options.SigV4 they need a SigV4 signature that
// the server recomputes with the secret key of the access key used (403
// otherwise), over the body whose hash X-Amz-Content-Sha256 gives.
//
// # Faults
//
// A hook (Options.Hook, Server.SetHook) sees every request before it is
// handled and may answer it with a Fault: any status, Retry-After, or no
// answer at all (Hang). A document hook (Options.DocumentHook,
// Server.SetDocumentHook) may answer single documents with a status of
// its choice, such as 429 or 400, which the response reports in the
// document's item while the others are stored.
package opensearchtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// DefaultMaxBodyBytes is the default of Options.MaxBodyBytes: 100 MiB,
// OpenSearch's default http.max_content_length.
const DefaultMaxBodyBytes = 100 << 20

// Options configure a Server.
type Options struct {
	// Username and Password, when Username is set, are the HTTP basic
	// authentication every request needs.
	Username, Password string
	// SigV4, when set, requires every request to be signed with one of its
	// keys for its region and service.
	SigV4 *SigV4
	// MaxBodyBytes bounds request bodies. Default: DefaultMaxBodyBytes.
	MaxBodyBytes int
	// DiscardDocuments makes the server count stored documents without
	// keeping them, for benchmarks.
	DiscardDocuments bool
	// Hook, when set, is called before each request is handled; a
	// non-nil Fault it returns is the answer. See Server.SetHook.
	Hook func(Request) *Fault
	// DocumentHook, when set, is called for each valid document of a
	// valid request; a status other than 0 is its answer instead of
	// being stored. See Server.SetDocumentHook.
	DocumentHook func(Document) int
}

// SigV4 is what signatures are checked against.
type SigV4 struct {
	Region  string // such as eu-west-1
	Service string // es or aoss
	// Keys maps access key ids to their secret keys.
	Keys map[string]string
}

// Request describes a _bulk request, as a Hook sees it and Requests lists
// it.
type Request struct {
	N         int         // 1-based number of the request
	Path      string      // such as /_bulk
	Pipeline  string      // the pipeline parameter
	Documents int         // lines / 2: the documents of create and index actions
	Bytes     int         // body size
	Header    http.Header // the request's headers
	// AccessKeyID is the access key of its SigV4 signature, if any.
	AccessKeyID string
}

// Document is one document of a request, as a DocumentHook sees it.
type Document struct {
	N      int            // 1-based number of the document among all received
	Action string         // create, index, update or delete
	Index  string         // the action's _index
	Source map[string]any // the source line, decoded (numbers as json.Number)
	Raw    []byte         // the source line
}

// Fault is an injected answer to a request.
type Fault struct {
	Status     int    // default 500
	Body       string // default: an error object naming the status
	RetryAfter string // the Retry-After header, when set
	// Hang leaves the request unanswered until the client gives up (its
	// context ends) or the server closes; the other fields are ignored.
	Hang bool
}

// Hang returns a fault that leaves a request unanswered.
func Hang() *Fault { return &Fault{Hang: true} }

// Stored is a stored document.
type Stored struct {
	ID     string         // the action's _id, or the one the server chose
	Source map[string]any // the source line, decoded (numbers as json.Number)
}

// Server is a running fake cluster. Its methods are safe for concurrent
// use.
type Server struct {
	// URL is the cluster's URL, such as http://127.0.0.1:41234.
	URL string

	srv    *httptest.Server
	opts   Options
	signer *v4.Signer
	closed chan struct{}
	once   sync.Once

	mu        sync.Mutex
	keys      map[string]string // SigV4 keys
	hook      func(Request) *Fault
	docHook   func(Document) int
	indexes   map[string]*index
	requests  []Request
	documents int // received
	stored    int
}

type index struct {
	docs   []Stored
	fields map[string]string // dynamic mapping: path → "object" or a leaf type
}

// NewServer starts a server on a loopback port. Close it when done.
func NewServer(opts Options) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &Server{opts: opts, hook: opts.Hook, docHook: opts.DocumentHook, signer: v4.NewSigner(),
		closed: make(chan struct{}), indexes: map[string]*index{}, keys: map[string]string{}}
	if opts.SigV4 != nil {
		maps.Copy(s.keys, opts.SigV4.Keys)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down; hung requests end without an answer. It
// may be called more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.srv.Close()
	})
}

// SetHook replaces the request hook (nil: none).
func (s *Server) SetHook(h func(Request) *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}

// SetDocumentHook replaces the document hook (nil: none).
func (s *Server) SetDocumentHook(h func(Document) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docHook = h
}

// AddSigV4Key adds a key signatures may be made with (Options.SigV4 must
// be set): for credentials known only once the server runs, such as those
// of an assumed role.
func (s *Server) AddSigV4Key(accessKeyID, secretAccessKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[accessKeyID] = secretAccessKey
}

// Indexes returns the names of the indexes holding documents, sorted.
func (s *Server) Indexes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.indexes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Documents returns the documents of an index in the order stored (nil
// with DiscardDocuments).
func (s *Server) Documents(name string) []Stored {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix := s.indexes[name]; ix != nil {
		return slices.Clone(ix.docs)
	}
	return nil
}

// Count returns the number of documents stored.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stored
}

// Requests returns the _bulk requests received, faulted and refused ones
// included, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// errorBody is the API's error object.
func errorBody(status int, typ, reason string) []byte {
	b, _ := json.Marshal(map[string]any{
		"error":  map[string]any{"root_cause": []any{map[string]string{"type": typ, "reason": reason}}, "type": typ, "reason": reason},
		"status": status,
	})
	return b
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/_bulk") {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody(405, "illegal_argument_exception", fmt.Sprintf("no handler for %s %s", r.Method, r.URL.Path)))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.MaxBodyBytes)+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody(400, "parse_exception", "reading the body: "+err.Error()))
		return
	}
	req := Request{Path: r.URL.Path, Pipeline: r.URL.Query().Get("pipeline"), Bytes: len(body), Header: r.Header.Clone(),
		Documents: bytes.Count(body, []byte("\n")) / 2, AccessKeyID: accessKeyID(r.Header.Get("Authorization"))}
	s.mu.Lock()
	req.N = len(s.requests) + 1
	s.requests = append(s.requests, req)
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		if f := hook(req); f != nil {
			s.fault(w, r, f)
			return
		}
	}
	if status, body := s.authenticate(r, body); status != 0 {
		writeJSON(w, status, body)
		return
	}
	if len(body) > s.opts.MaxBodyBytes {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody(413, "content_too_long_exception", fmt.Sprintf("request body is larger than %d bytes", s.opts.MaxBodyBytes)))
		return
	}
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	if ct = strings.TrimSpace(strings.ToLower(ct)); ct != "application/x-ndjson" && ct != "application/json" {
		writeJSON(w, http.StatusNotAcceptable, errorBody(406, "illegal_argument_exception", fmt.Sprintf("Content-Type header [%s] is not supported", r.Header.Get("Content-Type"))))
		return
	}
	actions, err := parse(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody(400, "illegal_argument_exception", err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, s.apply(actions))
}

func (s *Server) fault(w http.ResponseWriter, r *http.Request, f *Fault) {
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		panic(http.ErrAbortHandler) // no answer: the connection is closed
	}
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	body := []byte(f.Body)
	if f.Body == "" {
		body = errorBody(status, "fault", "injected "+strconv.Itoa(status))
	}
	writeJSON(w, status, body)
}

// authenticate checks basic authentication or the SigV4 signature and
// returns the error answer, or 0.
func (s *Server) authenticate(r *http.Request, body []byte) (int, []byte) {
	if s.opts.Username != "" {
		user, pw, ok := r.BasicAuth()
		if !ok || user != s.opts.Username || pw != s.opts.Password {
			return http.StatusUnauthorized, errorBody(401, "security_exception", "missing or wrong authentication credentials for REST request")
		}
	}
	if s.opts.SigV4 != nil {
		if err := s.verify(r, body); err != nil {
			return http.StatusForbidden, []byte(fmt.Sprintf(`{"message":%q}`, err.Error()))
		}
	}
	return 0, nil
}

// verify recomputes the SigV4 signature of r.
func (s *Server) verify(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return fmt.Errorf("the request is not signed with SigV4")
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 {
		return fmt.Errorf("malformed credential scope")
	}
	s.mu.Lock()
	secret, ok := s.keys[scope[0]]
	s.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("the security token included in the request is invalid (access key %s)", scope[0])
	case scope[2] != s.opts.SigV4.Region:
		return fmt.Errorf("credential should be scoped to a valid region, not %s", scope[2])
	case scope[3] != s.opts.SigV4.Service:
		return fmt.Errorf("credential should be scoped to correct service: %s, not %s", s.opts.SigV4.Service, scope[3])
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if got := r.Header.Get("X-Amz-Content-Sha256"); got != hash {
		return fmt.Errorf("X-Amz-Content-Sha256 %q is not the body's hash", got)
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %v", err)
	}
	clone, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			clone.ContentLength = r.ContentLength
		default:
			clone.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := aws.Credentials{AccessKeyID: scope[0], SecretAccessKey: secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := s.signer.SignHTTP(context.Background(), creds, clone, hash, scope[3], scope[2], when); err != nil {
		return err
	}
	if clone.Header.Get("Authorization") != auth {
		return fmt.Errorf("the request signature we calculated does not match the signature you provided")
	}
	return nil
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

// action is one parsed action and its source.
type action struct {
	op     string
	index  string
	id     string
	source map[string]any
	raw    []byte
}

// metadata are the fields an action line may carry.
var metadata = []string{"_index", "_id", "routing", "pipeline", "require_alias", "if_seq_no", "if_primary_term",
	"version", "version_type", "retry_on_conflict", "dynamic_templates", "op_type"}

// parse parses an NDJSON bulk body strictly.
func parse(body []byte) ([]action, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("request body is required")
	}
	if body[len(body)-1] != '\n' {
		return nil, fmt.Errorf("The bulk request must be terminated by a newline [\\n]")
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), len(body)+1)
	var out []action
	line := 0
	next := func() ([]byte, bool) {
		if !sc.Scan() {
			return nil, false
		}
		line++
		return sc.Bytes(), true
	}
	for {
		b, ok := next()
		if !ok {
			break
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, fmt.Errorf("line %d: empty line, expected an action", line)
		}
		var m map[string]json.RawMessage
		if err := strictObject(b, &m); err != nil {
			return nil, fmt.Errorf("line %d: malformed action/metadata line: %v", line, err)
		}
		if len(m) != 1 {
			return nil, fmt.Errorf("line %d: malformed action/metadata line, expected one action, found %d", line, len(m))
		}
		var a action
		var meta map[string]json.RawMessage
		for op, v := range m {
			a.op = op
			if err := strictObject(v, &meta); err != nil {
				return nil, fmt.Errorf("line %d: metadata of %s: %v", line, op, err)
			}
		}
		switch a.op {
		case "create", "index", "update", "delete":
		default:
			return nil, fmt.Errorf("line %d: action [%s] not supported", line, a.op)
		}
		for k := range meta {
			if !slices.Contains(metadata, k) {
				return nil, fmt.Errorf("line %d: action [%s] does not support [%s]", line, a.op, k)
			}
		}
		if err := json.Unmarshal(meta["_index"], &a.index); err != nil || a.index == "" {
			return nil, fmt.Errorf("line %d: no _index in the action and none in the path", line)
		}
		if raw, ok := meta["_id"]; ok {
			_ = json.Unmarshal(raw, &a.id)
		}
		if a.op != "delete" {
			src, ok := next()
			if !ok {
				return nil, fmt.Errorf("line %d: the %s action has no source line", line, a.op)
			}
			if err := strictObject(src, &a.source); err != nil {
				return nil, fmt.Errorf("line %d: the source is not a JSON object: %v", line, err)
			}
			a.raw = slices.Clone(src)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// strictObject decodes one JSON object that fills b.
func strictObject[T any](b []byte, v *T) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value on the line")
	}
	if bytes.TrimSpace(b)[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	return nil
}

type item struct {
	Index  string         `json:"_index"`
	ID     string         `json:"_id,omitempty"`
	Result string         `json:"result,omitempty"`
	Status int            `json:"status"`
	Error  map[string]any `json:"error,omitempty"`
}

// apply stores the documents of a valid request and returns the response.
func (s *Server) apply(actions []action) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := struct {
		Took   int                `json:"took"`
		Errors bool               `json:"errors"`
		Items  []map[string]*item `json:"items"`
	}{Took: 1, Items: make([]map[string]*item, len(actions))}
	for i, a := range actions {
		s.documents++
		it := &item{Index: a.index}
		resp.Items[i] = map[string]*item{a.op: it}
		status, typ, reason := 0, "", ""
		if why := invalidIndex(a.index); why != "" {
			status, typ, reason = 400, "invalid_index_name_exception", fmt.Sprintf("Invalid index name [%s], %s", a.index, why)
		}
		if status == 0 && s.docHook != nil {
			s.mu.Unlock()
			status = s.docHook(Document{N: s.documents, Action: a.op, Index: a.index, Source: a.source, Raw: a.raw})
			s.mu.Lock()
			typ, reason = "fault", fmt.Sprintf("injected %d", status)
			if status == http.StatusTooManyRequests {
				typ, reason = "es_rejected_execution_exception", "rejected execution of coordinating operation"
			}
		}
		ix := s.indexes[a.index]
		if status == 0 && a.op != "delete" {
			if ix == nil {
				ix = &index{fields: map[string]string{}}
			}
			if err := ix.mapping(a.source); err != "" {
				status, typ, reason = 400, "mapper_parsing_exception", err
			}
		}
		if status != 0 {
			it.Status = status
			it.Error = map[string]any{"type": typ, "reason": reason}
			resp.Errors = true
			continue
		}
		if a.op == "delete" {
			it.Status, it.Result = 404, "not_found"
			continue
		}
		s.indexes[a.index] = ix
		s.stored++
		it.ID = a.id
		if it.ID == "" {
			it.ID = strconv.Itoa(s.documents)
		}
		it.Status, it.Result = 201, "created"
		if !s.opts.DiscardDocuments {
			ix.docs = append(ix.docs, Stored{ID: it.ID, Source: a.source})
		}
	}
	b, _ := json.Marshal(resp)
	return b
}

// invalidIndex returns why name is not a valid index name, or "".
func invalidIndex(name string) string {
	switch {
	case name == "." || name == "..":
		return "must not be '.' or '..'"
	case len(name) > 255:
		return "index name is too long"
	case strings.ContainsAny(name[:1], "-_+"):
		return "must not start with '_', '-', or '+'"
	case strings.ToLower(name) != name:
		return "must be lowercase"
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return `must not contain the following characters [ , ", *, \, <, |, ,, >, /, ?, #, :]`
	}
	return ""
}

// mapping checks a document's fields against the index's dynamic mapping
// and extends it; it returns the conflict, or "".
func (ix *index) mapping(src map[string]any) string {
	paths := map[string]string{}
	conflict := ""
	set := func(p, typ string) {
		have, ok := paths[p]
		if !ok {
			have, ok = ix.fields[p]
		}
		if ok && (have == "object") != (typ == "object") && conflict == "" {
			conflict = fmt.Sprintf("failed to parse field [%s]: the field is mapped as %s, the document has %s", p, have, typ)
		}
		paths[p] = typ
	}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			// Dotted names are object paths.
			parts := strings.Split(k, ".")
			p := prefix
			for _, part := range parts[:len(parts)-1] {
				p = join(p, part)
				set(p, "object")
			}
			p = join(p, parts[len(parts)-1])
			if v, ok := m[k].(map[string]any); ok {
				set(p, "object")
				walk(p, v)
				continue
			}
			set(p, leafType(m[k]))
		}
	}
	walk("", src)
	if conflict != "" {
		return conflict
	}
	for p, typ := range paths {
		if _, ok := ix.fields[p]; !ok {
			ix.fields[p] = typ
		}
	}
	return ""
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func leafType(v any) string {
	switch v.(type) {
	case json.Number:
		return "long"
	case bool:
		return "boolean"
	case nil:
		return "null"
	case []any:
		return "array"
	}
	return "text"
}
