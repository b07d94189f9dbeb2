package configapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
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
	// ErrStaleRequest: X-LD-Date is older than HMACOptions.Window or
	// further ahead than HMACOptions.FutureSkew.
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

// ErrRateLimited is wrapped by the error of a verified request refused
// because its key id is over its rate limit (HMACOptions.Rate and Burst).
// The error is a *RateLimitError; the Handler answers 429 with
// Retry-After.
var ErrRateLimited = errors.New("configapi: rate limited")

// RateLimitError is the error of a request over its key id's rate limit.
type RateLimitError struct {
	// KeyID is the key id that is over its limit.
	KeyID string
	// RetryAfter is how long until the key id's bucket holds a token again.
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v: key id %q is over its rate limit; a request is allowed again in %s", ErrRateLimited, e.KeyID, e.RetryAfter)
}

// Unwrap returns ErrRateLimited.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// rateLimitProblem returns the problem document answering e, and the
// Retry-After value (whole seconds, rounded up) to send with it.
func rateLimitProblem(e *RateLimitError) (p *Problem, retryAfter string) {
	secs := max(1, int64(math.Ceil(e.RetryAfter.Seconds())))
	return newProblem(ProblemRateLimited,
		fmt.Sprintf("key id %q sent more requests than its rate limit allows; retry in %d s", e.KeyID, secs)), fmt.Sprint(secs)
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
)

// Defaults of HMACOptions and MemoryNonceCacheOptions.
const (
	// DefaultWindow is how far X-LD-Date may be behind the server's clock.
	DefaultWindow = 5 * time.Minute
	// DefaultFutureSkew is how far X-LD-Date may be ahead of the server's
	// clock: clock differences only, as no request arrives before it is
	// signed.
	DefaultFutureSkew = time.Minute
	// DefaultNonceMargin is how long nonces are kept beyond the window.
	DefaultNonceMargin = time.Minute
	// DefaultRate is the sustained requests per second allowed to each key
	// id: ample for people and for reconcilers (600 writes a minute), while
	// one key's nonces stay below a megabyte.
	DefaultRate = 10.0
	// DefaultBurst is how many requests a key id may send at once, on top
	// of the sustained rate.
	DefaultBurst = 50
	// DefaultMaxNoncesPerKey is how many unexpired nonces a
	// MemoryNonceCache holds for each key id: as many as one key can have
	// accepted while a nonce lives at the default options, DefaultBurst +
	// DefaultRate × (DefaultFutureSkew + DefaultWindow +
	// DefaultNonceMargin) = 50 + 10 × 420.
	DefaultMaxNoncesPerKey = 4250
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
//
// A cache with a size limit should bound each key id's nonces rather than
// all of them together, as MemoryNonceCache does, so that one key cannot
// make the cache refuse the requests of others.
type NonceCache interface {
	// Add records nonce for keyID until expires (inclusive) and reports
	// whether it was new for keyID. It must be atomic: of two concurrent
	// Adds of one key id and nonce, one reports false.
	Add(ctx context.Context, keyID, nonce string, expires time.Time) (added bool, err error)
}

// HMACOptions configures an HMAC authenticator. Zero values mean the
// defaults; negative ones are invalid.
type HMACOptions struct {
	// Window is how far X-LD-Date may be behind Now.
	// Default: DefaultWindow (5 minutes).
	Window time.Duration
	// FutureSkew is how far X-LD-Date may be ahead of Now, for clients
	// whose clock is ahead of the server's. Default: DefaultFutureSkew
	// (1 minute).
	FutureSkew time.Duration
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Nonces remembers used nonces until their request's timestamp has
	// left the window by NonceMargin. Default: a MemoryNonceCache using Now
	// whose MaxPerKey is what one key id can have accepted while a nonce
	// lives: Burst + Rate × (FutureSkew + Window + NonceMargin), so that a
	// key within its rate limit never fills its share.
	Nonces NonceCache
	// NonceMargin is how long nonces are kept beyond the window, for clock
	// differences between servers sharing a NonceCache. (Within one
	// process the timestamp is checked again once the nonce is recorded,
	// which needs no margin.) Default: DefaultNonceMargin (1 minute).
	NonceMargin time.Duration
	// Rate is the sustained number of requests per second each key id may
	// send, refilling a token bucket of Burst tokens; a verified request
	// finding it empty is refused with ErrRateLimited (429). The limit is
	// this server's: a fleet of n servers allows n × Rate.
	// Default: DefaultRate (10 a second).
	Rate float64
	// Burst is how many requests a key id may send at once.
	// Default: DefaultBurst (50).
	Burst int
	// Host is the host signatures must name. Default: the request's Host
	// header; set it when a proxy in front of the server rewrites Host.
	Host string
}

// HMAC authenticates requests signed with the LD-HMAC-SHA256 scheme
// described in the package documentation. It is safe for concurrent use.
//
// It keeps state for verified key ids only: a token bucket each, and
// their nonces in the default MemoryNonceCache, so its memory is bounded
// by the number of key ids in the KeyStore times MaxPerKey nonces.
type HMAC struct {
	keys    KeyStore
	opts    HMACOptions
	limiter *limiter
}

var _ Authenticator = (*HMAC)(nil)

// NewHMAC returns an authenticator verifying signatures with the secrets
// of keys. It panics if an option is invalid; NewHMACAuthenticator
// returns the error instead, for options read from configuration.
func NewHMAC(keys KeyStore, optFns ...func(*HMACOptions)) *HMAC {
	a, err := NewHMACAuthenticator(keys, optFns...)
	if err != nil {
		panic(err)
	}
	return a
}

// NewHMACAuthenticator returns an authenticator verifying signatures with
// the secrets of keys, or an error if an option is invalid: a negative
// duration, Rate or Burst, or a Rate that is not finite.
func NewHMACAuthenticator(keys KeyStore, optFns ...func(*HMACOptions)) (*HMAC, error) {
	a := &HMAC{keys: keys}
	for _, fn := range optFns {
		fn(&a.opts)
	}
	o := &a.opts
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Window", &o.Window, DefaultWindow},
		{"FutureSkew", &o.FutureSkew, DefaultFutureSkew},
		{"NonceMargin", &o.NonceMargin, DefaultNonceMargin},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("configapi: HMACOptions.%s %s is negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		return nil, fmt.Errorf("configapi: HMACOptions.Rate %v is not a positive number of requests a second", o.Rate)
	}
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.Burst < 0 {
		return nil, fmt.Errorf("configapi: HMACOptions.Burst %d is negative", o.Burst)
	}
	if o.Burst == 0 {
		o.Burst = DefaultBurst
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Nonces == nil {
		perKey := float64(o.Burst) + math.Ceil(o.Rate*(o.FutureSkew+o.Window+o.NonceMargin).Seconds())
		if perKey > math.MaxInt32 {
			return nil, fmt.Errorf("configapi: HMACOptions.Rate %v would let each key id store %.0f nonces in memory", o.Rate, perKey)
		}
		now := o.Now
		o.Nonces = NewMemoryNonceCache(func(mo *MemoryNonceCacheOptions) {
			mo.MaxPerKey = int(perKey)
			mo.Now = now
		})
	}
	a.limiter = newLimiter(o.Rate, o.Burst)
	return a, nil
}

// Authenticate verifies the request's signature, timestamp and nonce,
// applies its key id's rate limit, and returns the key id as the
// principal.
//
// The checks run from the cheapest and stateless to those that keep
// state, so that only requests signed with a key's secret can use that
// key's budgets:
//
//  1. the Authorization, X-LD-Date and X-LD-Nonce headers parse;
//  2. X-LD-Date is at most Window behind and FutureSkew ahead of Now;
//  3. the key id is in the KeyStore and the signature matches;
//  4. the key id's token bucket holds a token (else ErrRateLimited);
//  5. the nonce is new for the key id and is recorded (else ErrReplayed);
//     a request refused here gives its token back;
//  6. X-LD-Date is checked again, now that the nonce is recorded.
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
	if err := a.checkDate(ts, date); err != nil {
		return Principal{}, err
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
	// Only verified requests reach the rate limiter and the nonce cache, so
	// that unauthenticated callers can neither use a key's budgets nor burn
	// other callers' nonces. The limit comes first, so that refused
	// requests store nothing.
	if wait, ok := a.limiter.take(keyID, a.opts.Now()); !ok {
		return Principal{}, &RateLimitError{KeyID: keyID, RetryAfter: wait}
	}
	// The nonce is kept as long as its timestamp can be accepted, plus
	// NonceMargin; it is measured from the signed timestamp, which step 2
	// bounded, so no request holds a nonce longer than FutureSkew + Window
	// + NonceMargin. The timestamp is checked again once the nonce is
	// recorded, so that no replay fits between the check and the expiry.
	added, err := a.opts.Nonces.Add(r.Context(), keyID, nonce, ts.Add(a.opts.Window+a.opts.NonceMargin))
	if err != nil || !added {
		// A replay (of a request someone captured) must not drain the
		// key's bucket.
		a.limiter.giveBack(keyID)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("recording nonce: %w", err)
	}
	if !added {
		return Principal{}, fmt.Errorf("%w (key id %q, nonce %q)", ErrReplayed, keyID, nonce)
	}
	if err := a.checkDate(ts, date); err != nil {
		return Principal{}, err
	}
	return Principal{ID: keyID, Scheme: Scheme}, nil
}

// checkDate refuses a timestamp more than Window behind or FutureSkew
// ahead of Now.
func (a *HMAC) checkDate(ts time.Time, date string) error {
	switch d := a.opts.Now().Sub(ts); {
	case d > a.opts.Window:
		return fmt.Errorf("%w: %s %s is %s behind the server's clock, more than %s", ErrStaleRequest, HeaderDate, date, d.Round(time.Second), a.opts.Window)
	case -d > a.opts.FutureSkew:
		return fmt.Errorf("%w: %s %s is %s ahead of the server's clock, more than %s", ErrStaleRequest, HeaderDate, date, (-d).Round(time.Second), a.opts.FutureSkew)
	}
	return nil
}

// limiter holds a token bucket for each key id: rate tokens a second, up
// to burst. Buckets are made for verified key ids only, and dropped once
// full again (a full bucket is the same as none), so there are at most as
// many as key ids in the KeyStore.
type limiter struct {
	rate  float64 // tokens a second
	burst float64

	mu        sync.Mutex
	buckets   map[string]*bucket
	nextSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), buckets: map[string]*bucket{}}
}

// take takes a token from keyID's bucket, or reports how long until one
// is there.
func (l *limiter) take(keyID string, now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.After(l.nextSweep) {
		l.sweep(now)
	}
	b := l.buckets[keyID]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[keyID] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second))), false
}

// giveBack returns a token taken for a request that was then refused.
func (l *limiter) giveBack(keyID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[keyID]; b != nil {
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// refill adds the tokens accrued since b was last brought up to date. A
// clock going backwards adds none.
func (l *limiter) refill(b *bucket, now time.Time) {
	if now.After(b.at) {
		b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
		b.at = now
	}
}

// sweep drops full buckets. It runs at most once a minute.
func (l *limiter) sweep(now time.Time) {
	for id, b := range l.buckets {
		if l.refill(b, now); b.tokens >= l.burst {
			delete(l.buckets, id)
		}
	}
	l.nextSweep = now.Add(time.Minute)
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
	// MaxPerKey bounds the unexpired nonces held for each key id. When a
	// key id holds MaxPerKey, Add fails for that key id (its requests get
	// 503) rather than forget a nonce that could then be replayed; other
	// key ids are not affected. Default: DefaultMaxNoncesPerKey (4,250),
	// as many as a key within the default rate limit can have accepted
	// while a nonce lives; NewHMAC sizes its default cache from its own
	// options.
	MaxPerKey int
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// MemoryNonceCache is a NonceCache in memory, for a single server. Entries
// are dropped once expired. Each key id holds at most MaxPerKey nonces, so
// one key cannot make the cache refuse another's; as HMAC adds the nonces
// of verified requests only, the cache holds at most MaxPerKey times the
// number of key ids in the KeyStore (each nonce takes some 100 to 200
// bytes, by its length). It is safe for concurrent use.
type MemoryNonceCache struct {
	opts MemoryNonceCacheOptions

	mu        sync.Mutex
	keys      map[string]*keyNonces
	nextSweep time.Time
}

// keyNonces holds the nonces of one key id.
type keyNonces struct {
	expires map[string]time.Time // nonce to expiry
	first   time.Time            // no nonce expires before; zero when there are none
}

// NewMemoryNonceCache returns an empty cache.
func NewMemoryNonceCache(optFns ...func(*MemoryNonceCacheOptions)) *MemoryNonceCache {
	c := &MemoryNonceCache{keys: map[string]*keyNonces{}}
	for _, fn := range optFns {
		fn(&c.opts)
	}
	if c.opts.MaxPerKey <= 0 {
		c.opts.MaxPerKey = DefaultMaxNoncesPerKey
	}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	return c
}

// ErrNonceCacheFull is returned by MemoryNonceCache.Add when the key id
// holds MaxPerKey unexpired nonces.
var ErrNonceCacheFull = errors.New("configapi: nonce cache full")

// Add records nonce for keyID until expires and reports whether it was
// new for keyID.
func (c *MemoryNonceCache) Add(_ context.Context, keyID, nonce string, expires time.Time) (bool, error) {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.After(c.nextSweep) {
		c.sweep(now)
	}
	k := c.keys[keyID]
	if k == nil {
		k = &keyNonces{expires: map[string]time.Time{}}
		c.keys[keyID] = k
	}
	if exp, ok := k.expires[nonce]; ok && !now.After(exp) {
		return false, nil
	}
	if len(k.expires) >= c.opts.MaxPerKey && now.After(k.first) {
		k.sweep(now)
	}
	if len(k.expires) >= c.opts.MaxPerKey {
		return false, fmt.Errorf("%w: key id %q holds %d unexpired nonces", ErrNonceCacheFull, keyID, len(k.expires))
	}
	k.expires[nonce] = expires
	if k.first.IsZero() || expires.Before(k.first) {
		k.first = expires
	}
	return true, nil
}

// Len returns the number of nonces held, expired ones included until the
// next sweep.
func (c *MemoryNonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.keys {
		n += len(k.expires)
	}
	return n
}

// sweep drops nonces past their expiry, and key ids left without any. It
// runs at most once a second, which keeps Add O(1) amortised; a key id
// that is full sweeps its own nonces when one of them has expired.
func (c *MemoryNonceCache) sweep(now time.Time) {
	for id, k := range c.keys {
		if k.sweep(now); len(k.expires) == 0 {
			delete(c.keys, id)
		}
	}
	c.nextSweep = now.Add(time.Second)
}

// sweep drops k's nonces past their expiry.
func (k *keyNonces) sweep(now time.Time) {
	first := time.Time{}
	for n, exp := range k.expires {
		switch {
		case now.After(exp):
			delete(k.expires, n)
		case first.IsZero() || exp.Before(first):
			first = exp
		}
	}
	k.first = first
}
