package configapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Principal is the caller of a request, as established by an Authenticator.
type Principal struct {
	// ID identifies the caller: the key id for HMAC-signed requests.
	ID string
	// Scheme names how the caller was authenticated, e.g. "LD-HMAC-SHA256".
	Scheme string
}

// Authenticator establishes who sent a request. body is the request body,
// already read (and bounded by Options.MaxBodyBytes), so that signatures
// can cover it; Authenticate must not read r.Body.
//
// Errors wrapping ErrUnauthenticated become 401 responses; their text is
// logged, not sent. Any other error is an internal failure (500).
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request, body []byte) (Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(r *http.Request, body []byte) (Principal, error) {
	return f(r, body)
}

// Errors of authentication. All of them wrap ErrUnauthenticated.
var (
	// ErrUnauthenticated is wrapped by every authentication failure.
	ErrUnauthenticated = errors.New("configapi: unauthenticated")
	// ErrMissingSignature: the request has no Authorization header of the
	// LD-HMAC-SHA256 scheme.
	ErrMissingSignature = fmt.Errorf("%w: missing LD-HMAC-SHA256 authorization", ErrUnauthenticated)
	// ErrMalformedSignature: the Authorization, X-LD-Date or X-LD-Nonce
	// header, or the request's path or query, cannot be parsed.
	ErrMalformedSignature = fmt.Errorf("%w: malformed request signature", ErrUnauthenticated)
	// ErrStaleRequest: X-LD-Date is outside the accepted window.
	ErrStaleRequest = fmt.Errorf("%w: request timestamp outside the accepted window", ErrUnauthenticated)
	// ErrUnknownKey: the key id is not in the KeyStore.
	ErrUnknownKey = fmt.Errorf("%w: unknown key id", ErrUnauthenticated)
	// ErrBadSignature: the signature does not match the request.
	ErrBadSignature = fmt.Errorf("%w: signature does not match", ErrUnauthenticated)
	// ErrReplayed: the nonce was already used within the window.
	ErrReplayed = fmt.Errorf("%w: nonce already used", ErrUnauthenticated)
)

// publicAuthDetail returns what a 401 response may tell the caller about
// err. Unknown keys and bad signatures get the same text, so that callers
// cannot probe which key ids exist.
func publicAuthDetail(err error) string {
	switch {
	case errors.Is(err, ErrMissingSignature):
		return "the request is not signed; see the LD-HMAC-SHA256 scheme in the API description"
	case errors.Is(err, ErrMalformedSignature):
		return "the request signature headers are malformed"
	case errors.Is(err, ErrStaleRequest):
		return "X-LD-Date is too far from the server's clock"
	case errors.Is(err, ErrReplayed):
		return "X-LD-Nonce was already used; sign every request with a new nonce"
	default:
		return "the request signature is not valid"
	}
}

// Signing scheme constants.
const (
	// Scheme is the Authorization scheme of signed requests.
	Scheme = "LD-HMAC-SHA256"
	// HeaderDate carries the signing time, RFC 3339 in UTC.
	HeaderDate = "X-LD-Date"
	// HeaderNonce carries a value unique to the request (16 to 128
	// characters of letters, digits, '-' and '_').
	HeaderNonce = "X-LD-Nonce"
	// DefaultWindow is how far X-LD-Date may be from the server's clock.
	DefaultWindow = 5 * time.Minute
)

// KeyStore finds the secret of a key id. Keep old and new keys both
// present while clients move from one to the other.
type KeyStore interface {
	// Secret returns the key's secret, or an error wrapping ErrUnknownKey.
	Secret(ctx context.Context, keyID string) ([]byte, error)
}

// Keys is a KeyStore held in memory: key id to secret.
type Keys map[string][]byte

// Secret returns the secret of keyID.
func (k Keys) Secret(_ context.Context, keyID string) ([]byte, error) {
	s, ok := k[keyID]
	if !ok || len(s) == 0 {
		return nil, ErrUnknownKey
	}
	return s, nil
}

// NonceCache remembers the nonces of accepted requests so that none is
// accepted twice. Implementations shared by several servers (Redis SET NX
// with an expiry, a DynamoDB conditional put with TTL) make replay
// protection hold across a fleet; MemoryNonceCache covers one process.
type NonceCache interface {
	// Add records key until expires (inclusive) and reports whether it was
	// new. It must be atomic: of two concurrent Adds of one key, one
	// reports false.
	Add(ctx context.Context, key string, expires time.Time) (added bool, err error)
}

// HMACOptions configures an HMAC authenticator.
type HMACOptions struct {
	// Window is how far X-LD-Date may be from Now, either way.
	// Default: DefaultWindow (5 minutes).
	Window time.Duration
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Nonces remembers used nonces until their request's timestamp has
	// left the window by NonceMargin. Default: a MemoryNonceCache using Now.
	Nonces NonceCache
	// NonceMargin is how long nonces are kept beyond the window: it covers
	// the time between the timestamp check and recording the nonce, and
	// clock differences between servers sharing a NonceCache.
	// Default: 1 minute.
	NonceMargin time.Duration
	// Host is the host signatures must name. Default: the request's Host
	// header; set it when a proxy in front of the server rewrites Host.
	Host string
}

// HMAC authenticates requests signed with the LD-HMAC-SHA256 scheme
// described in the package documentation. It is safe for concurrent use.
type HMAC struct {
	keys KeyStore
	opts HMACOptions
}

var _ Authenticator = (*HMAC)(nil)

// NewHMAC returns an authenticator verifying signatures with the secrets
// of keys.
func NewHMAC(keys KeyStore, optFns ...func(*HMACOptions)) *HMAC {
	a := &HMAC{keys: keys}
	for _, fn := range optFns {
		fn(&a.opts)
	}
	if a.opts.Window <= 0 {
		a.opts.Window = DefaultWindow
	}
	if a.opts.Now == nil {
		a.opts.Now = time.Now
	}
	if a.opts.NonceMargin <= 0 {
		a.opts.NonceMargin = time.Minute
	}
	if a.opts.Nonces == nil {
		now := a.opts.Now
		a.opts.Nonces = NewMemoryNonceCache(func(o *MemoryNonceCacheOptions) { o.Now = now })
	}
	return a
}

// Authenticate verifies the request's signature, timestamp and nonce and
// returns the key id as the principal.
func (a *HMAC) Authenticate(r *http.Request, body []byte) (Principal, error) {
	keyID, sig, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return Principal{}, err
	}
	date := r.Header.Get(HeaderDate)
	ts, err := time.Parse(time.RFC3339, date)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %s %q is not an RFC 3339 time", ErrMalformedSignature, HeaderDate, date)
	}
	nonce := r.Header.Get(HeaderNonce)
	if !validNonce(nonce) {
		return Principal{}, fmt.Errorf("%w: %s must be 16 to 128 letters, digits, '-' or '_'", ErrMalformedSignature, HeaderNonce)
	}
	now := a.opts.Now()
	if d := now.Sub(ts); d > a.opts.Window || d < -a.opts.Window {
		return Principal{}, fmt.Errorf("%w: %s %s is %s from the server's clock", ErrStaleRequest, HeaderDate, date, d.Round(time.Second))
	}
	path, query := requestTarget(r)
	host := a.opts.Host
	if host == "" {
		host = r.Host
	}
	canonical, err := canonicalRequest(signed{
		method: r.Method, host: host, escapedPath: path, rawQuery: query,
		keyID: keyID, date: date, nonce: nonce, ifMatch: r.Header.Get("If-Match"), body: body,
	})
	if err != nil {
		return Principal{}, err
	}
	secret, err := a.keys.Secret(r.Context(), keyID)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return Principal{}, fmt.Errorf("%w %q", ErrUnknownKey, keyID)
		}
		return Principal{}, fmt.Errorf("looking up key %q: %w", keyID, err)
	}
	if !hmac.Equal(sig, mac(secret, canonical)) {
		return Principal{}, fmt.Errorf("%w (key id %q)", ErrBadSignature, keyID)
	}
	// Only verified requests reach the nonce cache, so that unauthenticated
	// callers can neither fill it nor burn other callers' nonces.
	// The nonce is kept longer than the request can be accepted: beyond the
	// window by NonceMargin, and the timestamp is checked again once the
	// nonce is recorded, so that no replay fits between the two.
	added, err := a.opts.Nonces.Add(r.Context(), keyID+"\x00"+nonce, ts.Add(a.opts.Window+a.opts.NonceMargin))
	if err != nil {
		return Principal{}, fmt.Errorf("recording nonce: %w", err)
	}
	if !added {
		return Principal{}, fmt.Errorf("%w (key id %q, nonce %q)", ErrReplayed, keyID, nonce)
	}
	if d := a.opts.Now().Sub(ts); d > a.opts.Window || d < -a.opts.Window {
		return Principal{}, fmt.Errorf("%w: %s %s is %s from the server's clock", ErrStaleRequest, HeaderDate, date, d.Round(time.Second))
	}
	return Principal{ID: keyID, Scheme: Scheme}, nil
}

// requestTarget returns the escaped path and raw query the client sent:
// from the request line when the request came from the network, so that a
// handler mounted with http.StripPrefix still sees the path the client
// signed.
func requestTarget(r *http.Request) (path, query string) {
	if r.RequestURI != "" && r.RequestURI != "*" {
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
			return u.EscapedPath(), u.RawQuery
		}
	}
	return r.URL.EscapedPath(), r.URL.RawQuery
}

func parseAuthorization(h string) (keyID string, sig []byte, err error) {
	scheme, params, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, Scheme) {
		return "", nil, ErrMissingSignature
	}
	var sigHex string
	for p := range strings.SplitSeq(params, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return "", nil, fmt.Errorf("%w: authorization parameter %q is not name=value", ErrMalformedSignature, p)
		}
		switch k {
		case "KeyId":
			keyID = v
		case "Signature":
			sigHex = v
		default:
			return "", nil, fmt.Errorf("%w: unknown authorization parameter %q", ErrMalformedSignature, k)
		}
	}
	if keyID == "" || sigHex == "" {
		return "", nil, fmt.Errorf("%w: authorization needs KeyId and Signature", ErrMalformedSignature)
	}
	sig, err = hex.DecodeString(sigHex)
	if err != nil || len(sig) != sha256.Size {
		return "", nil, fmt.Errorf("%w: Signature must be 64 hex digits", ErrMalformedSignature)
	}
	return keyID, sig, nil
}

func validNonce(n string) bool {
	if len(n) < 16 || len(n) > 128 {
		return false
	}
	for _, c := range []byte(n) {
		if !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func mac(secret []byte, canonical string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(canonical))
	return m.Sum(nil)
}

// signed holds what a request's signature covers.
type signed struct {
	method, host, escapedPath, rawQuery, keyID, date, nonce, ifMatch string
	body                                                             []byte
}

// canonicalRequest returns the string a request's signature covers:
//
//	LD-HMAC-SHA256 \n METHOD \n host \n canonical path \n canonical query \n
//	key id \n X-LD-Date \n X-LD-Nonce \n If-Match \n hex(SHA-256(body))
func canonicalRequest(f signed) (string, error) {
	path, err := canonicalPath(f.escapedPath)
	if err != nil {
		return "", err
	}
	query, err := canonicalQuery(f.rawQuery)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(f.body)
	return strings.Join([]string{Scheme, f.method, strings.ToLower(f.host), path, query,
		f.keyID, f.date, f.nonce, f.ifMatch, hex.EncodeToString(sum[:])}, "\n"), nil
}

// canonicalPath decodes each segment of an escaped path and encodes it
// again with uriEncode, so that equivalent encodings sign alike while an
// encoded "/" stays distinct from a separator.
func canonicalPath(escaped string) (string, error) {
	if escaped == "" {
		escaped = "/"
	}
	segs := strings.Split(escaped, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			return "", fmt.Errorf("%w: path: %v", ErrMalformedSignature, err)
		}
		segs[i] = uriEncode(u)
	}
	return strings.Join(segs, "/"), nil
}

// canonicalQuery returns the query's parameters sorted by name, the values
// of a repeated name in the order sent (the server reads the first), each
// name and value encoded by uriEncode, as name=value joined by "&".
func canonicalQuery(raw string) (string, error) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return "", fmt.Errorf("%w: query: %v", ErrMalformedSignature, err)
	}
	pairs := make([]string, 0, len(vals))
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		for _, v := range vals[k] {
			pairs = append(pairs, uriEncode(k)+"="+uriEncode(v))
		}
	}
	return strings.Join(pairs, "&"), nil
}

// uriEncode percent-encodes every byte of s except RFC 3986's unreserved
// characters (letters, digits, '-', '.', '_', '~'), with upper-case hex.
func uriEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	return b.String()
}

// SignRequest signs req for the LD-HMAC-SHA256 scheme: it sets the
// X-LD-Date, X-LD-Nonce and Authorization headers; set If-Match before
// calling it, as the signature covers it. body must be the exact
// bytes req will send (nil for none); nonce must be unique per request (16
// to 128 letters, digits, '-' or '_'). The Client signs every request
// itself; SignRequest is for other HTTP clients and tests.
func SignRequest(req *http.Request, body []byte, keyID string, secret []byte, now time.Time, nonce string) error {
	if !validNonce(nonce) {
		return fmt.Errorf("configapi: nonce must be 16 to 128 letters, digits, '-' or '_'")
	}
	if keyID == "" || strings.ContainsAny(keyID, ", \t\r\n") {
		return fmt.Errorf("configapi: key id %q must be non-empty, without commas or white space", keyID)
	}
	date := now.UTC().Format(time.RFC3339)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	canonical, err := canonicalRequest(signed{
		method: req.Method, host: host, escapedPath: req.URL.EscapedPath(), rawQuery: req.URL.RawQuery,
		keyID: keyID, date: date, nonce: nonce, ifMatch: req.Header.Get("If-Match"), body: body,
	})
	if err != nil {
		return fmt.Errorf("configapi: signing %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	req.Header.Set(HeaderDate, date)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set("Authorization", fmt.Sprintf("%s KeyId=%s, Signature=%s", Scheme, keyID, hex.EncodeToString(mac(secret, canonical))))
	return nil
}

// MemoryNonceCacheOptions configures a MemoryNonceCache.
type MemoryNonceCacheOptions struct {
	// MaxEntries bounds the cache. When it is full of unexpired nonces,
	// Add fails (the request gets a 503) rather than forget a nonce that
	// could then be replayed. Default: 100,000.
	MaxEntries int
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// MemoryNonceCache is a NonceCache in memory, for a single server. Entries
// are dropped once expired, so its size is bounded by the request rate
// over the signing window. It is safe for concurrent use.
type MemoryNonceCache struct {
	opts MemoryNonceCacheOptions

	mu        sync.Mutex
	entries   map[string]time.Time
	nextSweep time.Time
}

// NewMemoryNonceCache returns an empty cache.
func NewMemoryNonceCache(optFns ...func(*MemoryNonceCacheOptions)) *MemoryNonceCache {
	c := &MemoryNonceCache{entries: map[string]time.Time{}}
	for _, fn := range optFns {
		fn(&c.opts)
	}
	if c.opts.MaxEntries <= 0 {
		c.opts.MaxEntries = 100_000
	}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	return c
}

// ErrNonceCacheFull is returned by MemoryNonceCache.Add when it holds
// MaxEntries unexpired nonces.
var ErrNonceCacheFull = errors.New("configapi: nonce cache full")

// Add records key until expires and reports whether it was new.
func (c *MemoryNonceCache) Add(_ context.Context, key string, expires time.Time) (bool, error) {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp, ok := c.entries[key]; ok && !now.After(exp) {
		return false, nil
	}
	if now.After(c.nextSweep) || len(c.entries) >= c.opts.MaxEntries {
		c.sweep(now)
	}
	if len(c.entries) >= c.opts.MaxEntries {
		return false, ErrNonceCacheFull
	}
	c.entries[key] = expires
	return true, nil
}

// Len returns the number of nonces held, expired ones included until the
// next sweep.
func (c *MemoryNonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// sweep drops entries past their expiry. It runs at most once a second unless the
// cache is full, which keeps Add O(1) amortised.
func (c *MemoryNonceCache) sweep(now time.Time) {
	for k, exp := range c.entries {
		if now.After(exp) {
			delete(c.entries, k)
		}
	}
	c.nextSweep = now.Add(time.Second)
}
