package configapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// FuzzRequestBodies sends arbitrary bodies as POST, PUT and PATCH: the
// handler never answers 5xx, every error is a problem document, and nothing
// it stores fails validation.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"type":"s3","bucket_name":"acme-logs"}`,
		`{"type":"cloudwatch","log_distribution_role_arn":"arn:aws:iam::222222222222:role/R","log_group_name":"/a"}`,
		`{"bucket_name":null}`,
		`{"enabled":false,"desired_logs":["a","b"],"groups":null,"ttl":4102444800}`,
		`{"ttl":1e400}`,
		`{"ttl":-0.0}`,
		`{"tenant_id":"other","type":"s3:x"}`,
		`{"Type":"s3"}`,
		`{"type":"s3"}{"type":"s3"}`,
		`[]`, `null`, `"s"`, `{`, ``, "\xff\xfe", `{"desired_logs":[1,{}]}`,
		`{"type":"s3","bucket_name":"a\u0000b"}`,
		`{"type":"s3:` + strings.Repeat("a", 100) + `","bucket_name":"acme-logs"}`,
	} {
		f.Add(seed)
	}
	// Each input starts from the same store, so that runs are
	// deterministic (the fuzzer minimizes by replaying inputs).
	store := &swappableStore{}
	reset := func() {
		mem, err := memstore.New([]tenant.DeliveryConfig{
			{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-logs"}, UpdatedAt: "2026-01-01T00:00:00Z"},
		})
		if err != nil {
			f.Fatal(err)
		}
		store.Store = mem
	}
	allow := AuthenticatorFunc(func(*http.Request, []byte) (Principal, error) { return Principal{ID: "fuzz"}, nil })
	h, err := New(store, testKinds(), allow, func(o *Options) { o.MaxBodyBytes = 4 << 10 })
	if err != nil {
		f.Fatal(err)
	}
	requests := []struct{ method, path, contentType string }{
		{http.MethodPost, "/tenants/acme/delivery-configs", mediaJSON},
		{http.MethodPut, "/tenants/acme/delivery-configs/s3", mediaJSON},
		{http.MethodPatch, "/tenants/acme/delivery-configs/s3", mediaMergePatch},
	}
	f.Fuzz(func(t *testing.T, body string) {
		reset()
		for _, rq := range requests {
			req := httptest.NewRequest(rq.method, rq.path, strings.NewReader(body))
			req.Header.Set("Content-Type", rq.contentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s %q: %d %s", rq.method, rq.path, body, rec.Code, rec.Body)
			}
			if rec.Code >= 400 {
				var p Problem
				dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&p); err != nil || p.Status != rec.Code || rec.Header().Get("Content-Type") != mediaProblem {
					t.Fatalf("%s %q: error %d is not a problem document: %s", rq.method, body, rec.Code, rec.Body)
				}
				continue
			}
			var got tenant.DeliveryConfig
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("%s %q: %d with undecodable body %s", rq.method, body, rec.Code, rec.Body)
			}
			if err := testKinds().Validate(got); err != nil {
				t.Fatalf("%s %q stored an invalid config: %v", rq.method, body, err)
			}
			if got.TenantID != "acme" {
				t.Fatalf("%s %q stored a config of tenant %q through acme's path", rq.method, body, got.TenantID)
			}
		}
	})
}

// swappableStore lets the fuzz target start every input from a fresh store
// behind one Handler.
type swappableStore struct{ tenant.Store }
