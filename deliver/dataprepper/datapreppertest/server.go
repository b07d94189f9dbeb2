// Package datapreppertest is an in-process fake of a Data Prepper
// pipeline's HTTP source for tests: it takes JSON arrays of events at
// Options.Path into a bounded buffer, as the source does, and answers
// backpressure when the buffer is full. Start a Server, point the
// destination's URL at Server.URL (an http URL on loopback: allow both in
// the egress policy) and inspect what it received:
//
//	srv := datapreppertest.NewServer(datapreppertest.Options{BufferCapacity: 1000})
//	defer srv.Close()
//	// … deliver to srv.URL …
//	events := srv.Events()
//
// # Rules
//
// Requests must be POST to Options.Path with Content-Type
// application/json and a body that is a JSON array of JSON objects (each
// one event); other requests are answered 404, 405, 415 or 400, and a body
// over Options.MaxRequestBytes 413, as the source answers them.
//
// # Backpressure
//
// With Options.BufferCapacity, accepted events wait in a buffer until the
// pipeline drains it (Server.Drain, or every Options.DrainInterval); a
// request whose events do not fit in what is left is refused whole with
// Options.BackpressureStatus (408 by default, what the source answers
// when its buffer write times out; 429 is what it answers when too many
// requests are pending). A hook (Options.Hook, Server.SetHook) may answer
// any request with a Fault instead: any status, Retry-After, or no answer
// at all.
package datapreppertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultPath            = "/log/ingest"
	DefaultMaxRequestBytes = 10 << 20 // the source's max_request_length
)

// Options configure a Server.
type Options struct {
	// Path is where events are posted. Default: DefaultPath.
	Path string
	// Username and Password, when Username is set, are the HTTP basic
	// authentication requests need (401 otherwise).
	Username, Password string
	// MaxRequestBytes bounds request bodies. Default: DefaultMaxRequestBytes.
	MaxRequestBytes int
	// BufferCapacity bounds the events waiting in the buffer; 0 for no
	// bound.
	BufferCapacity int
	// DrainInterval, when positive, drains the buffer that often.
	DrainInterval time.Duration
	// BackpressureStatus answers a request that does not fit in the
	// buffer. Default: 408.
	BackpressureStatus int
	// DiscardEvents makes the server count events without keeping them,
	// for benchmarks.
	DiscardEvents bool
	// Hook, when set, is called before each request is handled; a non-nil
	// Fault it returns is the answer.
	Hook func(Request) *Fault
}

// Request describes a request, as a Hook sees it.
type Request struct {
	N      int         // 1-based number of the request
	Bytes  int         // body size
	Header http.Header // the request's headers
}

// Fault is an injected answer.
type Fault struct {
	Status     int    // default 503
	RetryAfter string // the Retry-After header, when set
	// Hang leaves the request unanswered until the client gives up or the
	// server closes.
	Hang bool
}

// Hang returns a fault that leaves a request unanswered.
func Hang() *Fault { return &Fault{Hang: true} }

// Server is a running fake source. Its methods are safe for concurrent
// use.
type Server struct {
	// URL is the server's URL, such as http://127.0.0.1:41234, without
	// the path.
	URL string

	srv    *httptest.Server
	opts   Options
	closed chan struct{}
	once   sync.Once

	mu           sync.Mutex
	hook         func(Request) *Fault
	requests     int
	buffered     int
	accepted     int
	backpressure int
	events       []map[string]any
}

// NewServer starts a server on a loopback port. Close it when done.
func NewServer(opts Options) *Server {
	if opts.Path == "" {
		opts.Path = DefaultPath
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if opts.BackpressureStatus == 0 {
		opts.BackpressureStatus = http.StatusRequestTimeout
	}
	s := &Server{opts: opts, hook: opts.Hook, closed: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	if opts.DrainInterval > 0 {
		go func() {
			t := time.NewTicker(opts.DrainInterval)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					s.Drain()
				case <-s.closed:
					return
				}
			}
		}()
	}
	return s
}

// Close shuts the server down. It may be called more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.srv.Close()
	})
}

// SetHook replaces the hook (nil: none).
func (s *Server) SetHook(h func(Request) *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}

// Drain empties the buffer, as the pipeline's workers do.
func (s *Server) Drain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buffered = 0
}

// Events returns the events accepted, in order (nil with DiscardEvents).
func (s *Server) Events() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Count returns the number of events accepted.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Requests returns the number of requests received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Backpressure returns the number of requests refused for a full buffer.
func (s *Server) Backpressure() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.backpressure
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.MaxRequestBytes)+1))
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	req := Request{N: s.requests, Bytes: len(body), Header: r.Header.Clone()}
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		if f := hook(req); f != nil {
			s.fault(w, r, f)
			return
		}
	}
	switch {
	case r.URL.Path != s.opts.Path:
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	case r.Method != http.MethodPost:
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if s.opts.Username != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != s.opts.Username || p != s.opts.Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="data-prepper"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
	}
	if len(body) > s.opts.MaxRequestBytes {
		http.Error(w, "Request Entity Too Large", http.StatusRequestEntityTooLarge)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "Unsupported Media Type", http.StatusUnsupportedMediaType)
		return
	}
	events, err := parse(body)
	if err != nil {
		http.Error(w, "Bad Request: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.opts.BufferCapacity; c > 0 && s.buffered+len(events) > c {
		s.backpressure++
		http.Error(w, "Buffer is full", s.opts.BackpressureStatus)
		return
	}
	s.buffered += len(events)
	s.accepted += len(events)
	if !s.opts.DiscardEvents {
		s.events = append(s.events, events...)
	}
	w.WriteHeader(http.StatusOK)
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
		status = http.StatusServiceUnavailable
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	http.Error(w, "injected "+strconv.Itoa(status), status)
}

// parse reads a JSON array of objects, strictly.
func parse(body []byte) ([]map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw []json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON array: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	if raw == nil {
		return nil, fmt.Errorf("not a JSON array")
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		d := json.NewDecoder(bytes.NewReader(r))
		d.UseNumber()
		if err := d.Decode(&out[i]); err != nil || out[i] == nil {
			return nil, fmt.Errorf("element %d is not a JSON object", i)
		}
	}
	return out, nil
}
