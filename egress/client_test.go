package egress_test

import (
	"context"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/fault"
)

// fakeResolver answers each lookup with the next of its answers (the last
// one again when they run out) and counts lookups.
type fakeResolver struct {
	mu      sync.Mutex
	answers [][]netip.Addr
	calls   int
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, _ string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return r.answers[min(r.calls, len(r.answers))-1], nil
}

func (r *fakeResolver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// tlsServer is an httptest TLS server on loopback; its certificate is for
// 127.0.0.1, ::1 and example.com.
type tlsServer struct {
	*httptest.Server
	hits       atomic.Int64
	serverName atomic.Value // TLS ServerName of the last request
	port       int
	roots      *x509.CertPool
}

func newTLSServer(t *testing.T) *tlsServer {
	t.Helper()
	s := &tlsServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		s.serverName.Store(r.TLS.ServerName)
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 100<<10)))
	})
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		mux.ServeHTTP(w, r)
	}))
	// The failed handshakes the tests cause are expected.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	s.port, err = strconv.Atoi(u.Port())
	require.NoError(t, err)
	s.roots = x509.NewCertPool()
	s.roots.AddCert(s.Certificate())
	return s
}

// url returns the server's URL for host and path.
func (s *tlsServer) url(host, path string) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(s.port)) + path
}

func get(t *testing.T, c *http.Client, raw string) (*http.Response, string, error) {
	t.Helper()
	resp, err := c.Get(raw)
	if err != nil {
		return resp, "", err
	}
	defer resp.Body.Close()
	body, err := egress.ReadBody(resp.Body, 0)
	return resp, string(body), err
}

func TestClientRefusesLoopbackByDefault(t *testing.T) {
	s := newTLSServer(t)
	c, err := egress.NewClient(egress.Policy{Ports: []int{s.port}}, func(o *egress.Options) { o.RootCAs = s.roots })
	require.NoError(t, err)

	for _, raw := range []string{s.URL + "/ok", s.url("::1", "/ok"), s.url("localhost", "/ok")} {
		_, _, err = get(t, c, raw)
		require.Error(t, err, raw)
		assert.True(t, fault.IsPermanent(err), "permanent through *url.Error: %v", err)
		assert.ErrorIs(t, err, egress.ErrRefused)
		assert.Regexp(t, "loopback|localhost names", err.Error())
	}
	assert.Zero(t, s.hits.Load())
}

func TestClientAllowLoopback(t *testing.T) {
	s := newTLSServer(t)
	p := egress.Policy{AllowLoopback: true, Ports: []int{s.port}}

	// TLS verification is on: the self-signed server fails without its CA.
	c, err := egress.NewClient(p)
	require.NoError(t, err)
	_, _, err = get(t, c, s.URL+"/ok")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
	assert.Zero(t, s.hits.Load())

	c, err = egress.NewClient(p, func(o *egress.Options) { o.RootCAs = s.roots })
	require.NoError(t, err)
	resp, body, err := get(t, c, s.URL+"/ok")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok", body)

	// localhost connects to loopback, and is verified as localhost: the
	// certificate names 127.0.0.1, ::1 and example.com only.
	_, _, err = get(t, c, s.url("localhost", "/ok"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate is valid for")
}

func TestClientVerifiesTheURLHost(t *testing.T) {
	s := newTLSServer(t)
	res := &fakeResolver{answers: [][]netip.Addr{{netip.MustParseAddr("127.0.0.1")}}}
	c, err := egress.NewClient(egress.Policy{AllowLoopback: true, Ports: []int{s.port}}, func(o *egress.Options) {
		o.RootCAs = s.roots
		o.Resolver = res
	})
	require.NoError(t, err)

	// Connected to 127.0.0.1, verified and SNI as example.com.
	_, body, err := get(t, c, s.url("example.com", "/ok"))
	require.NoError(t, err)
	assert.Equal(t, "ok", body)
	assert.Equal(t, "example.com", s.serverName.Load())

	// The same address under a name the certificate does not hold fails.
	_, _, err = get(t, c, s.url("other.example.net", "/ok"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate is valid for")
}

func TestClientNoRebinding(t *testing.T) {
	s := newTLSServer(t)
	// The first answer is allowed, the second private.
	res := &fakeResolver{answers: [][]netip.Addr{
		{netip.MustParseAddr("127.0.0.1")},
		{netip.MustParseAddr("10.0.0.5")},
	}}
	c, err := egress.NewClient(egress.Policy{AllowLoopback: true, Ports: []int{s.port}}, func(o *egress.Options) {
		o.RootCAs = s.roots
		o.Resolver = res
	})
	require.NoError(t, err)

	// example.com does not resolve to this server in the real DNS: the
	// request succeeds only because the connection went to the address the
	// fake resolver gave and the guard checked, net/http resolving nothing.
	_, body, err := get(t, c, s.url("example.com", "/ok"))
	require.NoError(t, err)
	assert.Equal(t, "ok", body)
	assert.Equal(t, 1, res.count(), "one lookup for one connection")

	// A kept-alive connection is reused without a lookup.
	_, _, err = get(t, c, s.url("example.com", "/ok"))
	require.NoError(t, err)
	assert.Equal(t, 1, res.count())

	// A new connection looks the name up again, and is refused.
	c.CloseIdleConnections()
	_, _, err = get(t, c, s.url("example.com", "/ok"))
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err))
	assert.Contains(t, err.Error(), `egress: host "example.com" resolves to 10.0.0.5, a private address (RFC 1918)`)
	assert.Equal(t, 2, res.count())
	assert.Equal(t, int64(2), s.hits.Load())
}

func TestClientRefusesRedirects(t *testing.T) {
	s := newTLSServer(t)
	c, err := egress.NewClient(egress.Policy{AllowLoopback: true, Ports: []int{s.port}}, func(o *egress.Options) { o.RootCAs = s.roots })
	require.NoError(t, err)

	resp, err := c.Get(s.URL + "/redirect")
	require.Error(t, err)
	assert.ErrorIs(t, err, egress.ErrRedirect)
	assert.True(t, fault.IsPermanent(err))
	assert.Contains(t, err.Error(), "302 from")
	require.NotNil(t, resp, "the redirect response is returned, its body closed")
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, int64(1), s.hits.Load(), "the redirect is not followed")
}

func TestClientBodyCap(t *testing.T) {
	s := newTLSServer(t)
	c, err := egress.NewClient(egress.Policy{AllowLoopback: true, Ports: []int{s.port}}, func(o *egress.Options) { o.RootCAs = s.roots })
	require.NoError(t, err)

	_, body, err := get(t, c, s.URL+"/big")
	assert.ErrorIs(t, err, egress.ErrBodyTooLarge)
	assert.EqualError(t, err, "egress: response body too large: more than 65536 bytes")
	assert.Len(t, body, egress.DefaultErrorBodyLimit)
}

func TestClientChecksRequests(t *testing.T) {
	s := newTLSServer(t)
	c, err := egress.NewClient(egress.Policy{AllowLoopback: true, Ports: []int{s.port}}, func(o *egress.Options) { o.RootCAs = s.roots })
	require.NoError(t, err)

	for raw, rule := range map[string]string{
		"http://127.0.0.1:" + strconv.Itoa(s.port) + "/ok": "http scheme",
		"https://10.0.0.5:" + strconv.Itoa(s.port) + "/":   "private",
		"https://127.0.0.1:22/":                            "port 22",
		"https://u:p@127.0.0.1:" + strconv.Itoa(s.port):    "userinfo",
		"https://metadata.google.internal/":                "metadata",
	} {
		req, err := http.NewRequest(http.MethodPost, raw, strings.NewReader("payload"))
		require.NoError(t, err)
		_, err = c.Do(req)
		if assert.Error(t, err, raw) {
			assert.Contains(t, err.Error(), rule, raw)
			assert.True(t, fault.IsPermanent(err), raw)
		}
	}
	assert.Zero(t, s.hits.Load())
}

func TestClientIgnoresProxyEnvironment(t *testing.T) {
	s := newTLSServer(t)
	t.Setenv("HTTPS_PROXY", "http://192.0.2.1:3128")
	t.Setenv("HTTP_PROXY", "http://192.0.2.1:3128")
	t.Setenv("NO_PROXY", "")
	c, err := egress.NewClient(egress.Policy{AllowLoopback: true, Ports: []int{s.port}}, func(o *egress.Options) {
		o.RootCAs = s.roots
		o.ConnectTimeout = time.Second
	})
	require.NoError(t, err)
	_, body, err := get(t, c, s.URL+"/ok")
	require.NoError(t, err, "the request went to the server, not to the proxy")
	assert.Equal(t, "ok", body)
}

func TestClientTimeouts(t *testing.T) {
	release := make(chan struct{})
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer s.Close()
	defer close(release)
	u, _ := url.Parse(s.URL)
	port, _ := strconv.Atoi(u.Port())
	roots := x509.NewCertPool()
	roots.AddCert(s.Certificate())

	for name, fn := range map[string]func(*egress.Options){
		"response header": func(o *egress.Options) { o.ResponseHeaderTimeout = 100 * time.Millisecond },
		"overall":         func(o *egress.Options) { o.Timeout = 100 * time.Millisecond },
	} {
		c, err := egress.NewClient(egress.Policy{AllowLoopback: true, Ports: []int{port}}, func(o *egress.Options) {
			o.RootCAs = roots
			fn(o)
		})
		require.NoError(t, err)
		start := time.Now()
		_, err = c.Get(s.URL)
		require.Error(t, err, name)
		assert.True(t, fault.IsRetryable(err), "%s: timeouts are retryable", name)
		assert.Less(t, time.Since(start), 5*time.Second, name)
	}
}

func TestNewClientFailsOnInvalidPolicy(t *testing.T) {
	_, err := egress.NewClient(egress.Policy{Ports: []int{-1}})
	assert.Error(t, err)
	_, err = egress.NewDialer(egress.Policy{DenyHosts: []string{"bad host"}})
	assert.Error(t, err)
}
