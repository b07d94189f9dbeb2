package httpsend

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/fault"
)

func TestRetryableStatus(t *testing.T) {
	for status, want := range map[int]bool{
		200: false, 400: false, 401: false, 403: false, 404: false, 409: false, 413: false,
		408: true, 429: true, 500: true, 502: true, 503: true, 504: true, 599: true,
		501: false, 505: false,
	} {
		assert.Equal(t, want, RetryableStatus(status), "%d", status)
		err := &StatusError{Method: "POST", Host: "h", Status: status}
		assert.Equal(t, want, fault.IsRetryable(err), "StatusError %d", status)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 120 ":                         2 * time.Minute,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		"999999999":                     24 * time.Hour,
		"Mon, 30 Nov 2026 10:00:30 GMT": 30 * time.Second,
		"Mon, 30 Nov 2026 09:00:00 GMT": 0,
	} {
		assert.Equal(t, want, RetryAfter(http.Header{"Retry-After": {v}}, now), "%q", v)
	}
}

func TestBackoff(t *testing.T) {
	r := Retry{Base: 100 * time.Millisecond, Max: time.Second}.WithDefaults()
	assert.Equal(t, 6, r.MaxAttempts)
	for attempt, ceil := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		for range 50 {
			d := r.Backoff(attempt)
			assert.GreaterOrEqual(t, d, ceil/2)
			assert.LessOrEqual(t, d, ceil)
		}
	}
}

func TestWait(t *testing.T) {
	r := Retry{Base: time.Millisecond, Max: 50 * time.Millisecond}.WithDefaults()
	cause := errors.New("503")
	assert.NoError(t, r.Wait(context.Background(), 1, 0, cause))

	start := time.Now()
	assert.NoError(t, r.Wait(context.Background(), 1, 20*time.Millisecond, cause))
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond, "Retry-After is honoured")

	err := r.Wait(context.Background(), 1, time.Minute, cause)
	require.Error(t, err, "a Retry-After past Max is not waited for")
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, time.Minute, fault.RetryAfter(err), "the hint is passed on")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start = time.Now()
	err = r.Wait(ctx, 1, 40*time.Millisecond, cause)
	require.Error(t, err, "no wait past the deadline")
	assert.Less(t, time.Since(start), 10*time.Millisecond)
	assert.ErrorContains(t, err, "no time for attempt 2 before the deadline")
	assert.True(t, fault.IsRetryable(err))

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(5*time.Millisecond, cancel)
	err = Retry{Base: time.Second, Max: time.Second}.Wait(ctx, 1, 0, cause)
	assert.ErrorIs(t, err, context.Canceled)
}

// server answers each request with the next of statuses (the last one
// repeated), and Retry-After when set.
func server(t *testing.T, retryAfter string, statuses ...int) (*Sender, *url.URL, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		st := statuses[min(i, len(statuses)-1)]
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(st)
		_, _ = w.Write([]byte("answer\n" + strconv.Itoa(st) + " " + strings.Repeat("x", 1000)))
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL + "/secret-path?token=hunter2")
	port, _ := strconv.Atoi(u.Port())
	c, err := egress.NewClient(egress.Policy{AllowHTTP: true, AllowLoopback: true, Ports: []int{port}})
	require.NoError(t, err)
	return &Sender{Client: c, Retry: Retry{MaxAttempts: 4, Base: time.Millisecond, Max: 20 * time.Millisecond}}, u, &n
}

func TestSendRetries(t *testing.T) {
	s, u, n := server(t, "", 503, 429, 200)
	resp, calls, err := s.Send(context.Background(), &Request{URL: u, Body: []byte("x")})
	require.NoError(t, err)
	assert.Equal(t, 200, resp.Status)
	assert.Equal(t, 3, calls)
	assert.Equal(t, int64(3), n.Load())
}

func TestSendPermanent(t *testing.T) {
	s, u, n := server(t, "", 400)
	_, calls, err := s.Send(context.Background(), &Request{URL: u})
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err))
	assert.Equal(t, 1, calls, "a 4xx is not retried")
	assert.Equal(t, int64(1), n.Load())
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 400, se.Status)
	assert.LessOrEqual(t, len(se.Body), maxErrorBody)
	assert.True(t, strings.HasPrefix(se.Body, "answer 400 xxx"), "one line: %q", se.Body)
	assert.NotContains(t, err.Error(), "hunter2", "errors never quote the URL's path or query")
	assert.NotContains(t, err.Error(), "secret-path")
}

func TestSendGivesUp(t *testing.T) {
	s, u, _ := server(t, "", 502)
	_, calls, err := s.Send(context.Background(), &Request{URL: u})
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err))
	assert.Equal(t, 4, calls)
	assert.ErrorContains(t, err, "gave up after 4 attempts")
}

func TestSendRetryAfter(t *testing.T) {
	s, u, _ := server(t, "3600", 429)
	_, calls, err := s.Send(context.Background(), &Request{URL: u})
	require.Error(t, err)
	assert.Equal(t, 1, calls, "an hour's Retry-After is not waited for")
	assert.Equal(t, time.Hour, fault.RetryAfter(err))
	assert.True(t, fault.IsRetryable(err))
}

func TestSendRefused(t *testing.T) {
	c, err := egress.NewClient(egress.Policy{})
	require.NoError(t, err)
	s := &Sender{Client: c, Retry: Retry{}.WithDefaults()}
	u, _ := url.Parse("https://127.0.0.1/path?token=hunter2")
	_, calls, err := s.Send(context.Background(), &Request{URL: u})
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err), "egress refusals are permanent: %v", err)
	assert.ErrorIs(t, err, egress.ErrRefused)
	assert.Equal(t, 1, calls)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestSendSigns(t *testing.T) {
	s, u, _ := server(t, "", 503, 200)
	var signed int
	_, _, err := s.Send(context.Background(), &Request{URL: u, Header: http.Header{"X-A": {"1"}}, Sign: func(_ context.Context, r *http.Request) error {
		signed++
		assert.Equal(t, "1", r.Header.Get("X-A"), "headers are set before signing")
		return nil
	}})
	require.NoError(t, err)
	assert.Equal(t, 2, signed, "every attempt is signed afresh")
}

func TestDoCapsResponses(t *testing.T) {
	s, u, _ := server(t, "", 200)
	s.MaxResponseBytes = 10
	resp, err := s.Do(context.Background(), &Request{URL: u})
	require.NoError(t, err)
	assert.True(t, resp.Truncated)
	assert.Len(t, resp.Body, 10)
}

func TestSendContext(t *testing.T) {
	s, u, _ := server(t, "", 503)
	s.Retry = Retry{MaxAttempts: 100, Base: 50 * time.Millisecond, Max: 50 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := s.Send(ctx, &Request{URL: u})
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err))
	assert.Less(t, time.Since(start), 200*time.Millisecond, "no sleeping past the deadline")

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, calls, err := s.Send(ctx, &Request{URL: u})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, calls)
}

// An attempt in flight when its context is cancelled gets its answer
// within CancelGrace; one that does not is abandoned after it. A deadline
// ends it at once.
func TestCancelGrace(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("delay"))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer slow.Close()
	u, _ := url.Parse(slow.URL)
	port, _ := strconv.Atoi(u.Port())
	c, err := egress.NewClient(egress.Policy{AllowHTTP: true, AllowLoopback: true, Ports: []int{port}})
	require.NoError(t, err)
	s := &Sender{Client: c, Retry: Retry{}.WithDefaults(), CancelGrace: 300 * time.Millisecond}
	at := func(delay string) *Request {
		v, _ := url.Parse(slow.URL + "/?delay=" + delay)
		return &Request{URL: v}
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	resp, calls, err := s.Send(ctx, at("150ms"))
	require.NoError(t, err, "answered within the grace")
	assert.Equal(t, 200, resp.Status)
	assert.Equal(t, 1, calls)

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, _, err = s.Send(ctx, at("10s"))
	assert.ErrorIs(t, err, context.Canceled)
	assert.True(t, fault.IsRetryable(err))
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, _, err = s.Send(ctx, at("10s"))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 300*time.Millisecond, "no grace past a deadline")
}

// Bodies go out whole with their length, the empty one as no body, and the
// caller may reuse a body's memory as soon as Do returns.
func TestDoSendsBodyWithLength(t *testing.T) {
	type got struct {
		length int64
		body   string
	}
	seen := make(chan got, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- got{r.ContentLength, string(b)}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	c, err := egress.NewClient(egress.Policy{AllowHTTP: true, AllowLoopback: true, Ports: []int{port}})
	require.NoError(t, err)
	s := &Sender{Client: c}
	body := []byte(strings.Repeat("batch one ", 10_000))
	resp, err := s.Do(context.Background(), &Request{URL: u, Body: body})
	require.NoError(t, err)
	assert.Equal(t, 200, resp.Status)
	copy(body, "REUSED")
	assert.Equal(t, got{int64(len(body)), strings.Repeat("batch one ", 10_000)}, <-seen)

	_, err = s.Do(context.Background(), &Request{URL: u})
	require.NoError(t, err)
	assert.Equal(t, got{0, ""}, <-seen)
}
