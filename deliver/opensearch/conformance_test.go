package opensearch_test

import (
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/deliver/opensearch"
	"github.com/logdelivery/logdelivery/deliver/opensearch/opensearchtest"
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

// fast are the options of tests: a loopback fake, small requests, quick
// retries.
func fast(srv *opensearchtest.Server, t testing.TB) func(*opensearch.Options) {
	return func(o *opensearch.Options) {
		o.Policy = loopback(t, srv.URL)
		o.MaxRequestDocuments = 100
		o.MaxAttempts = 3
		o.RetryBase, o.RetryMax = time.Millisecond, 5*time.Millisecond
	}
}

// TestConformance runs the kind conformance suite against the _bulk fake.
func TestConformance(t *testing.T) {
	delivertest.RunKind(t, delivertest.KindHarness{
		Kind:      opensearch.KindWith(anyLoopback),
		WriteSize: 100,
		NewDestination: func(t *testing.T) *delivertest.Destination {
			srv := opensearchtest.NewServer(opensearchtest.Options{})
			t.Cleanup(srv.Close)
			d, err := opensearch.New(fast(srv, t))
			require.NoError(t, err)
			t.Cleanup(func() { _ = d.Close() })
			return &delivertest.Destination{
				Deliverer: d,
				Config: func(tenantID string) tenant.DeliveryConfig {
					return tenant.DeliveryConfig{TenantID: tenantID, Type: opensearch.KindName, Settings: map[string]any{"url": srv.URL}}
				},
				Received: func() int64 { return int64(srv.Count()) },
				Fail: func(f delivertest.Fault, after int) bool {
					var answer *opensearchtest.Fault
					switch f {
					case delivertest.FaultRetryable:
						answer = &opensearchtest.Fault{Status: 503}
					case delivertest.FaultPermanent:
						answer = &opensearchtest.Fault{Status: 403}
					case delivertest.FaultHang:
						answer = opensearchtest.Hang()
					default:
						return false
					}
					var writes atomic.Int64
					srv.SetHook(func(opensearchtest.Request) *opensearchtest.Fault {
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
