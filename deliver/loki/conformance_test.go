package loki_test

import (
	"sync/atomic"
	"testing"

	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/deliver/loki"
	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
	"github.com/logdelivery/logdelivery/tenant"
)

// conformanceBatch is the entries of one push in the conformance suite,
// so that large deliveries make several.
const conformanceBatch = 100

// TestConformance runs the kind conformance suite against the Loki fake.
func TestConformance(t *testing.T) {
	delivertest.RunKind(t, delivertest.KindHarness{
		Kind:      loki.KindWith(testPolicy),
		WriteSize: conformanceBatch,
		NewDestination: func(t *testing.T) *delivertest.Destination {
			srv := newFake(t, lokitest.Options{})
			dv := newDeliverer(t)
			return &delivertest.Destination{
				Deliverer: dv,
				Config: func(tenantID string) tenant.DeliveryConfig {
					return tenant.DeliveryConfig{TenantID: tenantID, Type: loki.KindName, Settings: map[string]any{
						"url":           srv.URL,
						"batch_entries": conformanceBatch,
						"labels":        map[string]any{"source": "conformance"},
					}}
				},
				Received: srv.Total,
				Fail: func(f delivertest.Fault, after int) bool {
					var answer *lokitest.Fault
					switch f {
					case delivertest.FaultRetryable:
						answer = lokitest.Unavailable()
					case delivertest.FaultPermanent:
						answer = lokitest.Forbidden()
					case delivertest.FaultHang:
						answer = lokitest.Hang()
					default:
						return false
					}
					var writes atomic.Int64
					srv.SetHook(func(lokitest.Call) *lokitest.Fault {
						if writes.Add(1) <= int64(after) {
							return nil
						}
						return answer
					})
					return true
				},
			}
		},
	})
}
