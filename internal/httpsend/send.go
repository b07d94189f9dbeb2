package httpsend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/reqbody"
)

// Retry says how often and how long requests are retried.
type Retry struct {
	// MaxAttempts bounds the attempts of one batch. Default: 6.
	MaxAttempts int
	// Base and Max bound the backoff between attempts: with
	// c = min(Max, Base*2^(attempt-1)), a random duration between c/2
	// and c ("equal jitter"). A Retry-After answer longer than Max is not
	// waited for: the batch fails retryably with the hint
	// (fault.RetryAfter). Defaults: 200ms and 10s.
	Base, Max time.Duration
}

// WithDefaults returns r with its zero fields set to the defaults.
func (r Retry) WithDefaults() Retry {
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 6
	}
	if r.Base <= 0 {
		r.Base = 200 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 10 * time.Second
	}
	return r
}

// Backoff returns the wait after attempt (1-based) failed.
func (r Retry) Backoff(attempt int) time.Duration {
	ceil := r.Base << min(attempt-1, 30)
	if ceil <= 0 || ceil > r.Max {
		ceil = r.Max
	}
	half := ceil / 2
	return half + time.Duration(rand.Int64N(int64(ceil-half)+1))
}

// Wait waits before the attempt after attempt, which failed with cause: the
// backoff, or the destination's Retry-After (after) when longer. It returns
// an error wrapping cause, without waiting, when the wait would pass the
// context's deadline or after is longer than Max, and one wrapping the
// context's error when the context ends while waiting. Both are retryable
// and carry after as their retry-after hint.
func (r Retry) Wait(ctx context.Context, attempt int, after time.Duration, cause error) error {
	if after > r.Max {
		return fault.WithRetryAfter(fmt.Errorf("the destination asks to retry after %v, longer than %v: %w", after, r.Max, cause), after)
	}
	wait := max(r.Backoff(attempt), after)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return fault.WithRetryAfter(fmt.Errorf("no time for attempt %d before the deadline: %w", attempt+1, cause), after)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fault.WithRetryAfter(fmt.Errorf("%w (waiting to retry after: %v)", ctx.Err(), cause), after)
	}
}

// RetryableStatus reports whether a request answered status may succeed
// when sent again: 408 Request Timeout, 429 Too Many Requests and every
// 5xx except 501 Not Implemented and 505 HTTP Version Not Supported. Data
// Prepper's backpressure answers (408, 429, 503) are among them.
func RetryableStatus(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return status >= 500 && status <= 599
}

// StatusError is an answer other than 2xx. It is permanent unless
// RetryableStatus(Status).
type StatusError struct {
	Method string // of the request
	Host   string // the URL's host[:port]; never its path or query, which may hold secrets
	Status int    // of the answer
	// Body is the start of the response body, as one line.
	Body string
}

// Error names the request's method and host, the status and the start of
// the body.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.Host, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Is makes a StatusError permanent (errors.Is(err, fault.ErrPermanent))
// unless its status is retryable.
func (e *StatusError) Is(target error) bool {
	return target == fault.ErrPermanent && !RetryableStatus(e.Status)
}

// maxErrorBody is the most of a response body an error message quotes.
const maxErrorBody = 512

// oneLine returns the start of a body for an error message: at most
// maxErrorBody bytes of valid UTF-8, white space collapsed.
func oneLine(b []byte) string {
	if len(b) > maxErrorBody {
		b = b[:maxErrorBody]
	}
	return strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "")), " ")
}

// Request is a request to send, maybe several times.
type Request struct {
	Method string      // default POST
	URL    *url.URL    // where to
	Header http.Header // sent as is, before Sign
	Body   []byte      // the body, sent again as is on every attempt
	// Sign, when set, is called on every attempt's request once its
	// headers are set: to sign it (SigV4, an HMAC with a fresh
	// timestamp).
	Sign func(ctx context.Context, req *http.Request) error
}

// Response is an answered request.
type Response struct {
	Status int         // the status code
	Header http.Header // the response's headers
	// Body is the response body, at most the Sender's MaxResponseBytes.
	Body []byte
	// Truncated says that the body was longer.
	Truncated bool
}

// Sender sends requests with a client from egress.NewClient.
type Sender struct {
	Client *http.Client // from egress.NewClient
	Retry  Retry        // with its defaults set
	// MaxResponseBytes bounds the response bodies read. Default:
	// egress.DefaultErrorBodyLimit.
	MaxResponseBytes int64
	// Logger receives a debug message for every retry. Default: none.
	Logger *slog.Logger
	// CancelGrace is how long an attempt in flight goes on once its
	// context is cancelled (not when its deadline passes): a request the
	// destination has taken then gets its answer, and what it delivered is
	// counted rather than sent again. Default: DefaultCancelGrace.
	CancelGrace time.Duration
}

// DefaultCancelGrace is the default of Sender.CancelGrace.
const DefaultCancelGrace = 500 * time.Millisecond

// attemptContext returns the context of one attempt: ctx's values and
// deadline, and ctx's cancellation delayed by CancelGrace.
func (s *Sender) attemptContext(ctx context.Context) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if dl, ok := ctx.Deadline(); ok {
		var cancelDeadline context.CancelFunc
		actx, cancelDeadline = context.WithDeadline(actx, dl)
		parent := cancel
		cancel = func() { cancelDeadline(); parent() }
	}
	grace := s.CancelGrace
	if grace <= 0 {
		grace = DefaultCancelGrace
	}
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return actx, func() {
		stop()
		cancel()
	}
}

// Do makes one attempt, which a cancellation of ctx ends only after
// CancelGrace. A transport failure is returned as an error
// naming the host (not the URL, which may hold secrets) and wrapping the
// cause: permanent when egress refused the URL or a redirect, retryable
// otherwise. Any status is returned as a Response, with a nil error; see
// Check.
func (s *Sender) Do(ctx context.Context, r *Request) (*Response, error) {
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	ctx, cancel := s.attemptContext(ctx)
	defer cancel()
	// The body goes out through readers detached when Do returns: the
	// caller reuses r.Body's memory for its next batch, and net/http may
	// still hold a request's body after the response (closing it, or
	// writing it to a connection being torn down).
	var mu sync.Mutex
	var readers []*reqbody.Reader
	newBody := func() io.ReadCloser {
		rd := reqbody.NewReader(r.Body)
		mu.Lock()
		readers = append(readers, rd)
		mu.Unlock()
		return rd
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, rd := range readers {
			rd.Detach()
		}
	}()
	req, err := http.NewRequestWithContext(ctx, method, r.URL.String(), newBody())
	if err != nil {
		return nil, fault.Permanent(fmt.Errorf("%s %s: %w", method, r.URL.Host, unwrapURL(err)))
	}
	req.ContentLength = int64(len(r.Body))
	req.GetBody = func() (io.ReadCloser, error) { return newBody(), nil }
	if len(r.Body) == 0 {
		req.Body, req.GetBody = http.NoBody, nil
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if r.Sign != nil {
		if err := r.Sign(ctx, req); err != nil {
			return nil, err
		}
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, r.URL.Host, unwrapURL(err))
	}
	defer resp.Body.Close()
	body, err := egress.ReadBody(resp.Body, s.MaxResponseBytes)
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	switch {
	case errors.Is(err, egress.ErrBodyTooLarge):
		out.Truncated = true
	case err != nil && resp.StatusCode/100 == 2:
		// An answer cut short says nothing of what was stored.
		return nil, fmt.Errorf("%s %s: reading the response: %w", method, r.URL.Host, unwrapURL(err))
	}
	return out, nil
}

// unwrapURL returns the cause of a *url.Error, whose message quotes the
// whole URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Check returns nil for a 2xx response, and otherwise a *StatusError,
// carrying the response's Retry-After as its hint when its status is
// retryable.
func Check(r *Request, resp *Response) error {
	if resp.Status/100 == 2 {
		return nil
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	err := error(&StatusError{Method: method, Host: r.URL.Host, Status: resp.Status, Body: oneLine(resp.Body)})
	if d := RetryAfter(resp.Header, time.Now()); d > 0 && RetryableStatus(resp.Status) {
		err = fault.WithRetryAfter(err, d)
	}
	return err
}

// RetryAfter returns the wait a Retry-After header asks for, in seconds or
// as an HTTP date; 0 when there is none or it cannot be read.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

// Send sends r until it is answered 2xx, a permanent failure occurs, the
// attempts run out or the context ends, waiting between attempts as Retry
// says. It returns the last response (nil when none came), the number of
// attempts made and the error, classified: permanent for refused URLs and
// non-retryable statuses, retryable otherwise, wrapping the context's
// error when it ended.
func (s *Sender) Send(ctx context.Context, r *Request) (*Response, int, error) {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, attempt - 1, err
		}
		resp, err := s.Do(ctx, r)
		if err == nil {
			err = Check(r, resp)
		}
		if err == nil {
			return resp, attempt, nil
		}
		if fault.IsPermanent(err) || ctx.Err() != nil {
			return resp, attempt, err
		}
		if attempt >= s.Retry.MaxAttempts {
			return resp, attempt, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		if s.Logger != nil {
			s.Logger.Debug("retrying", "host", r.URL.Host, "attempt", attempt, "err", err)
		}
		if werr := s.Retry.Wait(ctx, attempt, fault.RetryAfter(err), err); werr != nil {
			return resp, attempt, werr
		}
	}
}
