package configapi

import (
	"context"
	"errors"
	"fmt"
	"math"
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
		{name: "future timestamp", req: post(request{at: newClock().Now().Add(DefaultFutureSkew + time.Second)}), reason: ErrStaleRequest},
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
	for _, at := range []time.Time{now.Add(-DefaultWindow), now.Add(DefaultFutureSkew)} {
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
		o.MaxPerKey = 3
		o.Now = clock.Now
	})
	exp := clock.Now().Add(time.Minute)
	for _, n := range []string{"a", "b", "c"} {
		added, err := c.Add(ctx(t), "k1", n, exp)
		require.NoError(t, err)
		assert.True(t, added, n)
	}
	added, err := c.Add(ctx(t), "k1", "a", exp)
	require.NoError(t, err)
	assert.False(t, added, "a nonce is accepted once")

	_, err = c.Add(ctx(t), "k1", "d", exp)
	assert.ErrorIs(t, err, ErrNonceCacheFull, "a full key refuses rather than forgets")
	for _, n := range []string{"a", "b", "c"} {
		added, err := c.Add(ctx(t), "k2", n, exp)
		require.NoError(t, err, "another key has its own share")
		assert.True(t, added, "nonces are per key: k2's %s is new", n)
	}

	clock.Add(time.Minute)
	_, err = c.Add(ctx(t), "k1", "d", exp)
	assert.ErrorIs(t, err, ErrNonceCacheFull, "nonces are held up to their expiry, inclusive")
	clock.Add(time.Nanosecond)
	added, err = c.Add(ctx(t), "k1", "d", clock.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, added, "expired nonces make room")
	assert.Equal(t, 1+3, c.Len(), "a full key sweeps its own nonces only")
	clock.Add(time.Second)
	added, err = c.Add(ctx(t), "k2", "e", clock.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, added)
	assert.Equal(t, 2, c.Len(), "the sweep a second drops every key's expired nonces")
	added, err = c.Add(ctx(t), "k1", "a", clock.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, added, "an expired nonce may be seen again (its timestamp is stale by then)")
}

// A key that is full refuses at once while none of its nonces has expired,
// and sweeps only its own nonces when one has.
func TestMemoryNonceCacheFullKeyRecovers(t *testing.T) {
	clock := newClock()
	c := NewMemoryNonceCache(func(o *MemoryNonceCacheOptions) {
		o.MaxPerKey = 3
		o.Now = clock.Now
	})
	base := clock.Now()
	for i, n := range []string{"a", "b", "c"} {
		added, err := c.Add(ctx(t), "k1", n, base.Add(time.Duration(i+1)*time.Minute))
		require.NoError(t, err)
		require.True(t, added)
	}
	_, err := c.Add(ctx(t), "k1", "d", base.Add(time.Hour))
	require.ErrorIs(t, err, ErrNonceCacheFull)
	assert.Equal(t, base.Add(time.Minute), c.keys["k1"].first)

	clock.Add(time.Minute + time.Nanosecond) // "a" has expired
	added, err := c.Add(ctx(t), "k1", "d", base.Add(time.Hour))
	require.NoError(t, err)
	assert.True(t, added)
	assert.Equal(t, base.Add(2*time.Minute), c.keys["k1"].first, "the earliest expiry is recomputed")
	_, err = c.Add(ctx(t), "k1", "e", base.Add(time.Hour))
	assert.ErrorIs(t, err, ErrNonceCacheFull, "one slot came free, one was used")

	clock.Add(time.Hour)
	added, err = c.Add(ctx(t), "k2", "x", clock.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, added)
	assert.NotContains(t, c.keys, "k1", "key ids left without nonces are dropped")
}

func TestMemoryNonceCacheConcurrentAdds(t *testing.T) {
	c := NewMemoryNonceCache()
	var wg sync.WaitGroup
	wins := make(chan string, 64)
	for i := range 64 {
		wg.Go(func() {
			added, err := c.Add(context.Background(), "k1", fmt.Sprintf("n%d", i%8), time.Now().Add(time.Minute))
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

// A key whose share of the nonce cache is full gets 503; other keys do not.
func TestFullNonceShareIsUnavailable(t *testing.T) {
	e := newEnv(t)
	auth := NewHMAC(testKeys, func(o *HMACOptions) {
		o.Now = e.clock.Now
		o.Nonces = NewMemoryNonceCache(func(o *MemoryNonceCacheOptions) {
			o.MaxPerKey = 1
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
	assert.Equal(t, http.StatusOK, e.do(request{method: "GET", path: "/delivery-configs", keyID: "k2"}).status,
		"another key has its own share")
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

func TestHMACOptionsAreValidated(t *testing.T) {
	for name, fn := range map[string]func(*HMACOptions){
		"negative window":       func(o *HMACOptions) { o.Window = -time.Second },
		"negative future skew":  func(o *HMACOptions) { o.FutureSkew = -time.Second },
		"negative nonce margin": func(o *HMACOptions) { o.NonceMargin = -time.Second },
		"negative rate":         func(o *HMACOptions) { o.Rate = -1 },
		"NaN rate":              func(o *HMACOptions) { o.Rate = math.NaN() },
		"infinite rate":         func(o *HMACOptions) { o.Rate = math.Inf(1) },
		"negative burst":        func(o *HMACOptions) { o.Burst = -1 },
		"huge rate":             func(o *HMACOptions) { o.Rate = 1e9 },
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewHMACAuthenticator(testKeys, fn)
			assert.Error(t, err)
			assert.Panics(t, func() { NewHMAC(testKeys, fn) })
		})
	}
	a, err := NewHMACAuthenticator(testKeys)
	require.NoError(t, err)
	assert.Equal(t, DefaultWindow, a.opts.Window)
	assert.Equal(t, DefaultFutureSkew, a.opts.FutureSkew)
	assert.Equal(t, DefaultNonceMargin, a.opts.NonceMargin)
	assert.Equal(t, DefaultRate, a.opts.Rate)
	assert.Equal(t, DefaultBurst, a.opts.Burst)
	assert.Equal(t, DefaultMaxNoncesPerKey, a.opts.Nonces.(*MemoryNonceCache).opts.MaxPerKey,
		"the documented default is the derived one")
	assert.Equal(t, DefaultMaxNoncesPerKey, NewMemoryNonceCache().opts.MaxPerKey)

	a, err = NewHMACAuthenticator(testKeys, func(o *HMACOptions) {
		o.Rate, o.Burst, o.Window, o.FutureSkew, o.NonceMargin = 0.5, 3, time.Minute, 10*time.Second, 5*time.Second
	})
	require.NoError(t, err)
	assert.Equal(t, 3+38, a.opts.Nonces.(*MemoryNonceCache).opts.MaxPerKey, "Burst + ⌈Rate × (FutureSkew + Window + NonceMargin)⌉")
}

// A replayed request, refused after its signature verified, does not use
// its key's rate budget: whoever captured a request cannot drain it.
func TestReplaysDoNotDrainTheBucket(t *testing.T) {
	f := newFloodEnv(t)
	req := httptest.NewRequest(http.MethodGet, "/tenants/acme/delivery-configs", nil)
	require.NoError(t, SignRequest(req, nil, "k1", testKeys["k1"], f.clock.Now(), "captured-nonce-000001"))
	send := func() int {
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req.Clone(req.Context()))
		return rec.Code
	}
	require.Equal(t, http.StatusOK, send())
	for range 10 * DefaultBurst {
		require.Equal(t, http.StatusUnauthorized, send(), "a replay")
	}
	for i := range DefaultBurst - 1 {
		require.Equal(t, http.StatusOK, f.get("k1", nil, time.Time{}).Code, "request %d", i+2)
	}
	assert.Equal(t, http.StatusTooManyRequests, f.get("k1", nil, time.Time{}).Code)
}

// A nonce is held until its signed timestamp leaves the window by
// NonceMargin, however far ahead (within FutureSkew) it was signed.
func TestNonceLifetime(t *testing.T) {
	f := newFloodEnv(t)
	now := f.clock.Now()
	require.Equal(t, http.StatusOK, f.get("k1", nil, now).Code)
	require.Equal(t, http.StatusOK, f.get("k1", nil, now.Add(DefaultFutureSkew)).Code)
	nonces := f.auth.opts.Nonces.(*MemoryNonceCache)
	assert.Equal(t, now.Add(DefaultWindow+DefaultNonceMargin), nonces.keys["k1"].first)

	f.clock.Add(DefaultWindow + DefaultNonceMargin + time.Second) // past the first's expiry
	require.Equal(t, http.StatusOK, f.get("k2", nil, time.Time{}).Code)
	assert.Equal(t, 2, nonces.Len(), "k1's first nonce dropped, its future-dated one held, k2's added")

	f.clock.Add(DefaultFutureSkew)
	require.Equal(t, http.StatusOK, f.get("k2", nil, time.Time{}).Code)
	assert.Equal(t, 2, nonces.Len(), "k1 holds nothing after FutureSkew + Window + NonceMargin")
	assert.NotContains(t, nonces.keys, "k1")
}

func TestLimiter(t *testing.T) {
	clock := newClock()
	l := newLimiter(2, 3)
	for range 3 {
		_, ok := l.take("k", clock.Now())
		require.True(t, ok)
	}
	wait, ok := l.take("k", clock.Now())
	assert.False(t, ok)
	assert.Equal(t, 500*time.Millisecond, wait, "a token every 1/Rate")
	clock.Add(250 * time.Millisecond)
	wait, ok = l.take("k", clock.Now())
	assert.False(t, ok)
	assert.Equal(t, 250*time.Millisecond, wait)
	clock.Add(250 * time.Millisecond)
	_, ok = l.take("k", clock.Now())
	assert.True(t, ok)

	_, ok = l.take("k", clock.Now().Add(-time.Hour))
	assert.False(t, ok, "a clock going backwards adds no tokens")

	l.giveBack("k")
	l.giveBack("k")
	l.giveBack("k")
	l.giveBack("k")
	assert.Equal(t, 3.0, l.buckets["k"].tokens, "given back up to Burst")

	_, ok = l.take("other", clock.Now())
	require.True(t, ok)
	clock.Add(time.Minute + time.Second)
	_, ok = l.take("k", clock.Now())
	require.True(t, ok)
	assert.NotContains(t, l.buckets, "other", "full buckets are dropped")
}

func TestRateLimitError(t *testing.T) {
	err := fmt.Errorf("authenticating: %w", &RateLimitError{KeyID: "k1", RetryAfter: 1500 * time.Millisecond})
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.NotErrorIs(t, err, ErrUnauthenticated, "the caller was authenticated")
	rl, ok := errors.AsType[*RateLimitError](err)
	require.True(t, ok)
	p, retryAfter := rateLimitProblem(rl)
	assert.Equal(t, "2", retryAfter, "rounded up")
	assert.Equal(t, http.StatusTooManyRequests, p.Status)
	assert.Equal(t, ProblemRateLimited, p.Kind())
	_, retryAfter = rateLimitProblem(&RateLimitError{RetryAfter: time.Millisecond})
	assert.Equal(t, "1", retryAfter, "at least a second")
}
