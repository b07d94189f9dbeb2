package webhook_test

import (
	"context"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/deliver/webhook"
	"github.com/logdelivery/logdelivery/deliver/webhook/webhooktest"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/tenant"
)

// loopback returns the egress policy that lets tests reach a fake on
// 127.0.0.1 over http.
func loopback(t testing.TB, rawURL string) egress.Policy {
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	return egress.Policy{AllowHTTP: true, AllowLoopback: true, Ports: []int{port}}
}

// anyLoopback lets a configuration API's registry accept the URLs of
// fakes on any loopback port.
var anyLoopback = func() egress.Policy {
	p := egress.Policy{AllowHTTP: true, AllowLoopback: true}
	for port := 1; port <= 65535; port++ {
		p.Ports = append(p.Ports, port)
	}
	return p
}()

// secrets resolves every reference of every tenant to the value of its
// name: a stand-in for tests that are not about confinement.
type secrets map[string]string

func (s secrets) Secret(_ context.Context, _ string, ref credentials.SecretRef) (credentials.Secret, error) {
	return credentials.NewSecret(s[ref.Name()]), nil
}

var testSecrets = secrets{"key": "k3y", "token": "t0ken"}

// fast are the options of tests: a loopback receiver, small requests,
// quick retries.
func fast(rcv *webhooktest.Receiver, t testing.TB) func(*webhook.Options) {
	return func(o *webhook.Options) {
		o.Policy = loopback(t, rcv.URL)
		o.Secrets = testSecrets
		o.MaxRequestEvents = 100
		o.MaxAttempts = 3
		o.RetryBase, o.RetryMax = time.Millisecond, 5*time.Millisecond
	}
}

// TestConformance runs the kind conformance suite against a receiver that
// checks the bearer token and the signature of gzipped NDJSON.
func TestConformance(t *testing.T) {
	delivertest.RunKind(t, delivertest.KindHarness{
		Kind:      webhook.KindWith(anyLoopback),
		WriteSize: 100,
		NewDestination: func(t *testing.T) *delivertest.Destination {
			rcv := webhooktest.NewReceiver(webhooktest.Options{SigningKey: []byte("k3y"), BearerToken: "t0ken"})
			t.Cleanup(rcv.Close)
			d, err := webhook.New(fast(rcv, t))
			require.NoError(t, err)
			t.Cleanup(func() { _ = d.Close() })
			return &delivertest.Destination{
				Deliverer: d,
				Config: func(tenantID string) tenant.DeliveryConfig {
					return tenant.DeliveryConfig{TenantID: tenantID, Type: webhook.KindName, Settings: map[string]any{
						"url": rcv.URL + "/hooks/" + tenantID, "gzip": true, "signing_key": "file:key", "bearer_token": "file:token"}}
				},
				Received: func() int64 { return int64(rcv.Count()) },
				Fail: func(f delivertest.Fault, after int) bool {
					var answer *webhooktest.Fault
					switch f {
					case delivertest.FaultRetryable:
						answer = &webhooktest.Fault{Status: 502}
					case delivertest.FaultPermanent:
						answer = &webhooktest.Fault{Status: 404}
					case delivertest.FaultHang:
						answer = webhooktest.Hang()
					default:
						return false
					}
					var writes atomic.Int64
					rcv.SetHook(func(webhooktest.Request) *webhooktest.Fault {
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
