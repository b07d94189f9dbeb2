package configapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
)

const acmeS3 = "/tenants/acme/delivery-configs/s3"

// seed creates acme's s3 config and returns its ETag.
func (e *env) seed() string {
	e.t.Helper()
	r := e.do(request{method: http.MethodPost, path: "/tenants/acme/delivery-configs", body: mustJSON(e.t, s3Config("acme"))})
	require.Equal(e.t, http.StatusCreated, r.status, "%s", r.body)
	require.NotEmpty(e.t, r.header.Get("ETag"))
	return r.header.Get("ETag")
}

func TestRawEndpoints(t *testing.T) {
	e := newEnv(t)
	r := e.do(request{method: http.MethodPost, path: "/tenants/acme/delivery-configs",
		body: `{"type":"s3","bucket_name":"acme-logs","created_at":"1999-01-01T00:00:00Z","updated_at":"x"}`})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	assert.Equal(t, "/tenants/acme/delivery-configs/s3", r.header.Get("Location"))
	assert.Equal(t, mediaJSON, r.header.Get("Content-Type"))
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	var created tenant.DeliveryConfig
	require.NoError(t, json.Unmarshal(r.body, &created))
	assert.Equal(t, "acme", created.TenantID, "tenant_id comes from the path")
	assert.NotEqual(t, "1999-01-01T00:00:00Z", created.CreatedAt, "client timestamps are ignored")
	assert.Equal(t, etag(created.UpdatedAt), r.header.Get("ETag"))

	get := e.do(request{method: http.MethodGet, path: acmeS3})
	require.Equal(t, http.StatusOK, get.status)
	assert.Equal(t, r.header.Get("ETag"), get.header.Get("ETag"))

	// PUT may omit tenant_id and type.
	put := e.do(request{method: http.MethodPut, path: acmeS3, body: `{"bucket_name":"acme-new"}`,
		header: map[string]string{"If-Match": get.header.Get("ETag")}})
	require.Equal(t, http.StatusOK, put.status, "%s", put.body)
	assert.NotEqual(t, get.header.Get("ETag"), put.header.Get("ETag"))

	// If-Match lists and "*" are honoured.
	patch := e.do(request{method: http.MethodPatch, path: acmeS3, body: `{"bucket_prefix":"logs/"}`,
		header: map[string]string{"If-Match": `"stale", ` + put.header.Get("ETag")}})
	require.Equal(t, http.StatusOK, patch.status, "%s", patch.body)
	star := e.do(request{method: http.MethodPut, path: acmeS3, body: `{"bucket_name":"acme-star"}`,
		header: map[string]string{"If-Match": "*"}})
	require.Equal(t, http.StatusOK, star.status, "%s", star.body)

	health := e.do(request{method: http.MethodGet, path: "/healthz", unsigned: true})
	assert.Equal(t, http.StatusOK, health.status)
	assert.JSONEq(t, `{"status":"ok"}`, string(health.body))

	del := e.do(request{method: http.MethodDelete, path: acmeS3, header: map[string]string{"If-Match": star.header.Get("ETag")}})
	assert.Equal(t, http.StatusNoContent, del.status)
	assert.Empty(t, del.body)
}

func TestErrorPaths(t *testing.T) {
	valid := mustJSON(t, s3Config("acme"))
	tests := []struct {
		name    string
		req     request
		seed    bool
		opts    func(*Options)
		status  int
		kind    string
		fields  []string // Problem.Errors fields, in order
		allow   string
		details string // substring of Detail
	}{
		{name: "malformed JSON", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":`},
			status: 400, kind: ProblemBadRequest, details: "not valid JSON"},
		{name: "syntax error", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type" "s3"}`},
			status: 400, kind: ProblemBadRequest, details: "at byte"},
		{name: "unknown field", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":"s3","bucket_nme":"x","zzz":1}`},
			status: 422, kind: ProblemValidation, fields: []string{"bucket_nme", "zzz", "bucket_name"}},
		{name: "repeated field", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":"s3","bucket_name":"a-logs","bucket_name":"b-logs"}`},
			status: 400, kind: ProblemBadRequest, fields: []string{"bucket_name"}},
		{name: "invalid UTF-8", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: "{\"type\":\"s3\",\"bucket_name\":\"\xff\"}"},
			status: 400, kind: ProblemBadRequest, details: "UTF-8"},
		{name: "trailing garbage", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: valid + `]`},
			status: 400, kind: ProblemBadRequest, details: "after the JSON object"},
		{name: "field in other case", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":"s3","Bucket_Name":"acme-logs"}`},
			status: 422, kind: ProblemValidation, fields: []string{"Bucket_Name", "bucket_name"}},
		{name: "trailing data", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: valid + `{}`},
			status: 400, kind: ProblemBadRequest, details: "after the JSON object"},
		{name: "not an object", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `[1,2]`},
			status: 400, kind: ProblemBadRequest, details: "must be a JSON object"},
		{name: "empty body", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: " ", header: map[string]string{"Content-Type": mediaJSON}},
			status: 400, kind: ProblemBadRequest, details: "empty"},
		{name: "wrong JSON type", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":"s3","bucket_name":"acme-logs","ttl":"soon"}`},
			status: 422, kind: ProblemValidation, fields: []string{"ttl"}},
		{name: "fractional ttl", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":"s3","bucket_name":"acme-logs","ttl":1.5}`},
			status: 422, kind: ProblemValidation, fields: []string{"ttl"}},
		{name: "setting of the wrong JSON type", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":"s3","bucket_name":["acme-logs"]}`},
			status: 422, kind: ProblemValidation, fields: []string{"bucket_name"}},
		{name: "unknown kind", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":"cloudwach","log_group_name":"/x"}`},
			status: 422, kind: ProblemValidation, fields: []string{"log_group_name", "type"}},
		{name: "field of another kind", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":"s3","bucket_name":"acme-logs","log_group_name":"/x"}`},
			status: 422, kind: ProblemValidation, fields: []string{"log_group_name"}},
		{name: "unknown group", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":"s3","bucket_name":"acme-logs","groups":["Authentcation"]}`},
			status: 422, kind: ProblemValidation, fields: []string{"groups[0]"}},
		{name: "setting of a nested kind at the top", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":"webhook","url":"https://x.example"}`},
			status: 422, kind: ProblemValidation, fields: []string{"url"}},
		{name: "invalid match rule", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":"s3","bucket_name":"acme-logs","match":[{"select":{"labels":{"app":"-x"}},"exclude":{}}]}`},
			status: 422, kind: ProblemValidation, fields: []string{"match[0]"}},
		{name: "bad path tenant", req: request{method: "GET", path: "/tenants/-acme/delivery-configs"},
			status: 400, kind: ProblemBadRequest, fields: []string{"tenant_id"}},
		{name: "bad path type", req: request{method: "GET", path: "/tenants/acme/delivery-configs/S3"},
			status: 400, kind: ProblemBadRequest, fields: []string{"type"}},
		{name: "encoded slash in tenant", req: request{method: "GET", path: "/tenants/a%2Fb/delivery-configs"},
			status: 400, kind: ProblemBadRequest, fields: []string{"tenant_id"}},
		{name: "bad limit", req: request{method: "GET", path: "/delivery-configs?limit=0"},
			status: 400, kind: ProblemBadRequest, fields: []string{"limit"}},
		{name: "limit too large", req: request{method: "GET", path: "/delivery-configs?limit=1001"},
			status: 400, kind: ProblemBadRequest, fields: []string{"limit"}},
		{name: "bad cursor", req: request{method: "GET", path: "/delivery-configs?cursor=%21%21"},
			status: 400, kind: ProblemInvalidCursor, fields: []string{"cursor"}},
		{name: "body too large", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"type":"s3","desired_logs":["` + strings.Repeat("a", 300<<10) + `"]}`},
			status: 413, kind: ProblemBodyTooLarge},
		{name: "wrong content type", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: valid, header: map[string]string{"Content-Type": "text/plain"}},
			status: 415, kind: ProblemUnsupportedMediaType},
		{name: "wrong charset", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: valid, header: map[string]string{"Content-Type": "application/json; charset=latin1"}},
			status: 415, kind: ProblemUnsupportedMediaType},
		{name: "PATCH as plain JSON", seed: true, req: request{method: "PATCH", path: acmeS3, body: `{}`, header: map[string]string{"Content-Type": mediaJSON}},
			status: 415, kind: ProblemUnsupportedMediaType},
		{name: "every invalid field", req: request{method: "POST", path: "/tenants/acme/delivery-configs",
			body: `{"type":"cloudwatch","target_region":"moon","desired_logs":["ok","a/b"],"log_group_name":"aws/x","ttl":-1}`},
			status: 422, kind: ProblemValidation, fields: []string{"desired_logs[1]", "target_region", "ttl", "log_distribution_role_arn", "log_group_name"}},
		{name: "POST without type", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: `{"bucket_name":"acme-logs"}`},
			status: 422, kind: ProblemValidation, fields: []string{"type"}},
		{name: "POST body for another tenant", req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: mustJSON(t, s3Config("globex"))},
			status: 422, kind: ProblemValidation, fields: []string{"tenant_id"}},
		{name: "PUT type mismatch", seed: true, req: request{method: "PUT", path: acmeS3, body: `{"type":"s3:other","bucket_name":"acme-logs"}`},
			status: 422, kind: ProblemValidation, fields: []string{"type"}},
		{name: "PATCH removes a required field", seed: true, req: request{method: "PATCH", path: acmeS3, body: `{"bucket_name":null}`},
			status: 422, kind: ProblemValidation, fields: []string{"bucket_name"}},
		{name: "PATCH removes the type", seed: true, req: request{method: "PATCH", path: acmeS3, body: `{"type":null}`},
			status: 422, kind: ProblemValidation, fields: []string{"type"}},
		{name: "PATCH moves tenant", seed: true, req: request{method: "PATCH", path: acmeS3, body: `{"tenant_id":"globex"}`},
			status: 422, kind: ProblemValidation, fields: []string{"tenant_id"}},
		{name: "PATCH unknown field", seed: true, req: request{method: "PATCH", path: acmeS3, body: `{"nope":null}`},
			status: 422, kind: ProblemValidation, fields: []string{"nope"}},
		{name: "PATCH field of another kind", seed: true, req: request{method: "PATCH", path: acmeS3, body: `{"log_group_name":"/x"}`},
			status: 422, kind: ProblemValidation, fields: []string{"log_group_name"}},
		{name: "PATCH wrong type", seed: true, req: request{method: "PATCH", path: acmeS3, body: `{"enabled":"no"}`},
			status: 422, kind: ProblemValidation, fields: []string{"enabled"}},
		{name: "get missing", req: request{method: "GET", path: acmeS3},
			status: 404, kind: ProblemNotFound, details: `tenant "acme" has no delivery config of type "s3"`},
		{name: "validate missing", req: request{method: "GET", path: acmeS3 + "/validate"}, status: 404, kind: ProblemNotFound},
		{name: "put missing", req: request{method: "PUT", path: acmeS3, body: valid}, status: 404, kind: ProblemNotFound},
		{name: "put missing with If-Match", req: request{method: "PUT", path: acmeS3, body: valid, header: map[string]string{"If-Match": `"x", "y"`}},
			status: 404, kind: ProblemNotFound},
		{name: "patch missing", req: request{method: "PATCH", path: acmeS3, body: `{}`}, status: 404, kind: ProblemNotFound},
		{name: "delete missing", req: request{method: "DELETE", path: acmeS3}, status: 404, kind: ProblemNotFound},
		{name: "unknown path", req: request{method: "GET", path: "/tenants"}, status: 404, kind: ProblemNotFound},
		{name: "unknown path unsigned", req: request{method: "GET", path: "/nope", unsigned: true}, status: 404, kind: ProblemNotFound},
		{name: "method not allowed", req: request{method: "POST", path: acmeS3, body: valid},
			status: 405, kind: ProblemMethodNotAllowed, allow: "DELETE, GET, HEAD, PATCH, PUT"},
		{name: "create existing", seed: true, req: request{method: "POST", path: "/tenants/acme/delivery-configs", body: valid},
			status: 409, kind: ProblemExists},
		{name: "stale If-Match on PUT", seed: true, req: request{method: "PUT", path: acmeS3, body: valid, header: map[string]string{"If-Match": etag("2001-01-01T00:00:00Z")}},
			status: 412, kind: ProblemPreconditionFailed},
		{name: "stale If-Match on PATCH", seed: true, req: request{method: "PATCH", path: acmeS3, body: `{}`, header: map[string]string{"If-Match": etag("2001-01-01T00:00:00Z")}},
			status: 412, kind: ProblemPreconditionFailed},
		{name: "stale If-Match on DELETE", seed: true, req: request{method: "DELETE", path: acmeS3, header: map[string]string{"If-Match": etag("2001-01-01T00:00:00Z")}},
			status: 412, kind: ProblemPreconditionFailed},
		{name: "empty entity tag", seed: true, req: request{method: "DELETE", path: acmeS3, header: map[string]string{"If-Match": `""`}},
			status: 412, kind: ProblemPreconditionFailed},
		{name: "weak entity tag", seed: true, req: request{method: "DELETE", path: acmeS3, header: map[string]string{"If-Match": "W/" + etag("x")}},
			status: 412, kind: ProblemPreconditionFailed},
		{name: "If-Match required", seed: true, opts: func(o *Options) { o.RequireIfMatch = true },
			req:    request{method: "PUT", path: acmeS3, body: valid},
			status: 428, kind: ProblemPreconditionRequired},
		{name: "If-Match required on DELETE", seed: true, opts: func(o *Options) { o.RequireIfMatch = true },
			req:    request{method: "DELETE", path: acmeS3},
			status: 428, kind: ProblemPreconditionRequired},
		{name: "If-Match required on PATCH", seed: true, opts: func(o *Options) { o.RequireIfMatch = true },
			req:    request{method: "PATCH", path: acmeS3, body: `{}`},
			status: 428, kind: ProblemPreconditionRequired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []envOption
			if tc.opts != nil {
				opts = append(opts, withOptions(tc.opts))
			}
			e := newEnv(t, opts...)
			var before []tenant.DeliveryConfig
			if tc.seed {
				e.seed()
				before = e.mem.All()
			}
			r := e.do(tc.req)
			require.Equal(t, tc.status, r.status, "%s", r.body)
			p := r.problem(t)
			assert.Equal(t, ProblemTypePrefix+tc.kind, p.Type)
			var fields []string
			for _, fe := range p.Errors {
				fields = append(fields, fe.Field)
				assert.NotEmpty(t, fe.Message)
			}
			assert.Equal(t, tc.fields, fields)
			if tc.allow != "" {
				assert.Equal(t, tc.allow, r.header.Get("Allow"))
			}
			assert.Contains(t, p.Detail, tc.details)
			assert.Empty(t, r.header.Get("ETag"), "errors carry no ETag")
			if tc.seed {
				assert.Equal(t, before, e.mem.All(), "a failed request changes nothing")
			}
		})
	}
}

func TestUnauthorizedHasChallenge(t *testing.T) {
	e := newEnv(t)
	r := e.do(request{method: "GET", path: acmeS3, unsigned: true})
	require.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, Scheme, r.header.Get("WWW-Authenticate"))
	p := r.problem(t)
	assert.Equal(t, ProblemTypePrefix+ProblemUnauthorized, p.Type)
}

func TestUnsupportedMediaTypeAdvertisesMergePatch(t *testing.T) {
	e := newEnv(t)
	e.seed()
	r := e.do(request{method: "PATCH", path: acmeS3, body: `{}`, header: map[string]string{"Content-Type": mediaJSON}})
	require.Equal(t, http.StatusUnsupportedMediaType, r.status)
	assert.Equal(t, mediaMergePatch, r.header.Get("Accept-Patch"))
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	e := newEnv(t, withStore(failingStore{}))
	for _, req := range []request{
		{method: "GET", path: "/tenants/acme/delivery-configs"},
		{method: "GET", path: acmeS3},
		{method: "GET", path: "/delivery-configs"},
		{method: "POST", path: "/tenants/acme/delivery-configs", body: mustJSON(t, s3Config("acme"))},
		{method: "PUT", path: acmeS3, body: mustJSON(t, s3Config("acme"))},
		{method: "PATCH", path: acmeS3, body: `{}`},
		{method: "DELETE", path: acmeS3},
		{method: "GET", path: acmeS3 + "/validate"},
	} {
		r := e.do(req)
		require.Equal(t, http.StatusInternalServerError, r.status, "%s %s", req.method, req.path)
		p := r.problem(t)
		assert.Equal(t, ProblemTypePrefix+ProblemInternal, p.Type)
		assert.NotContains(t, string(r.body), "secret-internal-detail")
		assert.NotContains(t, string(r.body), "10.1.2.3")
		ref := strings.TrimSuffix(strings.TrimPrefix(p.Detail, "internal error (reference "), "); the server log has the details")
		assert.Len(t, ref, 16, "detail names a reference: %q", p.Detail)
		assert.Contains(t, e.logs.String(), "reference="+ref, "the log ties the reference to the error")
	}
	assert.Contains(t, e.logs.String(), "secret-internal-detail", "the operator sees the cause")
}

func TestPanicsBecome500(t *testing.T) {
	e := newEnv(t, withStore(panicStore{}))
	r := e.do(request{method: "GET", path: acmeS3})
	require.Equal(t, http.StatusInternalServerError, r.status)
	r.problem(t)
	assert.NotContains(t, string(r.body), "boom")
	assert.Contains(t, e.logs.String(), "boom")
}

type panicStore struct{ failingStore }

func (panicStore) Get(context.Context, string, string) (tenant.DeliveryConfig, error) {
	panic("boom")
}

func TestAuthorization(t *testing.T) {
	type decision struct {
		principal, tenant string
		action            Action
	}
	var mu sync.Mutex
	var asked []decision
	// k1 may read and write acme only; k2 may also list everything.
	authz := AuthorizerFunc(func(ctx context.Context, p Principal, a Action, tenantID string) error {
		mu.Lock()
		asked = append(asked, decision{p.ID, tenantID, a})
		mu.Unlock()
		if got, ok := PrincipalFromContext(ctx); !ok || got != p {
			return ErrForbidden
		}
		if p.ID == "k2" || tenantID == "acme" {
			return nil
		}
		return ErrForbidden
	})
	e := newEnv(t, withOptions(func(o *Options) { o.Authorizer = authz }))
	e.seed()

	for _, tc := range []struct {
		req    request
		status int
		want   decision
	}{
		{request{method: "GET", path: acmeS3}, 200, decision{"k1", "acme", ActionRead}},
		{request{method: "GET", path: acmeS3 + "/validate"}, 200, decision{"k1", "acme", ActionRead}},
		{request{method: "GET", path: "/tenants/globex/delivery-configs"}, 403, decision{"k1", "globex", ActionRead}},
		{request{method: "POST", path: "/tenants/globex/delivery-configs", body: mustJSON(t, s3Config("globex"))}, 403, decision{"k1", "globex", ActionWrite}},
		{request{method: "PUT", path: "/tenants/globex/delivery-configs/s3", body: `{"bucket_name":"x"}`}, 403, decision{"k1", "globex", ActionWrite}},
		{request{method: "PATCH", path: "/tenants/globex/delivery-configs/s3", body: `{}`}, 403, decision{"k1", "globex", ActionWrite}},
		{request{method: "DELETE", path: "/tenants/globex/delivery-configs/s3"}, 403, decision{"k1", "globex", ActionWrite}},
		{request{method: "GET", path: "/delivery-configs"}, 403, decision{"k1", "", ActionList}},
		{request{method: "GET", path: "/delivery-configs", keyID: "k2"}, 200, decision{"k2", "", ActionList}},
	} {
		mu.Lock()
		asked = nil
		mu.Unlock()
		r := e.do(tc.req)
		require.Equal(t, tc.status, r.status, "%s %s: %s", tc.req.method, tc.req.path, r.body)
		if tc.status == 403 {
			p := r.problem(t)
			assert.Equal(t, ProblemTypePrefix+ProblemForbidden, p.Type)
		}
		mu.Lock()
		assert.Equal(t, []decision{tc.want}, asked, "%s %s", tc.req.method, tc.req.path)
		mu.Unlock()
	}
	assert.Len(t, e.mem.All(), 1, "refused writes changed nothing")
}

func TestListTenantReportsUnreadableItems(t *testing.T) {
	e := newEnv(t, withStore(brokenItemStore{}))
	r := e.do(request{method: "GET", path: "/tenants/acme/delivery-configs"})
	require.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"tenant_id":"acme","items":[{"tenant_id":"acme","type":"s3","bucket_name":"acme-logs"}],
		"invalid_items":[{"tenant_id":"acme","type":"s3:broken","message":"the stored item cannot be read; the server log has the details"},
		{"tenant_id":"acme","type":"cloudwatch","message":"the stored item is invalid: log_group_name: is required for cloudwatch destinations"}]}`, string(r.body))
	assert.Contains(t, e.logs.String(), "bucket_name: expected string")

	items, err := e.client.Configs(ctx(t), "acme")
	require.Len(t, items, 1, "the readable configs are still returned")
	var ie *tenant.ItemsError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "s3:broken", ie.Items[0].Type)

	// Lists across tenants report them too, next to the page and its cursor.
	r = e.do(request{method: "GET", path: "/delivery-configs?limit=1"})
	require.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"items":[{"tenant_id":"acme","type":"s3","bucket_name":"acme-logs"}],"next_cursor":"more",
		"invalid_items":[{"tenant_id":"acme","type":"s3:broken","message":"the stored item cannot be read; the server log has the details"},
		{"tenant_id":"acme","type":"cloudwatch","message":"the stored item is invalid: log_group_name: is required for cloudwatch destinations"}]}`, string(r.body))
	items, next, err := e.client.List(ctx(t), 1, "")
	assert.Len(t, items, 1)
	assert.Equal(t, "more", next)
	require.ErrorAs(t, err, &ie)
	assert.Len(t, ie.Items, 2)
}

type brokenItemStore struct{ failingStore }

func brokenItems() *tenant.ItemsError {
	return &tenant.ItemsError{Items: []*tenant.ItemError{
		{TenantID: "acme", Type: "s3:broken", Err: errString("bucket_name: expected string")},
		{TenantID: "acme", Type: "cloudwatch", Err: testKinds().Validate(tenant.DeliveryConfig{TenantID: "acme", Type: "cloudwatch",
			Settings: map[string]any{"log_distribution_role_arn": "arn:aws:iam::222222222222:role/R"},
		})},
	}}
}

func (brokenItemStore) Configs(context.Context, string) ([]tenant.DeliveryConfig, error) {
	return []tenant.DeliveryConfig{{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-logs"}}}, brokenItems()
}

func (brokenItemStore) List(context.Context, int, string) ([]tenant.DeliveryConfig, string, error) {
	return []tenant.DeliveryConfig{{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-logs"}}}, "more", brokenItems()
}

type errString string

func (e errString) Error() string { return string(e) }

// A PATCH without If-Match retries when a concurrent writer wins, and never
// overwrites that writer's change.
func TestPatchRetriesConcurrentChanges(t *testing.T) {
	race := &racingStore{}
	e := newEnv(t, withStore(race))
	race.Store = e.mem
	_, err := e.mem.Create(ctx(t), s3Config("acme"))
	require.NoError(t, err)

	race.interfere = 1
	got, err := e.client.Patch(ctx(t), "acme", "s3", map[string]any{"enabled": false}, tenant.Condition{})
	require.NoError(t, err)
	assert.Equal(t, []string{"concurrent-1"}, got.DesiredLogs, "the concurrent change is kept")
	assert.False(t, got.IsEnabled(), "and the patch applied on top")

	race.interfere = patchAttempts
	_, err = e.client.Patch(ctx(t), "acme", "s3", map[string]any{"enabled": true}, tenant.Condition{})
	var p *Problem
	require.ErrorAs(t, err, &p)
	assert.Equal(t, http.StatusConflict, p.Status)
	assert.Equal(t, ProblemConcurrentChange, p.Kind())
	assert.ErrorIs(t, err, tenant.ErrConflict)

	// With If-Match, a lost race is the client's 412.
	cur, err := e.mem.Get(ctx(t), "acme", "s3")
	require.NoError(t, err)
	race.interfere = 1
	_, err = e.client.Patch(ctx(t), "acme", "s3", map[string]any{"enabled": true}, tenant.Condition{IfUpdatedAt: cur.UpdatedAt})
	require.ErrorAs(t, err, &p)
	assert.Equal(t, http.StatusPreconditionFailed, p.Status)
}

// racingStore changes the config between the handler's Get and its Replace,
// interfere times.
type racingStore struct {
	tenant.Store
	mu        sync.Mutex
	interfere int
	n         int
}

func (s *racingStore) Get(ctx context.Context, tenantID, typ string) (tenant.DeliveryConfig, error) {
	cfg, err := s.Store.Get(ctx, tenantID, typ)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.interfere > 0 {
		s.interfere--
		s.n++
		other := cfg
		other.DesiredLogs = []string{"concurrent-" + string(rune('0'+s.n))}
		if _, err := s.Store.Replace(ctx, other, tenant.Condition{}); err != nil {
			return cfg, err
		}
	}
	return cfg, err
}

func TestValidateReportsEveryCheck(t *testing.T) {
	e := newEnv(t)
	bad := tenant.DeliveryConfig{TenantID: "acme", Type: "s3", DesiredLogs: []string{"ok", ""}, TTL: 1, Settings: map[string]any{"bucket_name": "xn--bad"}}
	_, err := e.mem.Create(ctx(t), bad) // stores do not validate; the API's readers must cope
	require.NoError(t, err)
	rep, err := e.client.Validate(ctx(t), "acme", "s3")
	require.NoError(t, err)
	assert.False(t, rep.Valid)
	assert.False(t, rep.Active)
	outcomes := map[string]string{}
	for _, c := range rep.Checks {
		outcomes[c.Name] = c.Outcome
		assert.NotEmpty(t, c.Message, c.Name)
	}
	assert.Equal(t, map[string]string{
		"tenant_id": "pass", "type": "pass", "desired_logs[1]": "fail", "groups": "pass", "match": "pass",
		"target_region": "pass", "ttl": "pass",
		"bucket_name": "fail", "bucket_prefix": "pass", "bucket_owner": "pass", "kms_key_id": "pass",
		"enabled": "pass", "expiry": "warn",
	}, outcomes, "the common checks, then exactly the checks of the kind's settings")

	// A nested kind's settings are checked under settings.; a misspelt
	// group and a kind nobody registered fail, naming what is known.
	hook := tenant.DeliveryConfig{TenantID: "acme", Type: "webhook", Groups: []string{"Authentcation"},
		Settings: map[string]any{"gzip": "yes"}}
	_, err = e.mem.Create(ctx(t), hook)
	require.NoError(t, err)
	rep, err = e.client.Validate(ctx(t), "acme", "webhook")
	require.NoError(t, err)
	assert.False(t, rep.Valid)
	outcomes = map[string]string{}
	for _, c := range rep.Checks {
		outcomes[c.Name] = c.Outcome
	}
	assert.Equal(t, "fail", outcomes["settings.url"])
	assert.Equal(t, "fail", outcomes["settings.gzip"])
	assert.Equal(t, "pass", outcomes["settings.headers"])
	assert.Equal(t, "fail", outcomes["groups[0]"])

	typo := tenant.DeliveryConfig{TenantID: "acme", Type: "cloudwach"}
	_, err = e.mem.Create(ctx(t), typo)
	require.NoError(t, err)
	rep, err = e.client.Validate(ctx(t), "acme", "cloudwach")
	require.NoError(t, err)
	assert.False(t, rep.Valid, "an unknown kind is not valid: the processor would fail every object")
	assert.Contains(t, rep.Checks, Check{Name: "type", Outcome: OutcomeFail,
		Message: `"cloudwach" is not a known destination kind; known kinds: "cloudwatch", "hook", "s3", "webhook"`})
}

func TestNewRejectsMissingArguments(t *testing.T) {
	_, err := New(nil, testKinds(), NewHMAC(testKeys))
	assert.Error(t, err)
	e := newEnv(t)
	_, err = New(e.mem, testKinds(), nil)
	assert.Error(t, err)
}

func TestMergePatchRFC7396Examples(t *testing.T) {
	// RFC 7396, Appendix A.
	for _, tc := range [][3]string{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	} {
		var target, patch any
		require.NoError(t, json.Unmarshal([]byte(tc[0]), &target))
		require.NoError(t, json.Unmarshal([]byte(tc[1]), &patch))
		got, err := json.Marshal(mergePatch(target, patch))
		require.NoError(t, err)
		assert.JSONEq(t, tc[2], string(got), "%s + %s", tc[0], tc[1])
	}
}

// A store call cut short by the request's deadline is a 503 the client may
// retry, not a 500.
func TestDeadlineIsUnavailable(t *testing.T) {
	e := newEnv(t, withStore(blockingStore{}))
	req := httptest.NewRequest(http.MethodGet, acmeS3, nil)
	require.NoError(t, SignRequest(req, nil, "k1", testKeys["k1"], e.clock.Now(), e.nonce()))
	dctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req.WithContext(dctx))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	r := rawResponse{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	assert.Equal(t, ProblemTypePrefix+ProblemUnavailable, r.problem(t).Type)
}

// blockingStore's Get waits for its context to end.
type blockingStore struct{ failingStore }

func (blockingStore) Get(ctx context.Context, _, _ string) (tenant.DeliveryConfig, error) {
	<-ctx.Done()
	return tenant.DeliveryConfig{}, ctx.Err()
}
