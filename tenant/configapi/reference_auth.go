package configapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The reference signing scheme (ModeReference): the request signing of the
// reference implementation's API Gateway authorizer
// (api/src/handlers/authorizer.py, api/src/utils/auth.py).
const (
	// ReferenceScheme is the Authorization scheme of the reference's
	// signed requests: "Authorization: HMAC-SHA256 <64 hex digits>".
	ReferenceScheme = "HMAC-SHA256"
	// HeaderAPITimestamp carries the signing time, ISO 8601.
	HeaderAPITimestamp = "X-API-Timestamp"
	// HeaderBodySHA256 carries hex(SHA-256(body)), of the empty string for
	// requests without a body.
	HeaderBodySHA256 = "X-Body-SHA256"
	// DefaultReferenceWindow is how far X-API-Timestamp may be from the
	// server's clock, either way, as the reference's validate_timestamp
	// allows.
	DefaultReferenceWindow = 300 * time.Second
	// DefaultMaxReferenceSignatures bounds the signatures of accepted
	// requests a ReferenceHMAC's default cache remembers for each key.
	DefaultMaxReferenceSignatures = 50000
)

// errBodyHashMismatch: X-Body-SHA256 is not the hash of the body. In
// ModeReference a POST, PUT or PATCH refused for it gets the reference's
// 400 rather than 403.
var errBodyHashMismatch = fmt.Errorf("%w: %s does not match the body", ErrBadSignature, HeaderBodySHA256)

// sha256Hex returns hex(SHA-256(b)).
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ReplayProtection says which requests a ReferenceHMAC refuses to accept
// twice. The reference has no replay protection: a captured request can be
// sent again for as long as its timestamp is within the window.
type ReplayProtection int

// Replay protection levels.
const (
	// ReplayWrites refuses a POST, PUT, PATCH or DELETE whose signature
	// was already accepted while its timestamp is within the window: a
	// captured write cannot be replayed. Reads are not guarded, since
	// clients of the reference may send the same GET twice within a
	// second (their timestamps have a resolution of one second), which
	// would then sign alike. The default.
	ReplayWrites ReplayProtection = iota
	// ReplayAll guards reads too: every signed request is accepted once.
	// Use it when every client signs with sub-second timestamps, as the
	// reference's Python example does.
	ReplayAll
	// ReplayOff accepts a signed request as often as it is sent within the
	// window, as the reference does.
	ReplayOff
)

// ReferenceHMACOptions configures a ReferenceHMAC. Zero values mean the
// defaults.
type ReferenceHMACOptions struct {
	// Window is how far X-API-Timestamp may be behind or ahead of Now.
	// Default: DefaultReferenceWindow (300 s), the reference's.
	Window time.Duration
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Replay chooses the requests accepted once only. Default:
	// ReplayWrites.
	Replay ReplayProtection
	// Signatures remembers the signatures of accepted requests (as
	// nonces, keyed by key id) until their timestamp has left the window.
	// Share one across servers for replay protection across a fleet.
	// Default: a MemoryNonceCache holding up to
	// DefaultMaxReferenceSignatures per key.
	Signatures NonceCache
	// PathPrefix is a prefix of request paths that clients may leave out
	// of what they sign: the API Gateway stage ("/prod"), whose authorizer
	// signs the path without it, or the Handler's Options.PathPrefix.
	// Signatures over the path with and without it are both accepted.
	PathPrefix string
	// Rate and Burst limit the requests of each key, as HMACOptions'
	// do. Default: Rate 0, no limit (the reference relies on API
	// Gateway's throttling).
	Rate  float64
	Burst int
}

// ReferenceHMAC authenticates requests signed as the reference's clients
// sign them (see ModeReference):
//
//	X-API-Timestamp: 2024-01-15T10:30:00Z                  ISO 8601; no zone means UTC
//	X-Body-SHA256:   hex(SHA-256(body))                    of "" without a body
//	Authorization:   HMAC-SHA256 hex(HMAC-SHA256(PSK, UPPER(METHOD) + URI + TIMESTAMP + BODY_HASH))
//
// URI is the path and query as sent (req.URL.RequestURI()), or the path
// followed by "?" and the decoded name=value pairs joined by "&", as the
// reference's authorizer rebuilds it from API Gateway's parameters; with
// or without Options.PathPrefix. The timestamp may be at most Window
// (300 s) from the server's clock either way, and X-Body-SHA256 must be the
// hash of the body received: the reference checks that only for POST,
// PUT and PATCH, in the API service.
//
// The pre-shared keys are tried in turn; the key id of the matching one is
// the Principal's ID, so that keys can be rotated: add the new PSK,
// move clients to it, remove the old one.
//
// On top of the reference, accepted signatures are remembered so that a
// captured request cannot be replayed (Options.Replay, by default writes
// only). It is safe for concurrent use.
type ReferenceHMAC struct {
	keys    Keys
	ids     []string // sorted key ids, tried in this order
	opts    ReferenceHMACOptions
	limiter *limiter
}

var _ Authenticator = (*ReferenceHMAC)(nil)

// NewReferenceHMAC returns an authenticator of the reference's request
// signing with the pre-shared keys psks (key id to PSK). It fails without
// a key, or with a negative Window, Rate or Burst.
func NewReferenceHMAC(psks Keys, optFns ...func(*ReferenceHMACOptions)) (*ReferenceHMAC, error) {
	a := &ReferenceHMAC{keys: Keys{}}
	for id, s := range psks {
		if len(s) > 0 {
			a.keys[id] = s
			a.ids = append(a.ids, id)
		}
	}
	if len(a.ids) == 0 {
		return nil, fmt.Errorf("configapi: NewReferenceHMAC needs at least one pre-shared key")
	}
	slices.Sort(a.ids)
	for _, fn := range optFns {
		fn(&a.opts)
	}
	o := &a.opts
	switch {
	case o.Window < 0:
		return nil, fmt.Errorf("configapi: ReferenceHMACOptions.Window %s is negative", o.Window)
	case o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0):
		return nil, fmt.Errorf("configapi: ReferenceHMACOptions.Rate %v is not a positive number of requests a second", o.Rate)
	case o.Burst < 0:
		return nil, fmt.Errorf("configapi: ReferenceHMACOptions.Burst %d is negative", o.Burst)
	}
	if o.Window == 0 {
		o.Window = DefaultReferenceWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Signatures == nil {
		now := o.Now
		o.Signatures = NewMemoryNonceCache(func(mo *MemoryNonceCacheOptions) {
			mo.MaxPerKey = DefaultMaxReferenceSignatures
			mo.Now = now
		})
	}
	o.PathPrefix = strings.TrimSuffix(o.PathPrefix, "/")
	if o.Rate > 0 {
		if o.Burst == 0 {
			o.Burst = DefaultBurst
		}
		a.limiter = newLimiter(o.Rate, o.Burst)
	}
	return a, nil
}

// Authenticate verifies the request's reference signature, its timestamp
// and its body hash, then that a guarded request is not a replay.
func (a *ReferenceHMAC) Authenticate(r *http.Request, body []byte) (Principal, error) {
	ts := r.Header.Get(HeaderAPITimestamp)
	auth := r.Header.Get("Authorization")
	sigHex, ok := strings.CutPrefix(auth, ReferenceScheme+" ")
	if ts == "" || auth == "" {
		// API Gateway refuses these itself (401): they are the authorizer's
		// identity sources.
		return Principal{}, fmt.Errorf("%w: %s and %s are required", ErrMissingSignature, "Authorization", HeaderAPITimestamp)
	}
	if !ok {
		return Principal{}, fmt.Errorf("%w: Authorization is not of the %s scheme", ErrMalformedSignature, ReferenceScheme)
	}
	bodyHash, ok := r.Header[http.CanonicalHeaderKey(HeaderBodySHA256)]
	if !ok {
		return Principal{}, fmt.Errorf("%w: %s is required", ErrMalformedSignature, HeaderBodySHA256)
	}
	if bodyHash[0] != sha256Hex(body) {
		return Principal{}, errBodyHashMismatch
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != sha256.Size || strings.ToLower(sigHex) != sigHex {
		return Principal{}, fmt.Errorf("%w: the signature must be 64 lower-case hex digits", ErrMalformedSignature)
	}
	t, ok := parseReferenceTime(ts)
	if !ok {
		return Principal{}, fmt.Errorf("%w: %s %q is not an ISO 8601 time", ErrMalformedSignature, HeaderAPITimestamp, ts)
	}
	if d := a.opts.Now().Sub(t); d > a.opts.Window || -d > a.opts.Window {
		return Principal{}, fmt.Errorf("%w: %s %s is %s from the server's clock, more than %s", ErrStaleRequest, HeaderAPITimestamp, ts, d.Round(time.Second), a.opts.Window)
	}
	keyID := ""
	for _, uri := range a.uris(r) {
		msg := strings.ToUpper(r.Method) + uri + ts + bodyHash[0]
		for _, id := range a.ids {
			// Every candidate is computed, so that the time taken does not
			// tell which key or form matched.
			if hmac.Equal(sig, mac(a.keys[id], msg)) && keyID == "" {
				keyID = id
			}
		}
	}
	if keyID == "" {
		return Principal{}, ErrBadSignature
	}
	if a.limiter != nil {
		if wait, ok := a.limiter.take(keyID, a.opts.Now()); !ok {
			return Principal{}, &RateLimitError{KeyID: keyID, RetryAfter: wait}
		}
	}
	if a.guarded(r.Method) {
		added, err := a.opts.Signatures.Add(r.Context(), keyID, sigHex, t.Add(a.opts.Window))
		if err != nil || !added {
			if a.limiter != nil {
				a.limiter.giveBack(keyID)
			}
		}
		if err != nil {
			return Principal{}, fmt.Errorf("recording the signature: %w", err)
		}
		if !added {
			return Principal{}, fmt.Errorf("%w (key id %q): the signature was already used", ErrReplayed, keyID)
		}
	}
	return Principal{ID: keyID, Scheme: ReferenceScheme}, nil
}

// guarded reports whether requests of method are accepted once only.
func (a *ReferenceHMAC) guarded(method string) bool {
	switch a.opts.Replay {
	case ReplayOff:
		return false
	case ReplayAll:
		return true
	}
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// uris returns the forms of the request URI a client may have signed: as
// sent, and as the reference's authorizer rebuilds it (decoded parameters
// in the order sent, the last value of a repeated name, as API Gateway's
// queryStringParameters hold them); each with and without PathPrefix.
func (a *ReferenceHMAC) uris(r *http.Request) []string {
	path, query := requestTarget(r)
	var out []string
	add := func(u string) {
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	paths := []string{path}
	if p := a.opts.PathPrefix; p != "" {
		if rest, ok := strings.CutPrefix(path, p); ok && strings.HasPrefix(rest, "/") {
			paths = append(paths, rest)
		}
	}
	for _, p := range paths {
		raw := p
		if query != "" {
			raw += "?" + query
		}
		add(raw)
		decoded, err := url.PathUnescape(p)
		if err != nil {
			continue
		}
		if q := gatewayQuery(query); q != "" {
			decoded += "?" + q
		}
		add(decoded)
	}
	return out
}

// gatewayQuery rebuilds a query as the reference's authorizer does from API
// Gateway's queryStringParameters: decoded name=value pairs joined by "&",
// one per name (the last value sent), in the order names first appear.
func gatewayQuery(raw string) string {
	var names []string
	vals := map[string]string{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return ""
		}
		if _, seen := vals[dk]; !seen {
			names = append(names, dk)
		}
		vals[dk] = dv
	}
	pairs := make([]string, len(names))
	for i, k := range names {
		pairs[i] = k + "=" + vals[k]
	}
	return strings.Join(pairs, "&")
}

// parseReferenceTime reads an X-API-Timestamp as Python's
// datetime.fromisoformat does for the forms clients send: RFC 3339 with
// or without fractional seconds, "Z" or an offset, or no zone at all
// (UTC).
func parseReferenceTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// SignReferenceRequest signs req as the reference's clients do: it sets
// X-API-Timestamp (now, RFC 3339 in UTC with microseconds, as the
// reference's Python example writes it), X-Body-SHA256 and Authorization.
// uri is what is signed: req.URL.RequestURI() when empty. body must be the
// exact bytes req sends (nil for none).
func SignReferenceRequest(req *http.Request, body []byte, psk []byte, now time.Time, uri string) {
	if uri == "" {
		uri = req.URL.RequestURI()
	}
	ts := now.UTC().Format("2006-01-02T15:04:05.000000Z")
	bodyHash := sha256Hex(body)
	sig := mac(psk, strings.ToUpper(req.Method)+uri+ts+bodyHash)
	req.Header.Set(HeaderAPITimestamp, ts)
	req.Header.Set(HeaderBodySHA256, bodyHash)
	req.Header.Set("Authorization", ReferenceScheme+" "+hex.EncodeToString(sig))
}
