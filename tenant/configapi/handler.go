package configapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/tenant"
)

// Action is what a request does, as passed to the Authorizer.
type Action string

// Actions.
const (
	// ActionRead reads one tenant's configs (GET, validate).
	ActionRead Action = "read"
	// ActionWrite creates, changes or deletes one tenant's configs.
	ActionWrite Action = "write"
	// ActionList lists the configs of every tenant; tenantID is "".
	ActionList Action = "list"
)

// Authorizer decides whether principal may perform action on the configs
// of tenantID ("" for ActionList, which spans every tenant). A non-nil
// error refuses the request with 403; the error is logged, not sent.
type Authorizer interface {
	Authorize(ctx context.Context, principal Principal, action Action, tenantID string) error
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, principal Principal, action Action, tenantID string) error

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, p Principal, a Action, tenantID string) error {
	return f(ctx, p, a, tenantID)
}

// Options configures a Handler.
type Options struct {
	// Authorizer decides which tenants a caller may read or change.
	// Default: nil, every authenticated caller may do everything.
	Authorizer Authorizer
	// Logger receives authentication and authorization refusals (Info) and
	// internal errors (Error). Default: nil, discard.
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; larger ones get 413.
	// Default: 256 KiB.
	MaxBodyBytes int64
	// RequireIfMatch makes PUT, PATCH and DELETE without an If-Match header
	// fail with 428, so that no client overwrites a change it has not seen.
	// Default: false, If-Match is honoured when present.
	RequireIfMatch bool
	// DefaultListLimit is the page size of GET /delivery-configs without a
	// limit parameter. Default: 100.
	DefaultListLimit int
	// MaxListLimit is the largest limit accepted. Default: 1000.
	MaxListLimit int
	// Identities are the platform operator's records of tenants: with
	// them, a config that names a role or a bucket owner outside its
	// tenant's accounts is refused with 422, as is any config of a tenant
	// the operator has not recorded. Default: nil, no binding (the seed's
	// compatibility mode).
	Identities tenant.IdentityStore
	// Now returns the current time, for the expiry check of the validate
	// endpoint. Default: time.Now.
	Now func() time.Time
	// Mode is the contract served: ModeNative (the default) or
	// ModeReference, the reference implementation's (whose list page size
	// defaults to 50, its own).
	Mode Mode
	// Invalidator is told the tenant of every write (create, replace,
	// patch, delete; whatever its outcome, as a write that timed out may
	// have happened), after the store answered: pass the tenant.Cache in
	// front of the same store in this process (a processor serving the API
	// beside its deliveries, or a cache the API reads through) so that the
	// next delivery uses the new configuration instead of the cached one
	// until its TTL. Caches of other processes still expire with their TTL.
	// Default: none.
	Invalidator Invalidator
	// PathPrefix is prepended to every endpoint's path ("/prod" serves
	// /prod/healthz, or /prod/api/v1/health in ModeReference), for a
	// server whose clients reach it below a prefix that no proxy strips.
	// Default: none.
	PathPrefix string
}

// Handler serves the tenant configuration API over a tenant.Store. Create
// it with New. It is safe for concurrent use.
type Handler struct {
	store    tenant.Store
	kinds    *deliver.Registry
	auth     Authenticator
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	patterns []string // every pattern registered on mux, in route order
	openapi  []byte
	health   health // ModeReference's health probe
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler serving store, validating configs with the kinds
// and groups of kinds (the processor's registry, or one built from the same
// kinds without deliverers) and authenticating every request except GET
// /healthz and GET /openapi.json with auth (NewHMAC for the built-in
// request signing).
func New(store tenant.Store, kinds *deliver.Registry, auth Authenticator, optFns ...func(*Options)) (*Handler, error) {
	if store == nil {
		return nil, errors.New("configapi: New needs a store")
	}
	if kinds == nil {
		return nil, errors.New("configapi: New needs a registry of destination kinds")
	}
	if auth == nil {
		return nil, errors.New("configapi: New needs an authenticator")
	}
	h := &Handler{store: store, kinds: kinds, auth: auth, mux: http.NewServeMux()}
	for _, fn := range optFns {
		fn(&h.opts)
	}
	if h.opts.MaxBodyBytes <= 0 {
		h.opts.MaxBodyBytes = 256 << 10
	}
	if h.opts.MaxListLimit <= 0 {
		h.opts.MaxListLimit = 1000
	}
	if h.opts.DefaultListLimit <= 0 {
		h.opts.DefaultListLimit = min(100, h.opts.MaxListLimit)
		if h.opts.Mode == ModeReference {
			h.opts.DefaultListLimit = min(defaultReferenceListLimit, h.opts.MaxListLimit)
		}
	}
	if h.opts.Now == nil {
		h.opts.Now = time.Now
	}
	if h.opts.Invalidator != nil {
		h.store = invalidating{Store: h.store, inv: h.opts.Invalidator}
	}
	h.log = h.opts.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	prefix := strings.TrimSuffix(h.opts.PathPrefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("configapi: Options.PathPrefix %q must start with /", h.opts.PathPrefix)
	}
	h.health.start = h.opts.Now()
	rts := routes()
	switch h.opts.Mode {
	case ModeNative:
	case ModeReference:
		h.registerReference(prefix)
		rts = nil // the native routes are not served; the document stays empty of them
	default:
		return nil, fmt.Errorf("configapi: unknown Options.Mode %d", h.opts.Mode)
	}
	for i := range rts {
		rt := &rts[i]
		pattern := rt.method + " " + prefix + rt.path
		h.mux.Handle(pattern, h.wrap(rt))
		h.patterns = append(h.patterns, pattern)
	}
	doc, err := json.MarshalIndent(openAPIDocument(rts, h.kinds, h.opts), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("configapi: encoding the OpenAPI document: %w", err)
	}
	h.openapi = doc
	return h, nil
}

// OpenAPI returns the OpenAPI 3.1 document served at /openapi.json.
func (h *Handler) OpenAPI() []byte { return append([]byte(nil), h.openapi...) }

// ServeHTTP serves the API. Unknown paths and methods get problem
// documents (404, 405) like every other error.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern != "" {
		h.mux.ServeHTTP(w, r)
		return
	}
	// Let the mux decide between a redirect, 404 and 405, then answer with a
	// problem document instead of its plain text.
	rec := &statusRecorder{header: http.Header{}}
	h.mux.ServeHTTP(rec, r)
	c := &call{h: h, w: w, r: r}
	if h.opts.Mode == ModeReference {
		// FastAPI's answers.
		switch {
		case rec.status >= 300 && rec.status < 400:
		case rec.status == http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			c.write(rec.status, mediaJSON, map[string]string{"detail": "Method Not Allowed"})
			return
		default:
			c.write(http.StatusNotFound, mediaJSON, map[string]string{"detail": "Not Found"})
			return
		}
	}
	switch {
	case rec.status >= 300 && rec.status < 400:
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
	case rec.status == http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		c.problem(newProblem(ProblemMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.header.Get("Allow"))))
	default:
		c.problem(newProblem(ProblemNotFound, fmt.Sprintf("no API endpoint at %s", r.URL.Path)))
	}
}

// statusRecorder captures what the mux's fallback handlers write.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

type principalKey struct{}

// PrincipalFromContext returns the authenticated caller of the request whose
// context ctx is, as seen by Authorizers and the store.
func PrincipalFromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// call is one request being served.
type call struct {
	h        *Handler
	w        http.ResponseWriter
	r        *http.Request
	body     []byte
	tenantID string // from the path, once validated
	typ      string // from the path, once validated
}

func (h *Handler) wrap(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{h: h, w: w, r: r}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				c.fail(fmt.Errorf("panic serving %s %s: %v", r.Method, r.URL.Path, v))
			}
		}()
		if err := h.prepare(c, rt); err != nil {
			c.fail(err)
			return
		}
		if err := rt.serve(c); err != nil {
			c.fail(err)
		}
	})
}

// prepare reads the body, authenticates the caller and checks the content
// type, in that order.
func (h *Handler) prepare(c *call, rt *route) error {
	if rt.public {
		return nil
	}
	r := c.r
	body, err := io.ReadAll(http.MaxBytesReader(c.w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return newProblem(ProblemBodyTooLarge, fmt.Sprintf("the request body exceeds %d bytes", h.opts.MaxBodyBytes))
		}
		return newProblem(ProblemBadRequest, "the request body could not be read")
	}
	c.body = body
	p, err := h.auth.Authenticate(r, body)
	if err != nil {
		if !errors.Is(err, ErrUnauthenticated) {
			return fmt.Errorf("authenticating: %w", err)
		}
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "configapi: request refused",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("reason", err.Error()))
		c.w.Header().Set("WWW-Authenticate", Scheme)
		return newProblem(ProblemUnauthorized, publicAuthDetail(err))
	}
	c.r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
	if rt.bodyType != "" {
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		cs, hasCharset := params["charset"]
		if err != nil || mt != rt.bodyType || (hasCharset && !strings.EqualFold(cs, "utf-8")) {
			if rt.bodyType == mediaMergePatch {
				c.w.Header().Set("Accept-Patch", mediaMergePatch)
			}
			return newProblem(ProblemUnsupportedMediaType, fmt.Sprintf("Content-Type must be %s", rt.bodyType))
		}
	}
	return nil
}

// authorize asks the Authorizer whether the caller may perform action on
// tenantID.
func (c *call) authorize(action Action, tenantID string) error {
	if c.h.opts.Authorizer == nil {
		return nil
	}
	p, _ := PrincipalFromContext(c.r.Context())
	if err := c.h.opts.Authorizer.Authorize(c.r.Context(), p, action, tenantID); err != nil {
		c.h.log.LogAttrs(c.r.Context(), slog.LevelInfo, "configapi: request forbidden",
			slog.String("principal", p.ID), slog.String("action", string(action)),
			slog.String("tenant_id", tenantID), slog.String("reason", err.Error()))
		what := "the configs of tenant " + tenantID
		if tenantID == "" {
			what = "the configs of every tenant"
		}
		return newProblem(ProblemForbidden, fmt.Sprintf("%q may not %s %s", p.ID, action, what))
	}
	return nil
}

const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
	mediaProblem    = "application/problem+json"
)

// json writes v with status.
func (c *call) json(status int, v any) {
	c.write(status, mediaJSON, v)
}

func (c *call) write(status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.fail(fmt.Errorf("encoding the response: %w", err))
		return
	}
	hd := c.w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(append(b, '\n'))
}

// problem writes p, with the request path as its instance.
func (c *call) problem(p *Problem) {
	p.Instance = c.r.URL.Path
	hd := c.w.Header()
	hd.Del("ETag")
	hd.Del("Location")
	c.write(p.Status, mediaProblem, p)
}

// fail answers with the problem err describes. Store sentinels get their
// status; anything unrecognised is logged and answered with a generic 500
// so that no internal error text reaches the caller.
func (c *call) fail(err error) {
	what := fmt.Sprintf("tenant %q has no delivery config of type %q", c.tenantID, c.typ)
	var ve *tenant.ValidationError
	var rl *RateLimitError
	var p *Problem
	switch {
	case errors.As(err, &p):
	case errors.As(err, &ve):
		p = validationProblem(ve.Problems)
	case errors.Is(err, tenant.ErrNotFound):
		p = newProblem(ProblemNotFound, what)
	case errors.Is(err, tenant.ErrExists):
		p = newProblem(ProblemExists, fmt.Sprintf("tenant %q already has a delivery config of type %q; use PUT or PATCH to change it", c.tenantID, c.typ))
	case errors.Is(err, tenant.ErrConflict):
		p = newProblem(ProblemPreconditionFailed, "If-Match does not match the current ETag of the delivery config")
	case errors.Is(err, tenant.ErrInvalidCursor):
		p = newProblem(ProblemInvalidCursor, "the cursor was not issued by this API; start from the first page",
			tenant.FieldError{Field: "cursor", Message: "is not a cursor this API issued"})
	case errors.Is(err, tenant.ErrInvalidConfig):
		p = newProblem(ProblemValidation, "the delivery config is invalid")
	case errors.As(err, &rl):
		c.h.log.LogAttrs(c.r.Context(), slog.LevelInfo, "configapi: request rate limited",
			slog.String("method", c.r.Method), slog.String("path", c.r.URL.Path), slog.String("principal", rl.KeyID))
		var retryAfter string
		p, retryAfter = rateLimitProblem(rl)
		c.w.Header().Set("Retry-After", retryAfter)
	case errors.Is(err, ErrNonceCacheFull):
		c.h.log.LogAttrs(c.r.Context(), slog.LevelError, "configapi: a key's nonce budget is full; refusing its requests until its nonces expire",
			slog.String("error", err.Error()))
		c.w.Header().Set("Retry-After", "5")
		p = newProblem(ProblemUnavailable, "the server is overloaded; retry later")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled) && c.r.Context().Err() != nil:
		c.h.log.LogAttrs(c.r.Context(), slog.LevelWarn, "configapi: request not completed",
			slog.String("method", c.r.Method), slog.String("path", c.r.URL.Path), slog.String("error", err.Error()))
		p = newProblem(ProblemUnavailable, "the request did not complete in time; retry later")
	default:
		ref := reference()
		c.h.log.LogAttrs(c.r.Context(), slog.LevelError, "configapi: internal error",
			slog.String("reference", ref), slog.String("method", c.r.Method),
			slog.String("path", c.r.URL.Path), slog.String("error", err.Error()))
		p = newProblem(ProblemInternal, fmt.Sprintf("internal error (reference %s); the server log has the details", ref))
	}
	c.problem(p)
}

func validationProblem(fieldErrs []tenant.FieldError) *Problem {
	n := len(fieldErrs)
	detail := "1 field of the delivery config is invalid"
	if n != 1 {
		detail = fmt.Sprintf("%d fields of the delivery config are invalid", n)
	}
	return newProblem(ProblemValidation, detail, fieldErrs...)
}

// reference returns a random id tying a 500 response to its log line.
func reference() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
