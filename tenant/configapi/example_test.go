package configapi_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/configapi"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// Serve the API over a store, mounted under a prefix of a platform's own
// mux, and use it through the Go client.
func Example() {
	store, err := memstore.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	// Validate with the processor's own destination kinds.
	kinds, err := deliver.NewRegistry(awsdispatch.Kinds())
	if err != nil {
		log.Fatal(err)
	}
	keys := configapi.Keys{"platform-2026": []byte("a long random secret")}
	h, err := configapi.New(store, kinds, configapi.NewHMAC(keys), func(o *configapi.Options) {
		// Callers may touch only tenants whose id starts with their key's
		// name; nobody lists every tenant.
		o.Authorizer = configapi.AuthorizerFunc(func(_ context.Context, p configapi.Principal, a configapi.Action, tenantID string) error {
			if a == configapi.ActionList || !strings.HasPrefix(p.ID, "platform") {
				return configapi.ErrForbidden
			}
			return nil
		})
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/logdelivery/", http.StripPrefix("/logdelivery", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, err := configapi.NewClient(srv.URL+"/logdelivery", "platform-2026", keys["platform-2026"])
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	cfg, err := c.Create(ctx, tenant.DeliveryConfig{
		TenantID: "acme",
		Type:     "s3",
		Settings: map[string]any{"bucket_name": "acme-logs"},
	})
	if err != nil {
		log.Fatal(err)
	}
	cfg, err = c.Patch(ctx, "acme", "s3", map[string]any{"enabled": false},
		tenant.Condition{IfUpdatedAt: cfg.UpdatedAt})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.TenantID, cfg.Type, cfg.Settings["bucket_name"], "enabled:", cfg.IsEnabled())

	_, err = c.Create(ctx, tenant.DeliveryConfig{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "other"}})
	fmt.Println("exists:", errors.Is(err, tenant.ErrExists))

	_, err = c.Create(ctx, tenant.DeliveryConfig{TenantID: "acme", Type: "cloudwatch", Settings: map[string]any{"log_group_name": "aws/reserved"}})
	var ve *tenant.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println("invalid:", p.Field)
		}
	}

	_, _, err = c.List(ctx, 10, "")
	fmt.Println("forbidden:", errors.Is(err, configapi.ErrForbidden))
	// Output:
	// acme s3 acme-logs enabled: false
	// exists: true
	// invalid: log_distribution_role_arn
	// invalid: log_group_name
	// forbidden: true
}

// Sign a request from another HTTP client.
func ExampleSignRequest() {
	body := []byte(`{"enabled":false}`)
	req, err := http.NewRequest(http.MethodPatch, "https://config.example.com/tenants/acme/delivery-configs/s3", strings.NewReader(string(body)))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/merge-patch+json")
	at := time.Date(2026, 11, 21, 19, 41, 49, 0, time.UTC)
	if err := configapi.SignRequest(req, body, "ops-2026", []byte("s3cr3t"), at, "3q2-7wZ0S9ePj1vQ0nN4xA"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(req.Header.Get("X-LD-Date"))
	fmt.Println(req.Header.Get("X-LD-Nonce"))
	fmt.Println(req.Header.Get("Authorization")[:40])
	// Output:
	// 2026-11-21T19:41:49Z
	// 3q2-7wZ0S9ePj1vQ0nN4xA
	// LD-HMAC-SHA256 KeyId=ops-2026, Signature
}
