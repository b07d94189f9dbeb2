package configapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Info    struct{ Title, Version string }       `json:"info"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

type openAPIParam struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

type openAPIOperation struct {
	OperationID string         `json:"operationId"`
	Security    *[]any         `json:"security"`
	Parameters  []openAPIParam `json:"parameters"`
	RequestBody *struct {
		Content map[string]any `json:"content"`
	} `json:"requestBody"`
	Responses map[string]json.RawMessage `json:"responses"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// The document served at /openapi.json parses and lists exactly the routes
// the handler's mux serves, no more, no less.
func TestOpenAPIListsExactlyTheServedRoutes(t *testing.T) {
	e := newEnv(t, withOptions(func(o *Options) { o.RequireIfMatch = true }))
	r := e.do(request{method: http.MethodGet, path: "/openapi.json", unsigned: true})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, e.h.OpenAPI(), r.body)

	var doc openAPIDoc
	require.NoError(t, json.Unmarshal(r.body, &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	assert.NotEmpty(t, doc.Info.Title)
	assert.NotEmpty(t, doc.Info.Version)

	var documented []string
	opIDs := map[string]bool{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			require.Contains(t, httpMethods, method, "path item %s has only operations", path)
			pattern := strings.ToUpper(method) + " " + path
			documented = append(documented, pattern)

			var op openAPIOperation
			require.NoError(t, json.Unmarshal(raw, &op), pattern)
			assert.False(t, opIDs[op.OperationID], "operationId %s is unique", op.OperationID)
			opIDs[op.OperationID] = true
			assert.NotEmpty(t, op.Responses, pattern)

			// Every path template parameter is declared.
			for _, m := range pathParamPattern.FindAllStringSubmatch(path, -1) {
				assert.True(t, slices.ContainsFunc(op.Parameters, func(p openAPIParam) bool {
					return p.Name == m[1] && p.In == "path" && p.Required
				}), "%s declares path parameter %s", pattern, m[1])
			}
			public := path == "/healthz" || path == "/openapi.json"
			if public {
				require.NotNil(t, op.Security, pattern)
				assert.Empty(t, *op.Security, "%s needs no authentication", pattern)
			} else {
				assert.Nil(t, op.Security, "%s uses the document's default security", pattern)
				assert.Contains(t, op.Responses, "401", pattern)
				assert.Contains(t, op.Responses, "403", pattern)
			}
			if method == "put" || method == "patch" || method == "delete" {
				assert.Contains(t, op.Responses, "412", pattern)
				assert.Contains(t, op.Responses, "428", "%s: RequireIfMatch is documented", pattern)
			}

			// The mux routes a request for this operation to this very pattern.
			concrete := strings.NewReplacer("{tenant_id}", "acme", "{type}", "s3:archive").Replace(path)
			req := httptest.NewRequest(strings.ToUpper(method), concrete, nil)
			_, got := e.h.mux.Handler(req)
			assert.Equal(t, pattern, got, "the mux serves %s", pattern)
		}
	}
	assert.ElementsMatch(t, e.h.patterns, documented, "documented routes = registered routes")
	assert.Len(t, e.h.patterns, 10)

	// Methods a path does not document are refused by the handler.
	for path, item := range doc.Paths {
		concrete := strings.NewReplacer("{tenant_id}", "acme", "{type}", "s3").Replace(path)
		for _, m := range []string{"get", "put", "post", "delete", "patch"} {
			if _, ok := item[m]; ok {
				continue
			}
			resp := e.do(request{method: strings.ToUpper(m), path: concrete})
			assert.Equal(t, http.StatusMethodNotAllowed, resp.status, "%s %s", m, path)
		}
	}
}

// Every $ref points at a schema the document defines, and the config
// schemas list exactly the fields the API decodes.
func TestOpenAPIReferencesResolve(t *testing.T) {
	e := newEnv(t)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(e.h.OpenAPI(), &doc))
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs = append(refs, ref)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	require.NotEmpty(t, refs)
	for _, ref := range refs {
		name, ok := strings.CutPrefix(ref, "#/components/schemas/")
		require.True(t, ok, ref)
		assert.Contains(t, schemas, name, "%s resolves", ref)
	}
	// One schema per kind, each with the common fields and exactly the
	// kind's settings, the DeliveryConfig schema being their oneOf.
	kinds := testKinds()
	oneOf := schemas["DeliveryConfig"].(map[string]any)["oneOf"].([]any)
	assert.Len(t, oneOf, len(kinds.Names()))
	for _, kind := range kinds.Names() {
		props := schemas["DeliveryConfig_"+kind].(map[string]any)["properties"].(map[string]any)
		var got []string
		for k := range props {
			got = append(got, k)
		}
		want := tenant.CommonFields()
		if tenant.HasFlatSettings(kind) {
			for _, f := range kinds.Fields(kind) {
				want = append(want, f.Name)
			}
		} else {
			want = append(want, tenant.FieldSettings)
			nested := props[tenant.FieldSettings].(map[string]any)["properties"].(map[string]any)
			var names []string
			for _, f := range kinds.Fields(kind) {
				names = append(names, f.Name)
				assert.Contains(t, nested, f.Name, kind)
			}
			assert.Len(t, nested, len(names), kind)
		}
		assert.ElementsMatch(t, want, got, kind)
	}
	patch := schemas["DeliveryConfigPatch"].(map[string]any)["properties"].(map[string]any)
	for _, f := range append(tenant.CommonFields(), tenant.FieldSettings) {
		assert.Contains(t, patch, f)
	}
}

func TestOpenAPIServedWithoutAuthentication(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, mediaJSON, resp.Header.Get("Content-Type"))
	assert.True(t, json.Valid(body))
}
