package configapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// benchHandler returns a handler over a memstore holding acme's s3 config,
// authenticating with HMAC at real time.
func benchHandler(b *testing.B) *Handler {
	store, err := memstore.New([]tenant.DeliveryConfig{s3Config("acme")})
	if err != nil {
		b.Fatal(err)
	}
	h, err := New(store, testKinds(), NewHMAC(testKeys, func(o *HMACOptions) {
		// Measure the request path, not the per-key limits.
		o.Rate, o.Burst = 1e9, 1<<30
		o.Nonces = NewMemoryNonceCache(func(o *MemoryNonceCacheOptions) { o.MaxPerKey = 1 << 30 })
	}))
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func benchRequest(b *testing.B, h *Handler, method, path, contentType, body string, want int) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if err := SignRequest(req, []byte(body), "k1", testKeys["k1"], time.Now(), fmt.Sprintf("bench-nonce-%012d", i)); err != nil {
			b.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	}
}

// BenchmarkGet measures a signed GET of one config: signing, verification,
// nonce bookkeeping, routing, the store read and encoding.
func BenchmarkGet(b *testing.B) {
	benchRequest(b, benchHandler(b), http.MethodGet, "/tenants/acme/delivery-configs/s3", "", "", http.StatusOK)
}

// BenchmarkPatch measures a signed JSON Merge Patch: strict decoding, the
// merge, validation and the conditional write.
func BenchmarkPatch(b *testing.B) {
	benchRequest(b, benchHandler(b), http.MethodPatch, "/tenants/acme/delivery-configs/s3", mediaMergePatch,
		`{"enabled":false,"desired_logs":["payments","kube-apiserver"],"groups":["API"]}`, http.StatusOK)
}
