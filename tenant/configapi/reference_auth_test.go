package configapi

// Tests of ReferenceHMAC, ported from the reference implementation's
// tests/unit/test_api_authorizer.py (openshift-online/rosa-log-router),
// which tests api/src/utils/auth.py and api/src/handlers/authorizer.py.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// referenceSign is api/src/utils/auth.py's generate_signature.
func referenceSign(psk, method, uri, ts, bodyHash string) string {
	m := hmac.New(sha256.New, []byte(psk))
	m.Write([]byte(strings.ToUpper(method) + uri + ts + bodyHash))
	return hex.EncodeToString(m.Sum(nil))
}

const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func newRefAuth(t *testing.T, clock *fakeClock, optFns ...func(*ReferenceHMACOptions)) *ReferenceHMAC {
	t.Helper()
	a, err := NewReferenceHMAC(Keys{"ocm": testPSK}, append([]func(*ReferenceHMACOptions){func(o *ReferenceHMACOptions) { o.Now = clock.Now }}, optFns...)...)
	require.NoError(t, err)
	return a
}

// signedRequest is a request signed by hand, as the reference's clients do.
func signedRequest(method, target, body, ts string, headers map[string]string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	bh := sha256Hex([]byte(body))
	r.Header.Set(HeaderAPITimestamp, ts)
	r.Header.Set(HeaderBodySHA256, bh)
	r.Header.Set("Authorization", "HMAC-SHA256 "+referenceSign(string(testPSK), method, r.URL.RequestURI(), ts, bh))
	for k, v := range headers {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	return r
}

func TestReferenceSignature(t *testing.T) {
	clock := newClock()
	a := newRefAuth(t, clock)
	ts := clock.Now().Format(time.RFC3339)
	auth := func(r *http.Request, body string) error {
		_, err := a.Authenticate(r, []byte(body))
		return err
	}

	// TestComputeBodyHash.test_empty_body
	assert.Equal(t, emptyHash, sha256Hex(nil))

	// TestValidateRequestSignature.test_success, with and without a body.
	r := signedRequest(http.MethodGet, "/api/v1/tenants/acme/delivery-configs", "", ts, nil)
	p, err := a.Authenticate(r, nil)
	require.NoError(t, err)
	assert.Equal(t, Principal{ID: "ocm", Scheme: ReferenceScheme}, p)
	body := `{"tenant_id": "café"}` // test_unicode_body_hash
	require.NoError(t, auth(signedRequest(http.MethodPost, "/api/v1/tenants/acme/delivery-configs", body, ts, nil), body))

	// TestExtractAuthHeaders.test_case_insensitive: header names are.
	r = signedRequest(http.MethodGet, "/api/v1/health", "", ts, nil)
	r.Header["x-api-timestamp"] = r.Header[HeaderAPITimestamp]
	delete(r.Header, HeaderAPITimestamp)
	r.Header = r.Header.Clone() // as a server would canonicalise them
	assert.NoError(t, auth(httpCanonical(r), ""))

	for name, tc := range map[string]struct {
		r    *http.Request
		body string
		want error
	}{
		// test_failure, test_wrong_psk, test_empty_signature
		"other signature": {signedRequest(http.MethodGet, "/api", "", ts, map[string]string{"Authorization": "HMAC-SHA256 " + strings.Repeat("0123456789abcdef", 4)}), "", ErrBadSignature},
		"wrong psk":       {signedRequest(http.MethodGet, "/api", "", ts, map[string]string{"Authorization": "HMAC-SHA256 " + referenceSign("wrong-psk", "GET", "/api", ts, emptyHash)}), "", ErrBadSignature},
		"empty signature": {signedRequest(http.MethodGet, "/api", "", ts, map[string]string{"Authorization": "HMAC-SHA256 "}), "", ErrMalformedSignature},
		// test_body_tamper_detected
		"tampered body": {signedRequest(http.MethodPost, "/api/v1/tenants", `{"tenant_id": "legit"}`, ts, nil), `{"tenant_id": "attacker"}`, ErrBadSignature},
		// a signature over another method or path
		"other method": {signedRequest(http.MethodGet, "/api", "", ts, map[string]string{"Authorization": "HMAC-SHA256 " + referenceSign(string(testPSK), "POST", "/api", ts, emptyHash)}), "", ErrBadSignature},
		// test_missing_headers, test_wrong_auth_format, test_missing_body_hash_header
		"no headers":     {httptest.NewRequest(http.MethodGet, "/api", nil), "", ErrMissingSignature},
		"no timestamp":   {signedRequest(http.MethodGet, "/api", "", ts, map[string]string{HeaderAPITimestamp: ""}), "", ErrMissingSignature},
		"bearer":         {signedRequest(http.MethodGet, "/api", "", ts, map[string]string{"Authorization": "Bearer jwt"}), "", ErrMalformedSignature},
		"no body hash":   {signedRequest(http.MethodGet, "/api", "", ts, map[string]string{HeaderBodySHA256: ""}), "", ErrMalformedSignature},
		"bad timestamp":  {signedRequest(http.MethodGet, "/api", "", "not-a-ts", nil), "", ErrMalformedSignature},
		"bad date":       {signedRequest(http.MethodGet, "/api", "", "2024-13-45T25:70:80Z", nil), "", ErrMalformedSignature},
		"upper-case hex": {signedRequest(http.MethodGet, "/api", "", ts, map[string]string{"Authorization": "HMAC-SHA256 " + strings.ToUpper(referenceSign(string(testPSK), "GET", "/api", ts, emptyHash))}), "", ErrMalformedSignature},
	} {
		t.Run(name, func(t *testing.T) {
			err := auth(tc.r, tc.body)
			assert.ErrorIs(t, err, tc.want)
			assert.ErrorIs(t, err, ErrUnauthenticated)
		})
	}
}

// httpCanonical re-reads r's header names canonically, as net/http's
// server does for what arrives on the wire.
func httpCanonical(r *http.Request) *http.Request {
	h := http.Header{}
	for k, v := range r.Header {
		for _, s := range v {
			h.Add(k, s)
		}
	}
	r.Header = h
	return r
}

// TestValidateTimestamp: ±300 s, the forms Python's isoformat writes.
func TestReferenceTimestamp(t *testing.T) {
	clock := newClock()
	a := newRefAuth(t, clock, func(o *ReferenceHMACOptions) { o.Replay = ReplayOff })
	now := clock.Now()
	for name, tc := range map[string]struct {
		ts string
		ok bool
	}{
		"current, Z":           {now.Format(time.RFC3339), true},
		"python isoformat":     {now.Add(-2 * time.Minute).Format("2006-01-02T15:04:05.000000Z"), true},
		"offset":               {now.In(time.FixedZone("CEST", 2*3600)).Format("2006-01-02T15:04:05.999999-07:00"), true},
		"no zone is UTC":       {now.Add(time.Minute).Format("2006-01-02T15:04:05.999999"), true},
		"edge of the window":   {now.Add(-300 * time.Second).Format(time.RFC3339), true},
		"expired (10 minutes)": {now.Add(-10 * time.Minute).Format(time.RFC3339), false},
		"future (10 minutes)":  {now.Add(10 * time.Minute).Format(time.RFC3339), false},
	} {
		_, err := a.Authenticate(signedRequest(http.MethodGet, "/api", "", tc.ts, nil), nil)
		if tc.ok {
			assert.NoError(t, err, name)
		} else {
			assert.ErrorIs(t, err, ErrStaleRequest, name)
		}
	}
}

// The forms of URI clients sign: the request URI as sent (api/README.md's
// Go client signs req.URL.RequestURI()), the authorizer's rebuilt form
// (decoded parameters), and the path without the API Gateway stage
// (container/integration/api_helpers.go signs the path below the stage;
// authorizer.py strips it).
func TestReferenceSignedURIForms(t *testing.T) {
	clock := newClock()
	a := newRefAuth(t, clock, func(o *ReferenceHMACOptions) { o.PathPrefix = "/prod" })
	ts := clock.Now().Format(time.RFC3339)
	const target = "/prod/api/v1/delivery-configs?limit=10&last_key=acme%23s3"
	for name, uri := range map[string]string{
		"as sent":         "/prod/api/v1/delivery-configs?limit=10&last_key=acme%23s3",
		"rebuilt":         "/prod/api/v1/delivery-configs?limit=10&last_key=acme#s3",
		"below the stage": "/api/v1/delivery-configs?limit=10&last_key=acme#s3",
		"stage, raw":      "/api/v1/delivery-configs?limit=10&last_key=acme%23s3",
	} {
		r := signedRequest(http.MethodGet, target, "", ts, map[string]string{"Authorization": "HMAC-SHA256 " + referenceSign(string(testPSK), "GET", uri, ts, emptyHash)})
		_, err := a.Authenticate(r, nil)
		assert.NoError(t, err, name)
	}
	r := signedRequest(http.MethodGet, target, "", ts, map[string]string{"Authorization": "HMAC-SHA256 " + referenceSign(string(testPSK), "GET", "/api/v1/delivery-configs", ts, emptyHash)})
	_, err := a.Authenticate(r, nil)
	assert.ErrorIs(t, err, ErrBadSignature, "the query is signed")
}

// Replay protection, on top of the reference: writes are accepted once.
func TestReferenceReplay(t *testing.T) {
	clock := newClock()
	ts := clock.Now().Format(time.RFC3339)
	body := `{"enabled": false}`
	write := func() *http.Request {
		return signedRequest(http.MethodPatch, "/api/v1/tenants/acme/delivery-configs/s3", body, ts, nil)
	}
	read := func() *http.Request {
		return signedRequest(http.MethodGet, "/api/v1/tenants/acme/delivery-configs/s3", "", ts, nil)
	}

	a := newRefAuth(t, clock)
	_, err := a.Authenticate(write(), []byte(body))
	require.NoError(t, err)
	_, err = a.Authenticate(write(), []byte(body))
	assert.ErrorIs(t, err, ErrReplayed, "a captured write cannot be sent again")
	for range 2 {
		_, err = a.Authenticate(read(), nil)
		assert.NoError(t, err, "reads of second-resolution clients may sign alike")
	}
	clock.Add(301 * time.Second)
	_, err = a.Authenticate(write(), []byte(body))
	assert.ErrorIs(t, err, ErrStaleRequest, "once forgotten, the signature is out of the window anyway")

	all := newRefAuth(t, clock, func(o *ReferenceHMACOptions) { o.Replay = ReplayAll })
	ts = clock.Now().Format(time.RFC3339)
	_, err = all.Authenticate(read(), nil)
	require.NoError(t, err)
	_, err = all.Authenticate(read(), nil)
	assert.ErrorIs(t, err, ErrReplayed)

	off := newRefAuth(t, clock, func(o *ReferenceHMACOptions) { o.Replay = ReplayOff })
	for range 2 {
		_, err = off.Authenticate(write(), []byte(body))
		assert.NoError(t, err, "ReplayOff behaves as the reference")
	}
}

// Through the Handler, refusals answer as the reference's API Gateway
// does (terraform/modules/regional/modules/api-stack/main.tf: identity
// sources Authorization and X-API-Timestamp, ACCESS_DENIED is 403
// {"message": "Authentication failed"}).
func TestReferenceGatewayAnswers(t *testing.T) {
	e := newRefEnv(t, testPSK)
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/tenants/acme/delivery-configs", nil)
	require.NoError(t, err)
	r := e.send(req)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "Unauthorized", r.body["message"])

	req, err = http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/tenants/acme/delivery-configs", nil)
	require.NoError(t, err)
	SignReferenceRequest(req, nil, []byte("another-psk-0123456789"), time.Now(), "")
	r = e.send(req)
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, "Authentication failed", r.body["message"])

	// A signed hash that does not match the body passes the authorizer and
	// is refused by the service's middleware.
	body := `{"enabled": false}`
	req, err = http.NewRequest(http.MethodPatch, e.srv.URL+"/api/v1/tenants/acme/delivery-configs/s3", strings.NewReader(`{"enabled": true}`))
	require.NoError(t, err)
	SignReferenceRequest(req, []byte(body), testPSK, time.Now(), "")
	r = e.send(req)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.body["error"], "Body hash mismatch")

	// The same write twice is refused the second time.
	require.Equal(t, http.StatusCreated, e.create("acme", py("tenant_id", "acme", "type", "s3", "bucket_name", "acme-logs")).status)
	raw := py("enabled", false)
	mk := func() *http.Request {
		req, err := http.NewRequest(http.MethodPatch, e.srv.URL+"/api/v1/tenants/acme/delivery-configs/s3", strings.NewReader(raw))
		require.NoError(t, err)
		return req
	}
	first := mk()
	SignReferenceRequest(first, []byte(raw), testPSK, time.Now(), "")
	replay := mk()
	replay.Header = first.Header.Clone()
	assert.Equal(t, http.StatusOK, e.send(first).status)
	r = e.send(replay)
	assert.Equal(t, http.StatusForbidden, r.status)
}

func TestNewReferenceHMACOptions(t *testing.T) {
	_, err := NewReferenceHMAC(nil)
	assert.Error(t, err)
	_, err = NewReferenceHMAC(Keys{"k": testPSK}, func(o *ReferenceHMACOptions) { o.Window = -time.Second })
	assert.Error(t, err)
	clock := newClock()
	a := newRefAuth(t, clock, func(o *ReferenceHMACOptions) { o.Rate, o.Burst = 1, 1; o.Replay = ReplayOff })
	ts := clock.Now().Format(time.RFC3339)
	_, err = a.Authenticate(signedRequest(http.MethodGet, "/api", "", ts, nil), nil)
	require.NoError(t, err)
	_, err = a.Authenticate(signedRequest(http.MethodGet, "/api", "", ts, nil), nil)
	var rl *RateLimitError
	assert.True(t, errors.As(err, &rl))
}
