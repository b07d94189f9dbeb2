package configapi

// Tests of ModeReference, ported from the reference implementation's API
// tests (openshift-online/rosa-log-router):
//
//	tests/integration/test_api_integration.py  TestTenantDeliveryConfigAPIIntegration
//	tests/integration/conftest.py              its api_client (APIClient) and fixtures
//	tests/unit/test_api_app_endpoints.py       endpoint and error-handling tests
//	tests/unit/test_api_v1.py                  TestAPIEndpoints
//
// refClient sends the requests of conftest.py's APIClient byte for byte
// (json.dumps bodies, Content-Type and X-Body-SHA256 headers, requests'
// query encoding), signed as api/README.md's sign_request does when the
// server authenticates.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

var testPSK = []byte("reference-psk-0123456789abcdef")

// refEnv is a Handler in ModeReference over a memstore, behind an
// httptest server.
type refEnv struct {
	t     *testing.T
	store tenant.Store
	srv   *httptest.Server
	psk   []byte // nil: requests are not signed
}

// newRefEnv serves ModeReference with the reference's signing, or with no
// authentication at all when psk is nil, as the reference's service runs
// behind its API Gateway authorizer (and in its integration tests).
func newRefEnv(t *testing.T, psk []byte, optFns ...func(*Options)) *refEnv {
	t.Helper()
	store, err := memstore.New(nil)
	require.NoError(t, err)
	var auth Authenticator = AuthenticatorFunc(func(*http.Request, []byte) (Principal, error) {
		return Principal{ID: "gateway"}, nil
	})
	if psk != nil {
		auth, err = NewReferenceHMAC(Keys{"ocm": psk})
		require.NoError(t, err)
	}
	h, err := New(store, testKinds(), auth, append([]func(*Options){func(o *Options) { o.Mode = ModeReference }}, optFns...)...)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &refEnv{t: t, store: store, srv: srv, psk: psk}
}

// py encodes ordered name/value pairs as Python's json.dumps does by
// default: ", " and ": " separators.
func py(kv ...any) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %s", kv[i], pyValue(kv[i+1]))
	}
	b.WriteString("}")
	return b.String()
}

func pyValue(v any) string {
	if ss, ok := v.([]string); ok {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = pyValue(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// refResponse is a decoded response.
type refResponse struct {
	status int
	body   map[string]any
	header http.Header
}

func (r refResponse) data() map[string]any {
	d, _ := r.body["data"].(map[string]any)
	return d
}

// do sends one request of the APIClient: a body (sent with Content-Type
// and X-Body-SHA256, as _signed_headers does) or none.
func (e *refEnv) do(method, path, query, body string) refResponse {
	e.t.Helper()
	target := e.srv.URL + path
	if query != "" {
		target += "?" + query
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	require.NoError(e.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderBodySHA256, sha256Hex([]byte(body)))
	}
	if e.psk != nil {
		SignReferenceRequest(req, []byte(body), e.psk, time.Now(), "")
	}
	return e.send(req)
}

func (e *refEnv) send(req *http.Request) refResponse {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	out := refResponse{status: resp.StatusCode, header: resp.Header}
	require.NoError(e.t, json.Unmarshal(raw, &out.body), "every answer is JSON: %s", raw)
	return out
}

// The methods of conftest.py's APIClient.
func (e *refEnv) create(tenantID, body string) refResponse {
	return e.do(http.MethodPost, "/api/v1/tenants/"+tenantID+"/delivery-configs", "", body)
}
func (e *refEnv) get(tenantID, typ string) refResponse {
	return e.do(http.MethodGet, "/api/v1/tenants/"+tenantID+"/delivery-configs/"+typ, "", "")
}
func (e *refEnv) update(tenantID, typ, body string) refResponse {
	return e.do(http.MethodPut, "/api/v1/tenants/"+tenantID+"/delivery-configs/"+typ, "", body)
}
func (e *refEnv) patch(tenantID, typ, body string) refResponse {
	return e.do(http.MethodPatch, "/api/v1/tenants/"+tenantID+"/delivery-configs/"+typ, "", body)
}
func (e *refEnv) delete(tenantID, typ string) refResponse {
	return e.do(http.MethodDelete, "/api/v1/tenants/"+tenantID+"/delivery-configs/"+typ, "", "")
}
func (e *refEnv) listTenant(tenantID string) refResponse {
	return e.do(http.MethodGet, "/api/v1/tenants/"+tenantID+"/delivery-configs", "", "")
}
func (e *refEnv) listAll(limit int, lastKey string) refResponse {
	q := fmt.Sprintf("limit=%d", limit) // requests keeps the params' order
	if lastKey != "" {
		q += "&last_key=" + url.QueryEscape(lastKey)
	}
	return e.do(http.MethodGet, "/api/v1/delivery-configs", q, "")
}
func (e *refEnv) validate(tenantID, typ string) refResponse {
	return e.do(http.MethodGet, "/api/v1/tenants/"+tenantID+"/delivery-configs/"+typ+"/validate", "", "")
}

// sampleCloudWatch is conftest.py's sample_integration_cloudwatch_config.
func sampleCloudWatch(tenantID string) string {
	return py("tenant_id", tenantID, "type", "cloudwatch",
		"log_distribution_role_arn", "arn:aws:iam::123456789012:role/IntegrationTestRole",
		"log_group_name", "/aws/logs/integration-test-tenant", "target_region", "us-east-1",
		"enabled", true, "desired_logs", []string{"test-app", "integration-service"})
}

// multipleConfigs is conftest.py's multiple_integration_delivery_configs.
var multipleConfigs = []struct{ tenant, body string }{
	{"integration-tenant-1", py("tenant_id", "integration-tenant-1", "type", "cloudwatch",
		"log_distribution_role_arn", "arn:aws:iam::123456789012:role/Role1", "log_group_name", "/aws/logs/integration-tenant-1",
		"target_region", "us-east-1", "enabled", true)},
	{"integration-tenant-1", py("tenant_id", "integration-tenant-1", "type", "s3",
		"bucket_name", "integration-tenant-1-logs", "bucket_prefix", "logs/", "target_region", "us-east-1", "enabled", true)},
	{"integration-tenant-2", py("tenant_id", "integration-tenant-2", "type", "cloudwatch",
		"log_distribution_role_arn", "arn:aws:iam::987654321098:role/Role2", "log_group_name", "/aws/logs/integration-tenant-2",
		"target_region", "us-west-2", "enabled", false, "desired_logs", []string{"payment-service"})},
	{"integration-tenant-2", py("tenant_id", "integration-tenant-2", "type", "s3",
		"bucket_name", "integration-tenant-2-logs", "bucket_prefix", "logs/", "target_region", "us-west-2", "enabled", true,
		"desired_logs", []string{"payment-service"})},
}

// forEachAuth runs a test against the mode without authentication (the
// reference's service as its integration tests reach it) and with the
// reference's request signing.
func forEachAuth(t *testing.T, test func(t *testing.T, e *refEnv)) {
	t.Run("unsigned", func(t *testing.T) { test(t, newRefEnv(t, nil)) })
	t.Run("signed", func(t *testing.T) { test(t, newRefEnv(t, testPSK)) })
}

// test_delivery_config_crud_operations
func TestReferenceCRUD(t *testing.T) {
	forEachAuth(t, func(t *testing.T, e *refEnv) {
		const id = "integration-test-tenant"
		r := e.create(id, sampleCloudWatch(id))
		require.Equal(t, http.StatusCreated, r.status, r.body)
		assert.Equal(t, "success", r.body["status"])
		assert.Equal(t, "Delivery configuration created successfully", r.body["message"])
		created := r.data()
		assert.Equal(t, id, created["tenant_id"])
		assert.Equal(t, "cloudwatch", created["type"])
		assert.Equal(t, true, created["enabled"])
		assert.Equal(t, "arn:aws:iam::123456789012:role/IntegrationTestRole", created["log_distribution_role_arn"])

		r = e.get(id, "cloudwatch")
		require.Equal(t, http.StatusOK, r.status)
		got := r.data()
		assert.Equal(t, "/aws/logs/integration-test-tenant", got["log_group_name"])
		assert.Equal(t, "us-east-1", got["target_region"])
		assert.Equal(t, []any{"test-app", "integration-service"}, got["desired_logs"])

		// UPDATE changes the fields sent and keeps the others.
		r = e.update(id, "cloudwatch", py("log_group_name", "/aws/logs/updated-integration-tenant", "enabled", false, "desired_logs", []string{"updated-app"}))
		require.Equal(t, http.StatusOK, r.status, r.body)
		assert.Equal(t, "success", r.body["status"])
		updated := r.data()
		assert.Equal(t, "/aws/logs/updated-integration-tenant", updated["log_group_name"])
		assert.Equal(t, false, updated["enabled"])
		assert.Equal(t, []any{"updated-app"}, updated["desired_logs"])
		assert.Equal(t, "arn:aws:iam::123456789012:role/IntegrationTestRole", updated["log_distribution_role_arn"], "unchanged fields persist")
		assert.Equal(t, "us-east-1", updated["target_region"])

		r = e.delete(id, "cloudwatch")
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "success", r.body["status"])
		assert.Contains(t, strings.ToLower(r.body["message"].(string)), "deleted")

		r = e.get(id, "cloudwatch")
		assert.Equal(t, http.StatusNotFound, r.status)
		assert.Contains(t, strings.ToLower(r.body["detail"].(string)), "not found")
	})
}

// test_delivery_config_list_operations, with the populated_integration_table
// fixture.
func TestReferenceList(t *testing.T) {
	forEachAuth(t, func(t *testing.T, e *refEnv) {
		for _, c := range multipleConfigs {
			require.Equal(t, http.StatusCreated, e.create(c.tenant, c.body).status)
		}
		r := e.listAll(50, "")
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "success", r.body["status"])
		res := r.data()
		assert.EqualValues(t, 4, res["count"])
		assert.EqualValues(t, 50, res["limit"])
		var keys []string
		for _, c := range res["configurations"].([]any) {
			m := c.(map[string]any)
			keys = append(keys, m["tenant_id"].(string)+"/"+m["type"].(string))
			assert.Contains(t, m, "enabled", "enabled is always present")
		}
		assert.ElementsMatch(t, []string{"integration-tenant-1/cloudwatch", "integration-tenant-1/s3",
			"integration-tenant-2/cloudwatch", "integration-tenant-2/s3"}, keys)

		r = e.listAll(2, "")
		assert.EqualValues(t, 2, r.data()["count"])
		assert.Len(t, r.data()["configurations"], 2)

		r = e.listTenant("integration-tenant-1")
		require.Equal(t, http.StatusOK, r.status)
		assert.EqualValues(t, 2, r.data()["count"])
		var types []string
		for _, c := range r.data()["configurations"].([]any) {
			types = append(types, c.(map[string]any)["type"].(string))
		}
		assert.ElementsMatch(t, []string{"cloudwatch", "s3"}, types)
	})
}

// test_list_all_delivery_configs_success: the default page size is 50.
func TestReferenceListDefaults(t *testing.T) {
	e := newRefEnv(t, nil)
	r := e.do(http.MethodGet, "/api/v1/delivery-configs", "", "")
	require.Equal(t, http.StatusOK, r.status)
	assert.EqualValues(t, 50, r.data()["limit"])
	assert.Equal(t, []any{}, r.data()["configurations"])
	assert.NotContains(t, r.data(), "last_key", "no last_key after the last page")

	r = e.do(http.MethodGet, "/api/v1/delivery-configs", "limit=ten", "")
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)
	r = e.listTenant("nobody")
	require.Equal(t, http.StatusOK, r.status, "a tenant without configs has an empty list")
	assert.EqualValues(t, 0, r.data()["count"])
}

// test_large_data_operations: pages of 10, following last_key.
func TestReferencePagination(t *testing.T) {
	forEachAuth(t, func(t *testing.T, e *refEnv) {
		const tenants = 12
		for i := range tenants {
			id := fmt.Sprintf("bulk-tenant-%03d", i)
			cw := py("tenant_id", id, "type", "cloudwatch", "log_distribution_role_arn", fmt.Sprintf("arn:aws:iam::123456789012:role/BulkRole%d", i),
				"log_group_name", "/aws/logs/"+id, "target_region", "us-east-1", "enabled", i%2 == 0,
				"desired_logs", []string{fmt.Sprintf("app-%d", i), fmt.Sprintf("service-%d", i)})
			s3 := py("tenant_id", id, "type", "s3", "bucket_name", id+"-logs", "bucket_prefix", "logs/", "target_region", "us-east-1",
				"enabled", i%3 == 0, "desired_logs", []string{fmt.Sprintf("app-%d", i), fmt.Sprintf("service-%d", i)})
			require.Equal(t, http.StatusCreated, e.create(id, cw).status)
			require.Equal(t, http.StatusCreated, e.create(id, s3).status)
		}
		seen := map[string]bool{}
		lastKey, pages := "", 0
		for {
			r := e.listAll(10, lastKey)
			require.Equal(t, http.StatusOK, r.status, r.body)
			pages++
			for _, c := range r.data()["configurations"].([]any) {
				m := c.(map[string]any)
				k := m["tenant_id"].(string) + "#" + m["type"].(string)
				assert.False(t, seen[k], "%s listed twice", k)
				seen[k] = true
			}
			next, ok := r.data()["last_key"].(string)
			if !ok {
				break
			}
			lastKey = next
		}
		assert.Len(t, seen, 2*tenants)
		assert.Equal(t, 3, pages)

		r := e.listAll(10, "no-such-key")
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Contains(t, r.body["detail"], "last_key")
	})
}

// test_delivery_config_validation_integration. The reference's test
// creates the invalid config through its API first, which its own create
// validation refuses (the role ARN and the empty log group are checked by
// TenantDeliveryConfigCreateRequest), so the test cannot pass there; here
// the config is stored directly, as another writer of the table would.
func TestReferenceValidate(t *testing.T) {
	forEachAuth(t, func(t *testing.T, e *refEnv) {
		_, err := e.store.Create(ctx(t), tenant.DeliveryConfig{TenantID: "invalid-integration-tenant", Type: "cloudwatch",
			TargetRegion: "invalid-region!", Settings: map[string]any{"log_distribution_role_arn": "invalid-arn-format", "log_group_name": ""}})
		require.NoError(t, err)
		r := e.validate("invalid-integration-tenant", "cloudwatch")
		require.Equal(t, http.StatusOK, r.status, r.body)
		assert.Equal(t, "success", r.body["status"])
		rep := r.data()
		assert.Equal(t, "invalid-integration-tenant", rep["tenant_id"])
		assert.Equal(t, "cloudwatch", rep["type"])
		assert.Equal(t, false, rep["valid"])
		checks := map[string]map[string]any{}
		for _, c := range rep["checks"].([]any) {
			m := c.(map[string]any)
			checks[m["field"].(string)] = m
		}
		require.Contains(t, checks, "log_distribution_role_arn")
		assert.Equal(t, "invalid", checks["log_distribution_role_arn"]["status"])
		assert.Contains(t, strings.ToLower(checks["log_distribution_role_arn"]["message"].(string)), "invalid")
		require.Contains(t, checks, "log_group_name")
		assert.Equal(t, "missing", checks["log_group_name"]["status"])
		require.Contains(t, checks, "target_region")
		assert.Equal(t, "invalid", checks["target_region"]["status"])
		assert.Equal(t, "ok", checks["tenant_id"]["status"])

		// test_validate_delivery_config_success / _not_found
		require.Equal(t, http.StatusCreated, e.create("test-tenant", sampleCloudWatch("test-tenant")).status)
		r = e.validate("test-tenant", "cloudwatch")
		assert.Equal(t, true, r.data()["valid"])
		assert.Equal(t, http.StatusNotFound, e.validate("nonexistent", "cloudwatch").status)
	})
}

// test_concurrent_operations
func TestReferenceConcurrentCreates(t *testing.T) {
	forEachAuth(t, func(t *testing.T, e *refEnv) {
		var wg sync.WaitGroup
		statuses := make([]int, 5)
		for i := range statuses {
			wg.Go(func() {
				id := fmt.Sprintf("concurrent-tenant-%d", i)
				body := py("tenant_id", id, "type", "cloudwatch", "log_distribution_role_arn", "arn:aws:iam::123456789012:role/IntegrationTestRole",
					"log_group_name", "/aws/logs/"+id, "target_region", "us-east-1", "enabled", true)
				statuses[i] = e.create(id, body).status
			})
		}
		wg.Wait()
		for i, s := range statuses {
			assert.Equal(t, http.StatusCreated, s, i)
			r := e.get(fmt.Sprintf("concurrent-tenant-%d", i), "cloudwatch")
			assert.Equal(t, "cloudwatch", r.data()["type"])
		}
	})
}

// test_error_handling_integration, and test_create_delivery_config_duplicate
// of the unit tests: a duplicate is 409, as the integration test expects
// (the reference's service answers 400; see docs/migration.md).
func TestReferenceErrors(t *testing.T) {
	forEachAuth(t, func(t *testing.T, e *refEnv) {
		assert.Equal(t, http.StatusNotFound, e.get("nonexistent-integration-tenant", "cloudwatch").status)
		const id = "integration-test-tenant"
		require.Equal(t, http.StatusCreated, e.create(id, sampleCloudWatch(id)).status)
		r := e.create(id, sampleCloudWatch(id))
		assert.Equal(t, http.StatusConflict, r.status)
		assert.Contains(t, strings.ToLower(r.body["detail"].(string)), "already exists")
		assert.Equal(t, http.StatusNotFound, e.update("nonexistent-tenant", "cloudwatch", py("enabled", false)).status)
		assert.Equal(t, http.StatusNotFound, e.delete("nonexistent-tenant", "cloudwatch").status)
		assert.Equal(t, http.StatusNotFound, e.patch("nonexistent-tenant", "cloudwatch", py("enabled", false)).status)
	})
}

// TestErrorHandling and the create tests of test_api_app_endpoints.py, and
// test_validation_error of test_api_v1.py.
func TestReferenceCreateValidation(t *testing.T) {
	e := newRefEnv(t, nil)
	for name, tc := range map[string]struct {
		path, body string
		status     int
		mention    string
	}{
		"invalid arn": {"new-tenant", py("tenant_id", "new-tenant", "type", "cloudwatch", "log_distribution_role_arn", "invalid-arn",
			"log_group_name", "/aws/logs/new-tenant", "target_region", "us-east-1"), 422, "log_distribution_role_arn"},
		"missing required fields": {"incomplete-tenant", py("tenant_id", "incomplete-tenant", "type", "cloudwatch"), 422, "log_group_name"},
		"empty tenant id":         {"test-tenant", py("tenant_id", "", "type", "cloudwatch", "log_distribution_role_arn", "invalid-arn"), 422, "tenant_id"},
		"no type":                 {"test-tenant", py("tenant_id", "test-tenant"), 422, "type"},
		"invalid json":            {"test-tenant", "invalid json", 422, "json"},
		"url mismatch": {"other-tenant", py("tenant_id", "new-tenant", "type", "s3", "bucket_name", "my-log-bucket"), 400,
			"tenant_id in URL must match tenant_id in request body"},
		"empty desired log": {"new-tenant", py("tenant_id", "new-tenant", "type", "s3", "bucket_name", "my-log-bucket", "desired_logs", []string{""}), 422, "desired_logs"},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.create(tc.path, tc.body)
			assert.Equal(t, tc.status, r.status, r.body)
			assert.Contains(t, strings.ToLower(fmt.Sprint(r.body["detail"])), strings.ToLower(tc.mention))
		})
	}

	// test_s3_delivery_config_create_request_validation; members the
	// request model does not have are ignored, nulls mean "not sent".
	r := e.create("test-tenant", py("tenant_id", "test-tenant", "type", "s3", "bucket_name", "my-log-bucket", "bucket_prefix", "logs/",
		"target_region", "us-east-1", "created_at", "2024-01-01T00:00:00Z", "unknown_field", 1, "ttl", nil))
	require.Equal(t, http.StatusCreated, r.status, r.body)
	assert.Equal(t, "my-log-bucket", r.data()["bucket_name"])
	assert.Equal(t, "logs/", r.data()["bucket_prefix"])
	assert.NotContains(t, r.data(), "unknown_field")
	assert.NotEqual(t, "2024-01-01T00:00:00Z", r.data()["created_at"], "timestamps are the store's")
	stored, err := e.store.Get(ctx(t), "test-tenant", "s3")
	require.NoError(t, err)
	require.NotNil(t, stored.Enabled, "enabled is stored explicitly, for the reference's processor")
	assert.True(t, *stored.Enabled)

	// test_post_missing_body_hash_header_returns_400
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/tenants/test-tenant/delivery-configs",
		strings.NewReader(`{"tenant_id": "test-tenant", "type": "cloudwatch"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	r = e.send(req)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.body["error"], "X-Body-SHA256")
	req, err = http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/tenants/test-tenant/delivery-configs", strings.NewReader(`{"tenant_id": "attacker"}`))
	require.NoError(t, err)
	req.Header.Set(HeaderBodySHA256, sha256Hex([]byte(`{"tenant_id": "legit"}`)))
	r = e.send(req)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.body["error"], "Body hash mismatch")
}

// test_update_delivery_config_success, test_patch_delivery_config_success:
// PUT changes the fields sent, PATCH takes enabled and desired_logs.
func TestReferenceUpdateAndPatch(t *testing.T) {
	forEachAuth(t, func(t *testing.T, e *refEnv) {
		require.Equal(t, http.StatusCreated, e.create("test-tenant", sampleCloudWatch("test-tenant")).status)
		r := e.update("test-tenant", "cloudwatch", py("log_distribution_role_arn", "arn:aws:iam::123456789012:role/UpdatedRole",
			"log_group_name", "/aws/logs/updated-tenant", "target_region", "us-west-2", "enabled", false))
		require.Equal(t, http.StatusOK, r.status, r.body)
		assert.Equal(t, "Delivery configuration updated successfully", r.body["message"])
		assert.Equal(t, false, r.data()["enabled"])
		assert.Equal(t, "cloudwatch", r.data()["type"])
		assert.Equal(t, "us-west-2", r.data()["target_region"])
		assert.Equal(t, []any{"test-app", "integration-service"}, r.data()["desired_logs"], "fields not sent are kept")

		// api/README.md's Go client sends the whole create request to PUT:
		// tenant_id and type are ignored, as the update model has neither.
		r = e.update("test-tenant", "cloudwatch", py("tenant_id", "test-tenant", "type", "cloudwatch", "log_group_name", "/aws/logs/again"))
		require.Equal(t, http.StatusOK, r.status, r.body)
		assert.Equal(t, "/aws/logs/again", r.data()["log_group_name"])

		r = e.update("test-tenant", "cloudwatch", py("enabled", nil))
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, "No fields provided for update", r.body["detail"])
		r = e.update("test-tenant", "cloudwatch", py("log_distribution_role_arn", "invalid-arn"))
		assert.Equal(t, http.StatusUnprocessableEntity, r.status)
		assert.Contains(t, fmt.Sprint(r.body["detail"]), "log_distribution_role_arn")

		r = e.patch("test-tenant", "cloudwatch", py("enabled", true))
		require.Equal(t, http.StatusOK, r.status, r.body)
		assert.Equal(t, "Delivery configuration patched successfully", r.body["message"])
		assert.Equal(t, true, r.data()["enabled"])
		assert.Equal(t, "/aws/logs/again", r.data()["log_group_name"])
		r = e.patch("test-tenant", "cloudwatch", py("log_group_name", "/ignored"))
		assert.Equal(t, http.StatusBadRequest, r.status, "PATCH takes enabled and desired_logs only")
		assert.Equal(t, "No fields provided for patch", r.body["detail"])
	})
}

// TestHealthEndpoint of test_api_app_endpoints.py; the health endpoint
// needs no signature.
func TestReferenceHealth(t *testing.T) {
	e := newRefEnv(t, testPSK)
	resp, err := http.Get(e.srv.URL + "/api/v1/health")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, "healthy", body["status"])
	assert.Equal(t, "healthy", body["checks"].(map[string]any)["dynamodb"].(map[string]any)["status"])

	store, err := memstore.New(nil)
	require.NoError(t, err)
	h, err := New(failingStore{store}, testKinds(), AuthenticatorFunc(func(*http.Request, []byte) (Principal, error) { return Principal{}, nil }),
		func(o *Options) { o.Mode = ModeReference })
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/health", nil))
	require.Equal(t, http.StatusOK, rec.Code, "the reference answers 200 when degraded")
	assert.Contains(t, rec.Body.String(), `"degraded"`)
	assert.NotContains(t, rec.Body.String(), "secret-internal-detail")
}

// Unknown routes and internal errors answer as FastAPI does.
func TestReferenceRoutesAndInternalErrors(t *testing.T) {
	e := newRefEnv(t, nil)
	r := e.do(http.MethodGet, "/healthz", "", "")
	assert.Equal(t, http.StatusNotFound, r.status, "the native routes are not served")
	assert.Equal(t, "Not Found", r.body["detail"])
	r = e.do(http.MethodPost, "/api/v1/health", "", "{}")
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)

	store, err := memstore.New(nil)
	require.NoError(t, err)
	h, err := New(failingStore{store}, testKinds(), AuthenticatorFunc(func(*http.Request, []byte) (Principal, error) { return Principal{}, nil }),
		func(o *Options) { o.Mode = ModeReference })
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/tenants/acme/delivery-configs/s3", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Contains(t, rec.Body.String(), "Failed to get delivery configuration")
	assert.NotContains(t, rec.Body.String(), "secret-internal-detail")
}

// Options.PathPrefix serves either mode below a prefix.
func TestPathPrefix(t *testing.T) {
	e := newRefEnv(t, nil, func(o *Options) { o.PathPrefix = "/prod/" })
	assert.Equal(t, http.StatusNotFound, e.listTenant("acme").status)
	r := e.do(http.MethodGet, "/prod/api/v1/tenants/acme/delivery-configs", "", "")
	assert.Equal(t, http.StatusOK, r.status)

	store, err := memstore.New(nil)
	require.NoError(t, err)
	h, err := New(store, testKinds(), NewHMAC(testKeys), func(o *Options) { o.PathPrefix = "/config" })
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/config/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	_, err = New(store, testKinds(), NewHMAC(testKeys), func(o *Options) { o.PathPrefix = "config" })
	assert.Error(t, err)
}
