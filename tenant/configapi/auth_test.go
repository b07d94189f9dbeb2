package configapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignatureChecks(t *testing.T) {
	body := mustJSON(t, s3Config("acme"))
	post := func(r request) request {
		r.method, r.path, r.body = http.MethodPost, "/tenants/acme/delivery-configs", body
		return r
	}
	tests := []struct {
		name   string
		req    request
		reason error  // logged reason
		detail string // substring of the 401 detail
	}{
		{name: "unsigned", req: post(request{unsigned: true}), reason: ErrMissingSignature, detail: "not signed"},
		{name: "other scheme", req: post(request{mutate: func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }}),
			reason: ErrMissingSignature},
		{name: "wrong secret", req: post(request{secret: []byte("guess")}), reason: ErrBadSignature, detail: "not valid"},
		{name: "other key's secret", req: post(request{keyID: "k1", secret: testKeys["k2"]}), reason: ErrBadSignature},
		{name: "unknown key id", req: post(request{keyID: "k9", secret: testKeys["k1"]}), reason: ErrUnknownKey, detail: "not valid"},
		{name: "stale timestamp", req: post(request{at: newClock().Now().Add(-5*time.Minute - time.Second)}), reason: ErrStaleRequest, detail: "X-LD-Date"},
		{name: "future timestamp", req: post(request{at: newClock().Now().Add(5*time.Minute + time.Second)}), reason: ErrStaleRequest},
		{name: "tampered body", req: post(request{mutate: func(r *http.Request) {
			tampered := strings.Replace(body, "tenant-logs-acme", "tenant-logs-evil", 1)
			r.Body = stringBody(tampered)
			r.ContentLength = int64(len(tampered))
		}}), reason: ErrBadSignature},
		{name: "tampered path", req: request{method: "GET", path: acmeS3, mutate: func(r *http.Request) {
			r.URL.Path = "/tenants/globex/delivery-configs/s3"
		}}, reason: ErrBadSignature},
		{name: "tampered method", req: request{method: "GET", path: acmeS3, mutate: func(r *http.Request) {
			r.Method = http.MethodDelete
		}}, reason: ErrBadSignature},
		{name: "tampered query", req: request{method: "GET", path: "/delivery-configs?limit=1", mutate: func(r *http.Request) {
			r.URL.RawQuery = "limit=1000"
		}}, reason: ErrBadSignature},
		{name: "added query parameter", req: request{method: "GET", path: "/delivery-configs?limit=1", mutate: func(r *http.Request) {
			r.URL.RawQuery = "limit=1&cursor=abc"
		}}, reason: ErrBadSignature},
		{name: "swapped nonce", req: request{method: "GET", path: acmeS3, mutate: func(r *http.Request) {
			r.Header.Set(HeaderNonce, "another-nonce-0123456789")
		}}, reason: ErrBadSignature},
		{name: "swapped date", req: request{method: "GET", path: acmeS3, mutate: func(r *http.Request) {
			r.Header.Set(HeaderDate, newClock().Now().Add(time.Minute).Format(time.RFC3339))
		}}, reason: ErrBadSignature},
		{name: "malformed date", req: request{method: "GET", path: acmeS3, mutate: func(r *http.Request) {
			r.Header.Set(HeaderDate, "yesterday")
		}}, reason: ErrMalformedSignature, detail: "malformed"},
		{name: "short nonce", req: request{method: "GET", path: acmeS3, mutate: func(r *http.Request) {
			r.Header.Set(HeaderNonce, "abc")
		}}, reason: ErrMalformedSignature},
		{name: "signature not hex", req: request{method: "GET", path: acmeS3, mutate: func(r *http.Request) {
			r.Header.Set("Authorization", Scheme+" KeyId=k1, Signature=zz")
		}}, reason: ErrMalformedSignature},
		{name: "no key id", req: request{method: "GET", path: acmeS3, mutate: func(r *http.Request) {
			r.Header.Set("Authorization", Scheme+" Signature="+strings.Repeat("0", 64))
		}}, reason: ErrMalformedSignature},
		{name: "unknown parameter", req: request{method: "GET", path: acmeS3, mutate: func(r *http.Request) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+", Extra=1")
		}}, reason: ErrMalformedSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.do(tc.req)
			require.Equal(t, http.StatusUnauthorized, r.status, "%s", r.body)
			p := r.problem(t)
			assert.Contains(t, p.Detail, tc.detail)
			assert.Contains(t, e.logs.String(), "reason=\""+tc.reason.Error(),
				"the log names why")
			assert.Empty(t, e.mem.All(), "nothing was written")
		})
	}
}

func stringBody(s string) *readCloser { return &readCloser{strings.NewReader(s)} }

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

func TestReplayedNonceIsRefused(t *testing.T) {
	e := newEnv(t)
	req := request{method: http.MethodGet, path: "/tenants/acme/delivery-configs", nonce: "the-same-nonce-0001"}
	require.Equal(t, http.StatusOK, e.do(req).status)
	r := e.do(req)
	require.Equal(t, http.StatusUnauthorized, r.status)
	assert.Contains(t, r.problem(t).Detail, "X-LD-Nonce was already used")

	// The same nonce with another key is another request.
	req.keyID = "k2"
	assert.Equal(t, http.StatusOK, e.do(req).status)

	// A request that failed verification does not burn its nonce.
	fresh := request{method: http.MethodGet, path: "/tenants/acme/delivery-configs", nonce: "fresh-nonce-00000001"}
	bad := fresh
	bad.secret = []byte("wrong")
	require.Equal(t, http.StatusUnauthorized, e.do(bad).status)
	assert.Equal(t, http.StatusOK, e.do(fresh).status)
}

func TestWindowBoundaries(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	for _, at := range []time.Time{now.Add(-DefaultWindow), now.Add(DefaultWindow)} {
		r := e.do(request{method: http.MethodGet, path: "/delivery-configs", at: at})
		assert.Equal(t, http.StatusOK, r.status, "exactly %s away is accepted", at.Sub(now))
	}
	// A replay is refused for as long as its timestamp is in the window, and
	// then by the window itself.
	req := request{method: http.MethodGet, path: "/delivery-configs", nonce: "window-nonce-000001", at: now}
	require.Equal(t, http.StatusOK, e.do(req).status)
	e.clock.Add(DefaultWindow)
	assert.Equal(t, http.StatusUnauthorized, e.do(req).status, "replayed inside the window")
	e.clock.Add(time.Second)
	r := e.do(req)
	require.Equal(t, http.StatusUnauthorized, r.status)
	assert.Contains(t, r.problem(t).Detail, "X-LD-Date", "stale after the window")
}

func TestKeyRotation(t *testing.T) {
	keys := Keys{"old": []byte("old-secret"), "new": []byte("new-secret")}
	e := newEnv(t)
	auth := NewHMAC(keys, func(o *HMACOptions) { o.Now = e.clock.Now })
	h, err := New(e.mem, testKinds(), auth)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(keyID string, secret []byte) error {
		c, err := NewClient(srv.URL, keyID, secret, func(o *ClientOptions) { o.Now = e.clock.Now })
		require.NoError(t, err)
		_, err = c.Configs(ctx(t), "acme")
		return err
	}
	require.NoError(t, get("old", []byte("old-secret")))
	require.NoError(t, get("new", []byte("new-secret")))
	delete(keys, "old")
	assert.ErrorIs(t, get("old", []byte("old-secret")), ErrUnauthenticated, "a removed key is refused")
	require.NoError(t, get("new", []byte("new-secret")))
}

func TestKeyStoreFailureIsInternal(t *testing.T) {
	e := newEnv(t)
	auth := NewHMAC(brokenKeys{}, func(o *HMACOptions) { o.Now = e.clock.Now })
	h, err := New(e.mem, testKinds(), auth)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, err := NewClient(srv.URL, "k1", []byte("x"), func(o *ClientOptions) { o.Now = e.clock.Now })
	require.NoError(t, err)
	_, err = c.Configs(ctx(t), "acme")
	var p *Problem
	require.ErrorAs(t, err, &p)
	assert.Equal(t, http.StatusInternalServerError, p.Status)
	assert.NotContains(t, p.Detail, "vault")
}

type brokenKeys struct{}

func (brokenKeys) Secret(context.Context, string) ([]byte, error) {
	return nil, errors.New("vault unreachable")
}

// Equivalent encodings of a path or query sign alike, so that clients in
// other languages need not match Go's escaping byte for byte.
func TestCanonicalForms(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"/tenants/acme/delivery-configs/s3:archive", "/tenants/acme/delivery-configs/s3%3aarchive"},
		{"/tenants/acme/delivery-configs/s3%3Aarchive", "/tenants/acme/delivery-configs/s3%3aarchive"},
		{"/tenants/a~b", "/tenants/a%7Eb"},
	} {
		pa, err := canonicalPath(tc.a)
		require.NoError(t, err)
		pb, err := canonicalPath(tc.b)
		require.NoError(t, err)
		assert.Equal(t, pa, pb, "%s ~ %s", tc.a, tc.b)
	}
	enc, err := canonicalPath("/tenants/a%2Fb/x y")
	require.NoError(t, err)
	assert.Equal(t, "/tenants/a%2Fb/x%20y", enc, "an encoded slash stays distinct from a separator")

	for _, tc := range []struct{ raw, want string }{
		{"", ""},
		{"limit=10&cursor=abc", "cursor=abc&limit=10"},
		{"b=2&a=2&a=1", "a=2&a=1&b=2"}, // a repeated name keeps its order: the server reads the first
		{"q=a+b&r=a%20b&s=%2F", "q=a%20b&r=a%20b&s=%2F"},
		{"cursor=YWNtZQ%3D%3D", "cursor=YWNtZQ%3D%3D"},
		{"flag", "flag="},
	} {
		got, err := canonicalQuery(tc.raw)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, tc.raw)
	}
	_, err = canonicalQuery("a=%zz")
	assert.ErrorIs(t, err, ErrMalformedSignature)
	_, err = canonicalPath("/a%zz")
	assert.ErrorIs(t, err, ErrMalformedSignature)
}

// A fixed vector documents the scheme for implementers in other languages.
func TestSignatureVector(t *testing.T) {
	req, err := http.NewRequest(http.MethodPatch, "https://config.example.com/tenants/acme/delivery-configs/s3:archive?b=2&a=1", strings.NewReader(`{"enabled":false}`))
	require.NoError(t, err)
	req.Header.Set("If-Match", `"v1"`)
	require.NoError(t, SignRequest(req, []byte(`{"enabled":false}`), "ops-2026", []byte("s3cr3t"),
		time.Date(2026, 11, 21, 19, 41, 49, 0, time.UTC), "3q2-7wZ0S9ePj1vQ0nN4xA"))
	canonical, err := canonicalRequest(signed{
		method: req.Method, host: req.URL.Host, escapedPath: req.URL.EscapedPath(), rawQuery: req.URL.RawQuery,
		keyID: "ops-2026", date: req.Header.Get(HeaderDate), nonce: req.Header.Get(HeaderNonce),
		ifMatch: req.Header.Get("If-Match"), body: []byte(`{"enabled":false}`),
	})
	require.NoError(t, err)
	assert.Equal(t, "LD-HMAC-SHA256\nPATCH\nconfig.example.com\n/tenants/acme/delivery-configs/s3%3Aarchive\na=1&b=2\n"+
		"ops-2026\n2026-11-21T19:41:49Z\n3q2-7wZ0S9ePj1vQ0nN4xA\n\"v1\"\n"+
		"5acf3ff77b4420677b5923071f303facaba7a9273a346284a667a275df325146", canonical)
	// Computed independently with Python's hmac module.
	assert.Equal(t, "LD-HMAC-SHA256 KeyId=ops-2026, Signature=68666da1cd61362a08f7f6d44de304dd20a5adbbcd9d08233c361074702ff650",
		req.Header.Get("Authorization"))
}

func TestSignRequestRejectsBadInput(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	assert.Error(t, SignRequest(req, nil, "k1", []byte("s"), time.Now(), "short"))
	assert.Error(t, SignRequest(req, nil, "k 1", []byte("s"), time.Now(), "long-enough-nonce-123"))
}

func TestMemoryNonceCache(t *testing.T) {
	clock := newClock()
	c := NewMemoryNonceCache(func(o *MemoryNonceCacheOptions) {
		o.MaxEntries = 3
		o.Now = clock.Now
	})
	exp := clock.Now().Add(time.Minute)
	for _, k := range []string{"a", "b", "c"} {
		added, err := c.Add(ctx(t), k, exp)
		require.NoError(t, err)
		assert.True(t, added, k)
	}
	added, err := c.Add(ctx(t), "a", exp)
	require.NoError(t, err)
	assert.False(t, added, "a nonce is accepted once")

	_, err = c.Add(ctx(t), "d", exp)
	assert.ErrorIs(t, err, ErrNonceCacheFull, "a full cache refuses rather than forgets")

	clock.Add(time.Minute)
	_, err = c.Add(ctx(t), "d", exp)
	assert.ErrorIs(t, err, ErrNonceCacheFull, "nonces are held up to their expiry, inclusive")
	clock.Add(time.Nanosecond)
	added, err = c.Add(ctx(t), "d", clock.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, added, "expired nonces make room")
	assert.Equal(t, 1, c.Len(), "expired nonces are dropped")
	added, err = c.Add(ctx(t), "a", clock.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, added, "an expired nonce may be seen again (its timestamp is stale by then)")
}

func TestMemoryNonceCacheConcurrentAdds(t *testing.T) {
	c := NewMemoryNonceCache()
	var wg sync.WaitGroup
	wins := make(chan string, 64)
	for i := range 64 {
		wg.Go(func() {
			added, err := c.Add(context.Background(), fmt.Sprintf("n%d", i%8), time.Now().Add(time.Minute))
			if err == nil && added {
				wins <- fmt.Sprintf("n%d", i%8)
			}
		})
	}
	wg.Wait()
	close(wins)
	seen := map[string]int{}
	for w := range wins {
		seen[w]++
	}
	assert.Len(t, seen, 8)
	for k, n := range seen {
		assert.Equal(t, 1, n, "nonce %s accepted once", k)
	}
}

func TestFullNonceCacheIsUnavailable(t *testing.T) {
	e := newEnv(t)
	auth := NewHMAC(testKeys, func(o *HMACOptions) {
		o.Now = e.clock.Now
		o.Nonces = NewMemoryNonceCache(func(o *MemoryNonceCacheOptions) {
			o.MaxEntries = 1
			o.Now = e.clock.Now
		})
	})
	h, err := New(e.mem, testKinds(), auth)
	require.NoError(t, err)
	e.srv = httptest.NewServer(h)
	defer e.srv.Close()
	require.Equal(t, http.StatusOK, e.do(request{method: "GET", path: "/delivery-configs"}).status)
	r := e.do(request{method: "GET", path: "/delivery-configs"})
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, "5", r.header.Get("Retry-After"))
	r.problem(t)
}

func TestIfMatchHostAndKeyAreSigned(t *testing.T) {
	keys := Keys{"k1": []byte("0123456789abcdef0123456789abcdef"), "k2": []byte("0123456789abcdef0123456789abcdef")}
	a := NewHMAC(keys)
	sign := func(nonce string) *http.Request {
		req := httptest.NewRequest(http.MethodDelete, "http://api.example/tenants/acme/delivery-configs/s3", nil)
		req.Header.Set("If-Match", `"v1"`)
		require.NoError(t, SignRequest(req, nil, "k1", keys["k1"], time.Now(), nonce))
		return req
	}
	_, err := a.Authenticate(sign("nonce-000000000001"), nil)
	require.NoError(t, err)

	stripped := sign("nonce-000000000002")
	stripped.Header.Del("If-Match")
	_, err = a.Authenticate(stripped, nil)
	assert.ErrorIs(t, err, ErrBadSignature, "a conditional delete cannot be made unconditional")

	otherHost := sign("nonce-000000000003")
	otherHost.Host = "prod.example"
	_, err = a.Authenticate(otherHost, nil)
	assert.ErrorIs(t, err, ErrBadSignature, "a request cannot be replayed against another deployment")

	otherKey := sign("nonce-000000000004")
	otherKey.Header.Set("Authorization", strings.Replace(otherKey.Header.Get("Authorization"), "KeyId=k1", "KeyId=k2", 1))
	_, err = a.Authenticate(otherKey, nil)
	assert.ErrorIs(t, err, ErrBadSignature, "keys sharing a secret do not share signatures")

	behindProxy := NewHMAC(keys, func(o *HMACOptions) { o.Host = "api.example" })
	rewritten := sign("nonce-000000000005")
	rewritten.Host = "internal:8080"
	_, err = behindProxy.Authenticate(rewritten, nil)
	assert.NoError(t, err, "HMACOptions.Host names the host clients sign")
}

// slowKeys advances the clock on every lookup, like a remote key store.
type slowKeys struct {
	Keys
	advance func()
}

func (s slowKeys) Secret(ctx context.Context, id string) ([]byte, error) {
	s.advance()
	return s.Keys.Secret(ctx, id)
}

func TestNoReplayAtTheEdgeOfTheWindow(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	keys := Keys{"k": []byte("0123456789abcdef0123456789abcdef")}
	a := NewHMAC(slowKeys{keys, func() { mu.Lock(); now = now.Add(500 * time.Millisecond); mu.Unlock() }},
		func(o *HMACOptions) { o.Now = clock })

	signedAt := clock()
	req := httptest.NewRequest(http.MethodGet, "http://api.example/tenants/acme/delivery-configs", nil)
	require.NoError(t, SignRequest(req, nil, "k", keys["k"], signedAt, "nonce-edge-0000001"))
	_, err := a.Authenticate(req, nil)
	require.NoError(t, err)

	// The replay passes the timestamp check 100ms before the window closes;
	// the slow key lookup then carries it past the window.
	set(signedAt.Add(DefaultWindow - 100*time.Millisecond))
	_, err = a.Authenticate(req, nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrReplayed) || errors.Is(err, ErrStaleRequest), "%v", err)
}
