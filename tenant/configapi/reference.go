package configapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/logdelivery/logdelivery/tenant"
)

// Mode selects the API contract a Handler serves.
type Mode int

// Modes.
const (
	// ModeNative is this package's own contract: the endpoints, problem
	// documents, ETags and strict bodies described in the package
	// documentation.
	ModeNative Mode = iota
	// ModeReference serves the contract of the reference implementation's
	// configuration API (api/src/app.py of openshift-online/rosa-log-router)
	// over any tenant.Store, so that its clients work unchanged:
	//
	//	GET    /api/v1/health                                                no authentication
	//	GET    /api/v1/delivery-configs?limit=50&last_key=
	//	GET    /api/v1/tenants/{tenant_id}/delivery-configs
	//	POST   /api/v1/tenants/{tenant_id}/delivery-configs                  201
	//	GET    /api/v1/tenants/{tenant_id}/delivery-configs/{type}
	//	PUT    /api/v1/tenants/{tenant_id}/delivery-configs/{type}           updates the fields sent
	//	PATCH  /api/v1/tenants/{tenant_id}/delivery-configs/{type}           enabled, desired_logs
	//	DELETE /api/v1/tenants/{tenant_id}/delivery-configs/{type}           200 with a message
	//	GET    /api/v1/tenants/{tenant_id}/delivery-configs/{type}/validate
	//
	// Successes are wrapped as {"data": …, "status": "success"} (with a
	// "message" for writes); configs carry "enabled" always, true when the
	// item has none. Errors are FastAPI's {"detail": …}: a string, or for
	// 422 a list of {"type", "loc", "msg"} naming each invalid field. POST,
	// PUT and PATCH need X-Body-SHA256, the hex SHA-256 of the body (400
	// otherwise, {"error": …}). Bodies are read as pydantic reads them:
	// null members and members the endpoint does not take are ignored, and
	// PUT changes only the fields sent (400 when none is). The list's
	// last_key is opaque: pass it back as sent. Validation is still the
	// registry's, so the processor never receives a config it refuses.
	//
	// Refused authentication answers as the reference's API Gateway does:
	// 401 {"message": "Unauthorized"} without the Authorization or
	// X-API-Timestamp header, 403 {"message": "Authentication failed"}
	// otherwise. Use NewReferenceHMAC for the reference's request signing.
	//
	// Where the reference contradicts itself this mode follows its
	// documented intent: a duplicate POST is 409 (its integration tests;
	// its service answers 400), and a config created without enabled is
	// stored with enabled true (its documentation; its processor reads an
	// absent enabled as false).
	ModeReference
)

// ReferencePrefix is the path prefix of the reference's endpoints, below
// Options.PathPrefix.
const ReferencePrefix = "/api/v1"

// Default list page size of ModeReference, the reference's.
const defaultReferenceListLimit = 50

// refError is an error response of ModeReference.
type refError struct {
	status int
	body   map[string]any
}

func (e *refError) Error() string { return fmt.Sprintf("configapi: %d %v", e.status, e.body) }

func refDetail(status int, detail any) *refError {
	return &refError{status: status, body: map[string]any{"detail": detail}}
}

// refRoute is one endpoint of ModeReference.
type refRoute struct {
	method, path string
	public       bool
	op           string // names the operation in 500 details
	serve        func(c *refCall) error
}

func referenceRoutes() []refRoute {
	const (
		tenantConfigs = ReferencePrefix + pathTenantConfigs
		config        = ReferencePrefix + pathConfig
	)
	return []refRoute{
		{method: http.MethodGet, path: ReferencePrefix + "/health", public: true, op: "check health", serve: serveRefHealth},
		{method: http.MethodGet, path: ReferencePrefix + "/delivery-configs", op: "list", serve: serveRefListAll},
		{method: http.MethodGet, path: tenantConfigs, op: "list", serve: serveRefListTenant},
		{method: http.MethodPost, path: tenantConfigs, op: "create", serve: serveRefCreate},
		{method: http.MethodGet, path: config, op: "get", serve: serveRefGet},
		{method: http.MethodPut, path: config, op: "update", serve: serveRefUpdate},
		{method: http.MethodPatch, path: config, op: "patch", serve: serveRefPatch},
		{method: http.MethodDelete, path: config, op: "delete", serve: serveRefDelete},
		{method: http.MethodGet, path: config + "/validate", op: "validate", serve: serveRefValidate},
	}
}

// refCall is one request served in ModeReference. It embeds the native
// call, whose decoding, validation and authorization it shares.
type refCall struct {
	*call
	rt *refRoute
}

// registerReference registers the routes of ModeReference under prefix.
func (h *Handler) registerReference(prefix string) {
	rts := referenceRoutes()
	for i := range rts {
		rt := &rts[i]
		pattern := rt.method + " " + prefix + rt.path
		h.mux.Handle(pattern, h.wrapReference(rt))
		h.patterns = append(h.patterns, pattern)
	}
}

func (h *Handler) wrapReference(rt *refRoute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &refCall{call: &call{h: h, w: w, r: r}, rt: rt}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				c.refFail(fmt.Errorf("panic serving %s %s: %v", r.Method, r.URL.Path, v))
			}
		}()
		if err := c.prepareReference(); err != nil {
			c.refFail(err)
			return
		}
		if err := rt.serve(c); err != nil {
			c.refFail(err)
		}
	})
}

// prepareReference reads the body, authenticates the caller and checks
// X-Body-SHA256, in the reference's order: its API Gateway authorizer,
// then its body-hash middleware.
func (c *refCall) prepareReference() error {
	if c.rt.public {
		return nil
	}
	r := c.r
	body, err := readBody(c.w, r, c.h.opts.MaxBodyBytes)
	if err != nil {
		var p *Problem
		if errors.As(err, &p) && p.Status == http.StatusRequestEntityTooLarge {
			return &refError{status: p.Status, body: map[string]any{"message": "Request Entity Too Large"}}
		}
		return refDetail(http.StatusBadRequest, "the request body could not be read")
	}
	c.body = body
	p, err := c.h.auth.Authenticate(r, body)
	if err != nil {
		var rl *RateLimitError
		switch {
		case errors.As(err, &rl):
			c.h.log.LogAttrs(r.Context(), slog.LevelInfo, "configapi: request rate limited",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("principal", rl.KeyID))
			_, retryAfter := rateLimitProblem(rl)
			c.w.Header().Set("Retry-After", retryAfter)
			return &refError{status: http.StatusTooManyRequests, body: map[string]any{"message": "Too Many Requests"}}
		case errors.Is(err, ErrNonceCacheFull):
			c.h.log.LogAttrs(r.Context(), slog.LevelError, "configapi: a key's signature budget is full; refusing its guarded requests until they expire",
				slog.String("error", err.Error()))
			c.w.Header().Set("Retry-After", "5")
			return refDetail(http.StatusServiceUnavailable, "the server is overloaded; retry later")
		case !errors.Is(err, ErrUnauthenticated):
			return fmt.Errorf("authenticating: %w", err)
		}
		c.h.log.LogAttrs(r.Context(), slog.LevelInfo, "configapi: request refused",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("reason", err.Error()))
		if errors.Is(err, ErrMissingSignature) {
			return &refError{status: http.StatusUnauthorized, body: map[string]any{"message": "Unauthorized"}}
		}
		if !errors.Is(err, errBodyHashMismatch) || !hasBody(r.Method) {
			return &refError{status: http.StatusForbidden, body: map[string]any{"message": "Authentication failed"}}
		}
		// The reference's authorizer cannot see bodies: a signature over a
		// hash that does not match the body passes it, and its middleware
		// answers below.
	}
	c.r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
	if hasBody(r.Method) {
		sent := r.Header.Get(HeaderBodySHA256)
		if sent == "" {
			return &refError{status: http.StatusBadRequest, body: map[string]any{"error": "Missing required header: X-Body-SHA256"}}
		}
		if sent != sha256Hex(body) {
			return &refError{status: http.StatusBadRequest, body: map[string]any{"error": "Body hash mismatch: request body does not match X-Body-SHA256"}}
		}
	}
	return nil
}

// hasBody reports whether the reference checks the body hash of requests
// of method.
func hasBody(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
}

// refFail answers with the response err describes, as the reference's
// service would.
func (c *refCall) refFail(err error) {
	var re *refError
	var p *Problem
	switch {
	case errors.As(err, &re):
	case errors.As(err, &p):
		re = c.fromProblem(p)
	case errors.Is(err, tenant.ErrNotFound):
		re = refDetail(http.StatusNotFound, fmt.Sprintf("Delivery configuration '%s/%s' not found", c.tenantID, c.typ))
	case errors.Is(err, tenant.ErrExists):
		re = refDetail(http.StatusConflict, fmt.Sprintf("Tenant '%s' delivery configuration '%s' already exists", c.tenantID, c.typ))
	case errors.Is(err, tenant.ErrInvalidCursor):
		re = refDetail(http.StatusBadRequest, "Invalid last_key: pass back the last_key of the previous page")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled) && c.r.Context().Err() != nil:
		c.h.log.LogAttrs(c.r.Context(), slog.LevelWarn, "configapi: request not completed",
			slog.String("method", c.r.Method), slog.String("path", c.r.URL.Path), slog.String("error", err.Error()))
		re = refDetail(http.StatusServiceUnavailable, "the request did not complete in time; retry later")
	default:
		var ve *tenant.ValidationError
		if errors.As(err, &ve) {
			re = refDetail(http.StatusUnprocessableEntity, fastAPIErrors(ve.Problems))
			break
		}
		ref := reference()
		c.h.log.LogAttrs(c.r.Context(), slog.LevelError, "configapi: internal error",
			slog.String("reference", ref), slog.String("method", c.r.Method),
			slog.String("path", c.r.URL.Path), slog.String("error", err.Error()))
		re = refDetail(http.StatusInternalServerError, fmt.Sprintf("Failed to %s delivery configuration (reference %s)", c.rt.op, ref))
	}
	c.refJSON(re.status, re.body)
}

// fromProblem turns a problem of the native checks into the reference's
// shape.
func (c *refCall) fromProblem(p *Problem) *refError {
	switch p.Status {
	case http.StatusUnprocessableEntity:
		return refDetail(p.Status, fastAPIErrors(p.Errors))
	case http.StatusNotFound:
		return refDetail(p.Status, "Not Found")
	case http.StatusForbidden:
		return &refError{status: p.Status, body: map[string]any{"message": "Forbidden", "detail": p.Detail}}
	}
	if p.Kind() == ProblemBadRequest && len(p.Errors) == 0 && strings.Contains(p.Detail, "JSON") {
		// FastAPI answers unparsable bodies with 422.
		return refDetail(http.StatusUnprocessableEntity, []map[string]any{{"type": "json_invalid", "loc": []any{"body"}, "msg": p.Detail}})
	}
	if len(p.Errors) > 0 {
		return refDetail(p.Status, fastAPIErrors(p.Errors))
	}
	return refDetail(p.Status, p.Detail)
}

// fastAPIErrors describes field problems as FastAPI's validation errors.
func fastAPIErrors(problems []tenant.FieldError) []map[string]any {
	out := make([]map[string]any, len(problems))
	for i, p := range problems {
		out[i] = map[string]any{"type": "value_error", "loc": []any{"body", p.Field}, "msg": p.Field + ": " + p.Message}
	}
	return out
}

// refJSON writes v with status, as the reference's service does.
func (c *refCall) refJSON(status int, v any) { c.write(status, mediaJSON, v) }

// success writes {"data": data, "status": "success"} with a message when
// one is given.
func (c *refCall) success(status int, data any, message string) {
	body := map[string]any{"status": "success"}
	if data != nil {
		body["data"] = data
	}
	if message != "" {
		body["message"] = message
	}
	c.refJSON(status, body)
}

// refConfig is a config as the reference answers it: the item, enabled
// always present.
func refConfig(cfg tenant.DeliveryConfig) map[string]any {
	obj := cfg.Object()
	obj[tenant.FieldEnabled] = cfg.IsEnabled()
	return obj
}

func refConfigs(cfgs []tenant.DeliveryConfig) []map[string]any {
	out := make([]map[string]any, len(cfgs))
	for i, cfg := range cfgs {
		out[i] = refConfig(cfg)
	}
	return out
}

// readBody reads the request body, bounded by limit.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, newProblem(ProblemBodyTooLarge, fmt.Sprintf("the request body exceeds %d bytes", limit))
		}
		return nil, newProblem(ProblemBadRequest, "the request body could not be read")
	}
	return body, nil
}

// refPath validates the path's tenant id and type. The reference has no
// rules for them: a value no config can have is simply not found.
func (c *refCall) refPath(withType bool) error {
	c.tenantID, c.typ = c.r.PathValue("tenant_id"), c.r.PathValue("type")
	if tenant.ValidateTenantID(c.tenantID) != nil {
		return tenant.ErrNotFound
	}
	if withType {
		for _, p := range (tenant.DeliveryConfig{TenantID: c.tenantID, Type: c.typ}).CommonProblems() {
			if p.Field == tenant.FieldType {
				return tenant.ErrNotFound
			}
		}
	}
	return nil
}

// health caches the store probe of the health endpoint, so that
// unauthenticated callers cannot make it hammer the store.
type health struct {
	mu    sync.Mutex
	at    time.Time
	err   error
	start time.Time
}

const healthCacheTTL = 5 * time.Second

func serveRefHealth(c *refCall) error {
	hs := &c.h.health
	now := c.h.opts.Now()
	hs.mu.Lock()
	if hs.at.IsZero() || now.Sub(hs.at) >= healthCacheTTL {
		ctx, cancel := context.WithTimeout(c.r.Context(), 5*time.Second)
		_, _, err := c.h.store.List(ctx, 1, "")
		cancel()
		var ie *tenant.ItemsError
		if errors.As(err, &ie) {
			err = nil // the store answered
		}
		hs.at, hs.err = now, err
	}
	err, start := hs.err, hs.start
	hs.mu.Unlock()
	check := map[string]any{"status": "healthy"}
	status := "healthy"
	if err != nil {
		c.h.log.LogAttrs(c.r.Context(), slog.LevelWarn, "configapi: health check: the store does not answer", slog.String("error", err.Error()))
		check = map[string]any{"status": "unhealthy", "error": "the store does not answer; the server log has the details"}
		status = "degraded"
	}
	// The store's check is named dynamodb, whatever the store, as the
	// reference's clients read it.
	c.refJSON(http.StatusOK, map[string]any{
		"status":         status,
		"timestamp":      now.UTC().Format("2006-01-02T15:04:05.000000+00:00"),
		"service":        "tenant-management-api",
		"version":        "1.0.0",
		"uptime_seconds": int64(now.Sub(start).Seconds()),
		"checks":         map[string]any{"dynamodb": check},
	})
	return nil
}

func serveRefListAll(c *refCall) error {
	q := c.r.URL.Query()
	limit := c.h.opts.DefaultListLimit
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 {
			return refDetail(http.StatusUnprocessableEntity, []map[string]any{{"type": "int_parsing", "loc": []any{"query", "limit"}, "msg": "Input should be a positive integer", "input": q.Get("limit")}})
		}
		// A larger limit gets a shorter page with a last_key, which the
		// reference's clients follow as they follow DynamoDB's 1 MB pages.
		limit = min(n, c.h.opts.MaxListLimit)
	}
	if err := c.authorize(ActionList, ""); err != nil {
		return err
	}
	cursor := q.Get("last_key")
	items, next, err := c.h.store.List(c.r.Context(), limit, cursor)
	items, _, err = c.listed(items, err)
	if err != nil {
		return err
	}
	data := map[string]any{"configurations": refConfigs(items), "count": len(items), "limit": limit}
	if next != "" {
		data["last_key"] = next
	}
	c.success(http.StatusOK, data, "")
	return nil
}

func serveRefListTenant(c *refCall) error {
	if err := c.refPath(false); err != nil {
		c.success(http.StatusOK, map[string]any{"configurations": []any{}, "count": 0}, "")
		return nil
	}
	if err := c.authorize(ActionRead, c.tenantID); err != nil {
		return err
	}
	items, _, err := c.listed(c.h.store.Configs(c.r.Context(), c.tenantID))
	if err != nil {
		return err
	}
	c.success(http.StatusOK, map[string]any{"configurations": refConfigs(items), "count": len(items)}, "")
	return nil
}

func serveRefGet(c *refCall) error {
	if err := c.refPath(true); err != nil {
		return err
	}
	if err := c.authorize(ActionRead, c.tenantID); err != nil {
		return err
	}
	cfg, err := c.h.store.Get(c.r.Context(), c.tenantID, c.typ)
	if err != nil {
		return err
	}
	c.success(http.StatusOK, refConfig(cfg), "")
	return nil
}

// Fields each write of ModeReference takes besides the kind's settings,
// as the reference's request models name them (api/src/models/tenant.py).
var (
	refCreateFields = []string{tenant.FieldTenantID, tenant.FieldType, tenant.FieldEnabled, tenant.FieldDesiredLogs,
		tenant.FieldTargetRegion, tenant.FieldTTL, tenant.FieldGroups, tenant.FieldMatch}
	refUpdateFields = []string{tenant.FieldEnabled, tenant.FieldDesiredLogs, tenant.FieldTargetRegion, tenant.FieldTTL,
		tenant.FieldGroups, tenant.FieldMatch}
	refPatchFields = []string{tenant.FieldEnabled, tenant.FieldDesiredLogs, tenant.FieldGroups, tenant.FieldMatch}
)

// refBody decodes the body as pydantic reads a request model: one JSON
// object, null members dropped, members other than common (and, with
// settings, the kind's settings a client may write) ignored.
func (c *refCall) refBody(kind string, common []string, settings bool) (map[string]any, error) {
	doc, err := decodeObject(c.body)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for name, v := range doc {
		if v == nil {
			continue
		}
		take := false
		for _, f := range common {
			take = take || f == name
		}
		if settings && kind != "" {
			if tenant.HasFlatSettings(kind) {
				for _, f := range c.h.kinds.Fields(kind) {
					take = take || (f.Name == name && !f.Operator)
				}
			} else {
				take = take || name == tenant.FieldSettings
			}
		}
		if take {
			out[name] = v
		}
	}
	return out, nil
}

func serveRefCreate(c *refCall) error {
	c.tenantID = c.r.PathValue("tenant_id")
	if err := c.authorize(ActionWrite, c.tenantID); err != nil {
		return err
	}
	doc, err := decodeObject(c.body)
	if err != nil {
		return err
	}
	var missing []map[string]any
	for _, f := range []string{tenant.FieldTenantID, tenant.FieldType} {
		if _, ok := doc[f].(string); !ok {
			missing = append(missing, map[string]any{"type": "missing", "loc": []any{"body", f}, "msg": "Field required"})
		}
	}
	if missing != nil {
		return refDetail(http.StatusUnprocessableEntity, missing)
	}
	kind, _, _ := strings.Cut(doc[tenant.FieldType].(string), ":")
	body, err := c.refBody(kind, refCreateFields, true)
	if err != nil {
		return err
	}
	cfg, err := c.decodeConfig(body)
	if err != nil {
		return err
	}
	// The fields are validated before they are compared with the path, as
	// pydantic validates the request model before the reference's handler
	// runs.
	var ve *tenant.ValidationError
	if err := c.h.kinds.Validate(cfg); errors.As(err, &ve) {
		return refDetail(http.StatusUnprocessableEntity, fastAPIErrors(ve.Problems))
	} else if err != nil {
		return err
	}
	if cfg.TenantID != c.tenantID {
		return refDetail(http.StatusBadRequest, "tenant_id in URL must match tenant_id in request body")
	}
	c.typ = cfg.Type
	if cfg.Enabled == nil {
		// Stored explicitly, so that the reference's processor, which reads
		// an absent enabled as false, delivers it too.
		cfg.Enabled = tenant.Bool(true)
	}
	if err := c.check(&cfg, false, nil); err != nil {
		return err
	}
	stored, err := c.h.store.Create(c.r.Context(), cfg)
	if err != nil {
		return err
	}
	c.success(http.StatusCreated, refConfig(stored), "Delivery configuration created successfully")
	return nil
}

func serveRefUpdate(c *refCall) error {
	return c.refChange(refUpdateFields, true, "No fields provided for update", "Delivery configuration updated successfully")
}

func serveRefPatch(c *refCall) error {
	return c.refChange(refPatchFields, false, "No fields provided for patch", "Delivery configuration patched successfully")
}

// refChange serves PUT and PATCH: the fields sent replace the stored ones,
// the others are kept, and the result is validated as a whole. The write
// is guarded by the version read, and retried when another writer raced
// it, so that no concurrent change is lost.
func (c *refCall) refChange(common []string, settings bool, empty, done string) error {
	if err := c.refPath(true); err != nil {
		return err
	}
	if err := c.authorize(ActionWrite, c.tenantID); err != nil {
		return err
	}
	kind, _, _ := strings.Cut(c.typ, ":")
	fields, err := c.refBody(kind, common, settings)
	if err != nil {
		return err
	}
	if len(fields) == 0 {
		return refDetail(http.StatusBadRequest, empty)
	}
	for range patchAttempts {
		cur, err := c.h.store.Get(c.r.Context(), c.tenantID, c.typ)
		if err != nil {
			return err
		}
		merged := cur.Object()
		for k, v := range fields {
			merged[k] = v
		}
		cfg, err := c.decodeConfig(merged)
		if err != nil {
			return err
		}
		if err := c.check(&cfg, false, &cur); err != nil {
			return err
		}
		stored, err := c.h.store.Replace(c.r.Context(), cfg, tenant.Condition{IfUpdatedAt: cur.UpdatedAt})
		switch {
		case err == nil:
			c.success(http.StatusOK, refConfig(stored), done)
			return nil
		case errors.Is(err, tenant.ErrConflict):
			continue
		default:
			return err
		}
	}
	return refDetail(http.StatusConflict, fmt.Sprintf("the config changed concurrently %d times while the update was applied; retry", patchAttempts))
}

func serveRefDelete(c *refCall) error {
	if err := c.refPath(true); err != nil {
		return err
	}
	if err := c.authorize(ActionWrite, c.tenantID); err != nil {
		return err
	}
	if err := c.h.store.Delete(c.r.Context(), c.tenantID, c.typ, tenant.Condition{}); err != nil {
		return err
	}
	c.success(http.StatusOK, nil, fmt.Sprintf("Delivery configuration '%s/%s' deleted successfully", c.tenantID, c.typ))
	return nil
}

// Statuses of the checks of the reference's validate report.
const (
	refCheckOK      = "ok"
	refCheckMissing = "missing"
	refCheckInvalid = "invalid"
)

func serveRefValidate(c *refCall) error {
	if err := c.refPath(true); err != nil {
		return err
	}
	if err := c.authorize(ActionRead, c.tenantID); err != nil {
		return err
	}
	cfg, err := c.h.store.Get(c.r.Context(), c.tenantID, c.typ)
	if err != nil {
		return err
	}
	c.success(http.StatusOK, referenceReport(c.h, cfg), "")
	return nil
}

// referenceReport is the validate report of the reference
// ({"tenant_id", "type", "valid", "checks": [{"field", "status",
// "message"}]}) made from this package's checks: a failed rule is
// "missing" when its field is empty and "invalid" otherwise.
func referenceReport(h *Handler, cfg tenant.DeliveryConfig) map[string]any {
	rep := validationReport(h.kinds, cfg, h.opts.Now())
	obj := cfg.Object()
	checks := make([]map[string]any, 0, len(rep.Checks))
	for _, ch := range rep.Checks {
		status := refCheckOK
		switch ch.Outcome {
		case OutcomeWarn:
			continue // enabled and expiry are state, not validity
		case OutcomeFail:
			status = refCheckInvalid
			if v, ok := obj[ch.Name]; !ok || v == "" {
				status = refCheckMissing
			}
		}
		msg := ch.Message
		if status == refCheckInvalid && !strings.Contains(strings.ToLower(msg), "invalid") {
			msg = "invalid: " + msg
		}
		checks = append(checks, map[string]any{"field": ch.Name, "status": status, "message": msg})
	}
	return map[string]any{"tenant_id": cfg.TenantID, "type": cfg.Type, "valid": rep.Valid, "checks": checks}
}
