package configapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/tenant"
)

// route is one endpoint: the ServeMux pattern it is registered under, what
// the OpenAPI document says about it, and the function serving it. The
// route table is the single source of both the mux and the document.
type route struct {
	method string
	path   string // ServeMux pattern path; also the OpenAPI path template
	opID   string
	sum    string
	desc   string
	public bool // no authentication, no body

	bodyType   string // media type of the request body; "" for none
	bodySchema string // component schema of the request body
	query      []queryParam
	ifMatch    bool // honours If-Match
	responses  []response
	problems   []int // problem statuses beyond the common ones
	serve      func(c *call) error
}

type queryParam struct {
	name, desc string
	schema     map[string]any
}

type response struct {
	status int
	desc   string
	schema string // component schema; "" for no content
	etag   bool   // carries an ETag header
}

const (
	pathTenantConfigs = "/tenants/{tenant_id}/delivery-configs"
	pathConfig        = "/tenants/{tenant_id}/delivery-configs/{type}"
)

// routes returns the route table.
func routes() []route {
	return []route{{
		method: http.MethodGet, path: "/healthz", opID: "getHealth", public: true,
		sum:       "Liveness check (no authentication)",
		responses: []response{{status: 200, desc: "The server is up.", schema: "Health"}},
		serve: func(c *call) error {
			c.json(http.StatusOK, map[string]string{"status": "ok"})
			return nil
		},
	}, {
		method: http.MethodGet, path: "/openapi.json", opID: "getOpenAPI", public: true,
		sum:       "This document (no authentication)",
		responses: []response{{status: 200, desc: "The OpenAPI 3.1 document of the API.", schema: "OpenAPI"}},
		serve: func(c *call) error {
			hd := c.w.Header()
			hd.Set("Content-Type", mediaJSON)
			hd.Set("X-Content-Type-Options", "nosniff")
			_, _ = c.w.Write(c.h.openapi)
			return nil
		},
	}, {
		method: http.MethodGet, path: "/delivery-configs", opID: "listAllConfigs",
		sum:  "List the delivery configs of every tenant, a page at a time",
		desc: "The order is the store's (tenant_id then type for memory and file stores, hash order for DynamoDB). Pass next_cursor back as cursor to get the next page; it is absent after the last. A page may hold fewer items than limit, even none, while more remain. Stored items that cannot be used are named in invalid_items. Authorized as action \"list\".",
		query: []queryParam{
			{name: "limit", desc: "Page size.", schema: map[string]any{"type": "integer", "minimum": 1}},
			{name: "cursor", desc: "The next_cursor of the previous page.", schema: map[string]any{"type": "string"}},
		},
		responses: []response{{status: 200, desc: "One page of configs.", schema: "ConfigPage"}},
		serve:     serveListAll,
	}, {
		method: http.MethodGet, path: pathTenantConfigs, opID: "listTenantConfigs",
		sum:       "List every delivery config of a tenant",
		desc:      "A tenant without configs has an empty list, not a 404. Stored items that cannot be read are named in invalid_items.",
		responses: []response{{status: 200, desc: "The tenant's configs.", schema: "TenantConfigs"}},
		serve:     serveListTenant,
	}, {
		method: http.MethodPost, path: pathTenantConfigs, opID: "createConfig",
		sum:      "Create a delivery config",
		desc:     "The body must carry type; tenant_id may be omitted and must otherwise match the path. created_at and updated_at are set by the server; values sent are ignored.",
		bodyType: mediaJSON, bodySchema: "DeliveryConfig",
		responses: []response{{status: 201, desc: "Created; Location names the new config.", schema: "DeliveryConfig", etag: true}},
		problems:  []int{409},
		serve:     serveCreate,
	}, {
		method: http.MethodGet, path: pathConfig, opID: "getConfig",
		sum:       "Get one delivery config",
		responses: []response{{status: 200, desc: "The config.", schema: "DeliveryConfig", etag: true}},
		problems:  []int{404},
		serve:     serveGet,
	}, {
		method: http.MethodPut, path: pathConfig, opID: "replaceConfig",
		sum:      "Replace a delivery config",
		desc:     "Full replacement: fields not sent are cleared. tenant_id and type may be omitted and must otherwise match the path. The config must exist (create it with POST).",
		bodyType: mediaJSON, bodySchema: "DeliveryConfig", ifMatch: true,
		responses: []response{{status: 200, desc: "The config as stored.", schema: "DeliveryConfig", etag: true}},
		problems:  []int{404},
		serve:     serveReplace,
	}, {
		method: http.MethodPatch, path: pathConfig, opID: "patchConfig",
		sum:      "Change some fields of a delivery config (JSON Merge Patch)",
		desc:     "RFC 7396: members set to null are removed, others replace the stored ones. The result is validated as a whole. Without If-Match the server retries a few times when other writers race it, then answers 409.",
		bodyType: mediaMergePatch, bodySchema: "DeliveryConfigPatch", ifMatch: true,
		responses: []response{{status: 200, desc: "The config as stored.", schema: "DeliveryConfig", etag: true}},
		problems:  []int{404, 409},
		serve:     servePatch,
	}, {
		method: http.MethodDelete, path: pathConfig, opID: "deleteConfig",
		sum:       "Delete a delivery config",
		ifMatch:   true,
		responses: []response{{status: 204, desc: "Deleted."}},
		problems:  []int{404},
		serve:     serveDelete,
	}, {
		method: http.MethodGet, path: pathConfig + "/validate", opID: "validateConfig",
		sum:       "Run every check on a stored delivery config",
		desc:      "Reports each check and its outcome: the validation rules the processor applies, plus whether the config is enabled and unexpired.",
		responses: []response{{status: 200, desc: "The checks and their outcomes.", schema: "ValidationReport"}},
		problems:  []int{404},
		serve:     serveValidate,
	}}
}

// tenantList is the body of GET /tenants/{tenant_id}/delivery-configs.
type tenantList struct {
	TenantID     string                  `json:"tenant_id"`
	Items        []tenant.DeliveryConfig `json:"items"`
	InvalidItems []invalidItem           `json:"invalid_items,omitempty"`
}

// invalidItem names a stored item that could not be used.
type invalidItem struct {
	TenantID string `json:"tenant_id"`
	Type     string `json:"type"`
	Message  string `json:"message"`
}

// page is the body of GET /delivery-configs.
type page struct {
	Items        []tenant.DeliveryConfig `json:"items"`
	NextCursor   string                  `json:"next_cursor,omitempty"`
	InvalidItems []invalidItem           `json:"invalid_items,omitempty"`
}

// invalidItems logs the items a store could not use and describes them for
// the caller: the validation problems of invalid items, nothing internal
// about undecodable ones.
func (c *call) invalidItems(ie *tenant.ItemsError) []invalidItem {
	var out []invalidItem
	for _, it := range ie.Items {
		c.h.log.LogAttrs(c.r.Context(), slog.LevelWarn, "configapi: stored delivery config cannot be used",
			slog.String("tenant_id", it.TenantID), slog.String("type", it.Type), slog.String("error", it.Err.Error()))
		msg := "the stored item cannot be read; the server log has the details"
		var ve *tenant.ValidationError
		if errors.As(it.Err, &ve) {
			msgs := make([]string, len(ve.Problems))
			for i, p := range ve.Problems {
				msgs[i] = p.Error()
			}
			msg = "the stored item is invalid: " + strings.Join(msgs, "; ")
		}
		out = append(out, invalidItem{TenantID: it.TenantID, Type: it.Type, Message: msg})
	}
	return out
}

// pathTenant validates and returns the tenant_id path value.
func (c *call) pathTenant() error {
	id := c.r.PathValue("tenant_id")
	var ve *tenant.ValidationError
	if err := tenant.ValidateTenantID(id); errors.As(err, &ve) {
		return newProblem(ProblemBadRequest, "the tenant id in the path is invalid", ve.Problems...)
	}
	c.tenantID = id
	return nil
}

// pathConfig validates and returns the tenant_id and type path values.
func (c *call) pathConfig() error {
	if err := c.pathTenant(); err != nil {
		return err
	}
	typ := c.r.PathValue("type")
	for _, p := range (tenant.DeliveryConfig{TenantID: c.tenantID, Type: typ}).CommonProblems() {
		if p.Field == tenant.FieldType {
			return newProblem(ProblemBadRequest, "the type in the path is invalid", p)
		}
	}
	c.typ = typ
	return nil
}

// location returns the path of the config created by a POST, below the
// path the client used (so that it holds under a mount prefix too).
func (c *call) location() string {
	path, _ := requestTarget(c.r)
	return strings.TrimSuffix(path, "/") + "/" + url.PathEscape(c.typ)
}

// config writes a single config with its ETag.
func (c *call) config(status int, cfg tenant.DeliveryConfig) {
	if cfg.UpdatedAt != "" {
		c.w.Header().Set("ETag", etag(cfg.UpdatedAt))
	}
	c.json(status, cfg)
}

func serveListAll(c *call) error {
	q := c.r.URL.Query()
	limit := c.h.opts.DefaultListLimit
	if s := q.Get("limit"); s != "" || q.Has("limit") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > c.h.opts.MaxListLimit {
			msg := fmt.Sprintf("must be an integer from 1 to %d", c.h.opts.MaxListLimit)
			return newProblem(ProblemBadRequest, "limit "+msg, tenant.FieldError{Field: "limit", Message: msg})
		}
		limit = n
	}
	if err := c.authorize(ActionList, ""); err != nil {
		return err
	}
	items, next, err := c.h.store.List(c.r.Context(), limit, q.Get("cursor"))
	items, invalid, err := c.listed(items, err)
	if err != nil {
		return err
	}
	c.json(http.StatusOK, page{Items: items, NextCursor: next, InvalidItems: invalid})
	return nil
}

// listed returns the configs of a listing (never nil) with the stored items
// it could not use, or the listing's error when it failed outright. Items
// that are enabled and unexpired but invalid (the processor would refuse
// them) are listed as invalid, with their problems; disabled and expired
// ones are listed as they are, so that a placeholder can be kept.
func (c *call) listed(items []tenant.DeliveryConfig, err error) ([]tenant.DeliveryConfig, []invalidItem, error) {
	var ie *tenant.ItemsError
	switch {
	case errors.As(err, &ie):
	case err != nil:
		return nil, nil, err
	default:
		ie = &tenant.ItemsError{}
	}
	good := make([]tenant.DeliveryConfig, 0, len(items))
	now := c.h.opts.Now()
	for _, cfg := range items {
		if cfg.IsEnabled() && !cfg.Expired(now) {
			if err := c.h.kinds.Validate(cfg); err != nil {
				ie.Items = append(ie.Items, &tenant.ItemError{TenantID: cfg.TenantID, Type: cfg.Type, Err: err})
				continue
			}
		}
		good = append(good, cfg)
	}
	return good, c.invalidItems(ie), nil
}

func serveListTenant(c *call) error {
	if err := c.pathTenant(); err != nil {
		return err
	}
	if err := c.authorize(ActionRead, c.tenantID); err != nil {
		return err
	}
	items, invalid, err := c.listed(c.h.store.Configs(c.r.Context(), c.tenantID))
	if err != nil {
		return err
	}
	c.json(http.StatusOK, tenantList{TenantID: c.tenantID, Items: items, InvalidItems: invalid})
	return nil
}

func serveGet(c *call) error {
	if err := c.pathConfig(); err != nil {
		return err
	}
	if err := c.authorize(ActionRead, c.tenantID); err != nil {
		return err
	}
	cfg, err := c.h.store.Get(c.r.Context(), c.tenantID, c.typ)
	if err != nil {
		return err
	}
	c.config(http.StatusOK, cfg)
	return nil
}

func serveCreate(c *call) error {
	if err := c.pathTenant(); err != nil {
		return err
	}
	if err := c.authorize(ActionWrite, c.tenantID); err != nil {
		return err
	}
	doc, err := decodeObject(c.body)
	if err != nil {
		return err
	}
	cfg, err := c.decodeConfig(doc)
	if err != nil {
		return err
	}
	c.typ = cfg.Type
	if err := c.check(&cfg, false, nil); err != nil {
		return err
	}
	stored, err := c.h.store.Create(c.r.Context(), cfg)
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", c.location())
	c.config(http.StatusCreated, stored)
	return nil
}

func serveReplace(c *call) error {
	if err := c.pathConfig(); err != nil {
		return err
	}
	if err := c.authorize(ActionWrite, c.tenantID); err != nil {
		return err
	}
	im, err := c.ifMatch()
	if err != nil {
		return err
	}
	doc, err := decodeObject(c.body)
	if err != nil {
		return err
	}
	cfg, err := c.decodeConfig(doc)
	if err != nil {
		return err
	}
	cur, err := c.h.store.Get(c.r.Context(), c.tenantID, c.typ)
	if err != nil {
		return err
	}
	if err := c.check(&cfg, true, &cur); err != nil {
		return err
	}
	cond, err := c.condition(im)
	if err != nil {
		return err
	}
	stored, err := c.h.store.Replace(c.r.Context(), cfg, cond)
	if err != nil {
		return err
	}
	c.config(http.StatusOK, stored)
	return nil
}

// patchAttempts is how often PATCH without If-Match re-reads and re-applies
// the patch when a concurrent write changed the config under it.
const patchAttempts = 3

func servePatch(c *call) error {
	if err := c.pathConfig(); err != nil {
		return err
	}
	if err := c.authorize(ActionWrite, c.tenantID); err != nil {
		return err
	}
	im, err := c.ifMatch()
	if err != nil {
		return err
	}
	patch, err := decodeObject(c.body)
	if err != nil {
		return err
	}
	if err := c.checkPatchFields(patch); err != nil {
		return err
	}
	for range patchAttempts {
		cur, err := c.h.store.Get(c.r.Context(), c.tenantID, c.typ)
		if err != nil {
			return err
		}
		if !im.matches(cur.UpdatedAt) {
			return tenant.ErrConflict
		}
		cfg, err := c.decodeConfig(mergePatch(configObject(cur), patch))
		if err != nil {
			return err
		}
		if err := c.check(&cfg, false, &cur); err != nil {
			return err
		}
		// The stored version read above guards the write, so that a
		// concurrent change is never silently overwritten.
		stored, err := c.h.store.Replace(c.r.Context(), cfg, tenant.Condition{IfUpdatedAt: cur.UpdatedAt})
		switch {
		case err == nil:
			c.config(http.StatusOK, stored)
			return nil
		case errors.Is(err, tenant.ErrConflict) && !im.present:
			continue
		default:
			return err
		}
	}
	return newProblem(ProblemConcurrentChange, fmt.Sprintf("the config changed concurrently %d times while the patch was applied; retry", patchAttempts))
}

// checkPatchFields refuses a patch naming fields that configs of the path's
// kind do not have, even to remove them: a misspelt field is an error, not
// a silent no-op.
func (c *call) checkPatchFields(patch map[string]any) error {
	kind, _, _ := strings.Cut(c.typ, ":")
	flat := tenant.HasFlatSettings(kind)
	var settings []string
	for name, v := range patch {
		switch {
		case tenant.IsCommonField(name):
		case name == tenant.FieldSettings && !flat:
			if m, ok := v.(map[string]any); ok {
				for k := range m {
					settings = append(settings, k)
				}
			}
		default:
			if !flat {
				return validationProblem([]tenant.FieldError{{Field: name,
					Message: fmt.Sprintf("is not a field of delivery configs; the settings of kind %q go in %q", kind, tenant.FieldSettings)}})
			}
			settings = append(settings, name)
		}
	}
	slices.Sort(settings)
	if problems := c.h.kinds.UnknownSettings(kind, settings); len(problems) > 0 {
		return validationProblem(problems)
	}
	return nil
}

func serveDelete(c *call) error {
	if err := c.pathConfig(); err != nil {
		return err
	}
	if err := c.authorize(ActionWrite, c.tenantID); err != nil {
		return err
	}
	im, err := c.ifMatch()
	if err != nil {
		return err
	}
	cond, err := c.condition(im)
	if err != nil {
		return err
	}
	if err := c.h.store.Delete(c.r.Context(), c.tenantID, c.typ, cond); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func serveValidate(c *call) error {
	if err := c.pathConfig(); err != nil {
		return err
	}
	if err := c.authorize(ActionRead, c.tenantID); err != nil {
		return err
	}
	cfg, err := c.h.store.Get(c.r.Context(), c.tenantID, c.typ)
	if err != nil {
		return err
	}
	c.json(http.StatusOK, validationReport(c.h.kinds, cfg, c.h.opts.Now()))
	return nil
}

// check makes cfg agree with the path and validates it, returning a 422
// problem listing every invalid field. With fill, an empty tenant_id or
// type takes the path's value (PUT); without, only tenant_id does (POST,
// whose path has no type, and PATCH, where an empty value was patched to
// null). Timestamps are the store's to set. stored is the config being
// changed (nil for POST): settings only the operator sets keep its values.
// With identities, the config must reach only the tenant's own accounts.
func (c *call) check(cfg *tenant.DeliveryConfig, fill bool, stored *tenant.DeliveryConfig) error {
	cfg.CreatedAt, cfg.UpdatedAt = "", ""
	var mismatch []tenant.FieldError
	if cfg.TenantID == "" && c.r.Method != http.MethodPatch {
		cfg.TenantID = c.tenantID
	}
	if cfg.TenantID != "" && cfg.TenantID != c.tenantID {
		mismatch = append(mismatch, tenant.FieldError{Field: "tenant_id", Message: fmt.Sprintf("%q does not match the tenant id in the path (%q)", cfg.TenantID, c.tenantID)})
	}
	if fill && cfg.Type == "" {
		cfg.Type = c.typ
	}
	if cfg.Type != "" && cfg.Type != c.typ {
		mismatch = append(mismatch, tenant.FieldError{Field: "type", Message: fmt.Sprintf("%q does not match the type in the path (%q)", cfg.Type, c.typ)})
	}
	problems := c.operatorFields(cfg, fill, stored)
	var ve *tenant.ValidationError
	settings, err := c.h.kinds.Settings(*cfg)
	if errors.As(err, &ve) {
		problems = append(problems, ve.Problems...)
	} else if err != nil {
		return err
	}
	problems = append(problems, mismatch...)
	if len(problems) == 0 && c.h.opts.Identities != nil {
		id, err := c.h.opts.Identities.Identity(c.r.Context(), c.tenantID)
		switch {
		case errors.Is(err, tenant.ErrNoIdentity):
			problems = append(problems, tenant.FieldError{Field: tenant.FieldTenantID,
				Message: fmt.Sprintf("tenant %q has no identity record yet: the platform operator must record its accounts before it can configure destinations", c.tenantID)})
		case err != nil:
			return fmt.Errorf("looking up the identity of tenant %q: %w", c.tenantID, err)
		default:
			if errors.As(c.h.kinds.Bind(*cfg, settings, id), &ve) {
				problems = append(problems, ve.Problems...)
			}
		}
	}
	if len(problems) > 0 {
		return validationProblem(problems)
	}
	return nil
}

// operatorFields keeps the settings only the platform operator sets as
// stored: a PUT that leaves one out keeps the stored value, and any request
// that sets one to another value, or a PATCH that removes one, is refused.
func (c *call) operatorFields(cfg *tenant.DeliveryConfig, fill bool, stored *tenant.DeliveryConfig) []tenant.FieldError {
	var problems []tenant.FieldError
	kind := cfg.Kind()
	for _, f := range c.h.kinds.Fields(kind) {
		if !f.Operator {
			continue
		}
		var was any
		if stored != nil && stored.Kind() == kind {
			was = stored.Settings[f.Name]
		}
		now, given := cfg.Settings[f.Name]
		switch {
		case !given && was != nil && fill:
			if cfg.Settings == nil {
				cfg.Settings = map[string]any{}
			}
			cfg.Settings[f.Name] = was
		case !given && was != nil, given && !reflect.DeepEqual(now, was):
			problems = append(problems, tenant.FieldError{Field: deliver.SettingsField(kind, f.Name),
				Message: "is set by the platform operator; it cannot be written through this API"})
		}
	}
	return problems
}
