// Package webhooktest is an in-process webhook receiver for tests: it
// checks what a receiver should check (the bearer token, the signature and
// its freshness), decodes NDJSON and JSON array bodies, gzipped or not,
// strictly, drops batches it has already taken (by Idempotency-Key), and
// keeps the events. Start a Receiver, point the destination's URL at
// Receiver.URL (an http URL on loopback: allow both in the egress policy)
// and inspect what it received:
//
//	rcv := webhooktest.NewReceiver(webhooktest.Options{SigningKey: []byte("k")})
//	defer rcv.Close()
//	// … deliver to rcv.URL …
//	events := rcv.Events()
//
// The signature is verified independently of package webhook, with the
// standard library, as a receiver in any language would: the hex
// HMAC-SHA256 of t, '.', and the raw body, for a t within
// Options.Tolerance of Options.Now.
//
// Requests that fail a check are answered 401 (token, signature), 400 (a
// body that is not what its Content-Type says), 415 (another content
// type) or 413 (over Options.MaxBodyBytes, compressed or not), and
// nothing of them is kept. A hook (Options.Hook, Receiver.SetHook) may
// answer any request with a Fault instead: any status, Retry-After, or no
// answer at all.
package webhooktest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
)

// DefaultMaxBodyBytes is the default of Options.MaxBodyBytes.
const DefaultMaxBodyBytes = 100 << 20

// Options configure a Receiver.
type Options struct {
	// SigningKey, when set, is the key every request must be signed with.
	SigningKey []byte
	// Tolerance bounds how far a signature's time may be from Now.
	// Default: 5 minutes.
	Tolerance time.Duration
	// Now is the receiver's clock. Default: time.Now.
	Now func() time.Time
	// BearerToken, when set, is the token every request must carry.
	BearerToken string
	// MaxBodyBytes bounds bodies, before and after decompression.
	// Default: DefaultMaxBodyBytes.
	MaxBodyBytes int
	// DiscardEvents makes the receiver count events without keeping them,
	// for benchmarks.
	DiscardEvents bool
	// Hook, when set, is called before each request is handled; a non-nil
	// Fault it returns is the answer.
	Hook func(Request) *Fault
}

// Request describes a request, as a Hook sees it and Requests lists it.
type Request struct {
	N      int         // 1-based number of the request
	Header http.Header // the request's headers
	Bytes  int         // body bytes as received
	// Events is the number of events of an accepted request.
	Events int
	// Status is the answer, 0 for a request a Hook answered.
	Status int
	// Duplicate says that the request's Idempotency-Key was taken before.
	Duplicate bool
}

// Fault is an injected answer.
type Fault struct {
	Status     int    // default 503
	RetryAfter string // the Retry-After header, when set
	// Hang leaves the request unanswered until the client gives up or the
	// receiver closes.
	Hang bool
}

// Hang returns a fault that leaves a request unanswered.
func Hang() *Fault { return &Fault{Hang: true} }

// Receiver is a running webhook receiver. Its methods are safe for
// concurrent use.
type Receiver struct {
	// URL is the receiver's URL, such as http://127.0.0.1:41234.
	URL string

	srv    *httptest.Server
	opts   Options
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	hook     func(Request) *Fault
	requests []Request
	keys     map[string]bool
	events   []map[string]any
	count    int
}

// NewReceiver starts a receiver on a loopback port. Close it when done.
func NewReceiver(opts Options) *Receiver {
	if opts.Tolerance <= 0 {
		opts.Tolerance = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	r := &Receiver{opts: opts, hook: opts.Hook, closed: make(chan struct{}), keys: map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serveHTTP))
	r.URL = r.srv.URL
	return r
}

// Close shuts the receiver down. It may be called more than once.
func (r *Receiver) Close() {
	r.once.Do(func() {
		close(r.closed)
		r.srv.Close()
	})
}

// SetHook replaces the hook (nil: none).
func (r *Receiver) SetHook(h func(Request) *Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = h
}

// Events returns the events taken, in order (nil with DiscardEvents).
func (r *Receiver) Events() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Count returns the number of events taken, duplicates excluded.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// Requests returns the requests received, in order.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(req.Body, int64(r.opts.MaxBodyBytes)+1))
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	n := len(r.requests) + 1
	r.requests = append(r.requests, Request{N: n, Header: req.Header.Clone(), Bytes: len(raw)})
	hook := r.hook
	r.mu.Unlock()
	if hook != nil {
		if f := hook(Request{N: n, Header: req.Header.Clone(), Bytes: len(raw)}); f != nil {
			r.fault(w, req, f)
			return
		}
	}
	status, msg, events := r.check(req, raw)
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := &r.requests[n-1]
	rec.Status = status
	if status != http.StatusOK {
		http.Error(w, msg, status)
		return
	}
	rec.Events = len(events)
	if key := req.Header.Get("Idempotency-Key"); key != "" {
		if r.keys[key] {
			rec.Duplicate = true
			w.WriteHeader(http.StatusOK)
			return
		}
		r.keys[key] = true
	}
	r.count += len(events)
	if !r.opts.DiscardEvents {
		r.events = append(r.events, events...)
	}
	w.WriteHeader(http.StatusOK)
}

func (r *Receiver) fault(w http.ResponseWriter, req *http.Request, f *Fault) {
	if f.Hang {
		select {
		case <-req.Context().Done():
		case <-r.closed:
		}
		panic(http.ErrAbortHandler) // no answer: the connection is closed
	}
	status := f.Status
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	http.Error(w, "injected "+strconv.Itoa(status), status)
}

// check authenticates a request and decodes its events; it returns the
// status to answer, with a message when it is not 200.
func (r *Receiver) check(req *http.Request, raw []byte) (int, string, []map[string]any) {
	if req.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "POST only", nil
	}
	if len(raw) > r.opts.MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, "body too large", nil
	}
	if t := r.opts.BearerToken; t != "" && req.Header.Get("Authorization") != "Bearer "+t {
		return http.StatusUnauthorized, "wrong or missing bearer token", nil
	}
	if r.opts.SigningKey != nil {
		if err := r.verify(req.Header.Get("X-LogDelivery-Signature"), raw); err != "" {
			return http.StatusUnauthorized, "signature: " + err, nil
		}
	}
	body := raw
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return http.StatusBadRequest, "gzip: " + err.Error(), nil
		}
		body, err = io.ReadAll(io.LimitReader(zr, int64(r.opts.MaxBodyBytes)+1))
		if err != nil {
			return http.StatusBadRequest, "gzip: " + err.Error(), nil
		}
		if len(body) > r.opts.MaxBodyBytes {
			return http.StatusRequestEntityTooLarge, "decompressed body too large", nil
		}
	default:
		return http.StatusUnsupportedMediaType, "unsupported Content-Encoding " + enc, nil
	}
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	var events []map[string]any
	var err error
	switch mt {
	case "application/x-ndjson":
		events, err = parseNDJSON(body)
	case "application/json":
		events, err = parseArray(body)
	default:
		return http.StatusUnsupportedMediaType, "unsupported Content-Type " + mt, nil
	}
	if err != nil {
		return http.StatusBadRequest, err.Error(), nil
	}
	return http.StatusOK, "", events
}

// verify checks a signature header as any receiver would; it returns what
// is wrong, or "".
func (r *Receiver) verify(header string, body []byte) string {
	var ts, sig string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return "missing or malformed"
	}
	if d := r.opts.Now().Sub(time.Unix(sec, 0)); d > r.opts.Tolerance || d < -r.opts.Tolerance {
		return "stale timestamp"
	}
	m := hmac.New(sha256.New, r.opts.SigningKey)
	m.Write([]byte(ts + "."))
	m.Write(body)
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, m.Sum(nil)) {
		return "mismatch"
	}
	return ""
}

// parseNDJSON reads JSON objects, one a line, each line ending with a
// newline.
func parseNDJSON(body []byte) ([]map[string]any, error) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, fmt.Errorf("NDJSON must end with a newline")
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), len(body)+1)
	var out []map[string]any
	for line := 1; sc.Scan(); line++ {
		m, err := object(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// parseArray reads a JSON array of objects.
func parseArray(body []byte) ([]map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw []json.RawMessage
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, fmt.Errorf("not a JSON array: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		m, err := object(r)
		if err != nil {
			return nil, fmt.Errorf("element %d: %v", i, err)
		}
		out[i] = m
	}
	return out, nil
}

// object decodes exactly one JSON object.
func object(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil || dec.More() {
		return nil, fmt.Errorf("not one JSON object")
	}
	return m, nil
}
