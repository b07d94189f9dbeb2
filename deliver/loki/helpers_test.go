package loki_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/loki"
	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// loopback is the egress policy of tests: plain HTTP to the fakes on
// loopback, which listen on ephemeral ports.
func loopback() egress.Policy {
	p := egress.Policy{AllowHTTP: true, AllowLoopback: true}
	for port := 1024; port <= 65535; port++ {
		p.Ports = append(p.Ports, port)
	}
	return p
}

var testPolicy = loopback()

// newDeliverer returns a deliverer for the fakes, with fast retries.
func newDeliverer(t testing.TB, optFns ...func(*loki.Options)) *loki.Deliverer {
	t.Helper()
	dv, err := loki.New(append([]func(*loki.Options){func(o *loki.Options) {
		o.Egress = testPolicy
		o.MaxAttempts = 4
		o.RetryBase, o.RetryMax = time.Millisecond, 10*time.Millisecond
	}}, optFns...)...)
	require.NoError(t, err)
	t.Cleanup(func() { dv.Close() })
	return dv
}

func newFake(t testing.TB, opts lokitest.Options) *lokitest.Server {
	srv := lokitest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// config returns a Loki config of tenant acme pushing to url.
func config(url string, settings map[string]any) tenant.DeliveryConfig {
	s := map[string]any{"url": url}
	for k, v := range settings {
		s[k] = v
	}
	return tenant.DeliveryConfig{TenantID: "acme", Type: loki.KindName, Settings: s}
}

var testKey = keyparse.Key{Cluster: "prod-1", Namespace: "shop", Tenant: "acme", Application: "api", Pod: "api-0", File: "1764496800.json"}

// delivery returns a delivery of recs with cfg, its settings decoded by the
// deliverer's kind as the Dispatcher decodes them.
func delivery(t testing.TB, dv *loki.Deliverer, cfg tenant.DeliveryConfig, recs []deliver.Record) *deliver.Delivery {
	t.Helper()
	reg, err := deliver.NewRegistry([]deliver.Kind{dv.Kind()})
	require.NoError(t, err)
	s, err := reg.Settings(cfg)
	require.NoError(t, err)
	return &deliver.Delivery{
		Object:   deliver.Object{Bucket: "central", Key: "prod-1/acme/api/api-0/1764496800.json", Time: t0},
		Key:      testKey,
		Config:   cfg,
		Settings: s,
		Records: func(context.Context) (deliver.RecordReader, error) {
			return &sliceReader{recs: recs}, nil
		},
	}
}

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// records returns n records of the test key's pod, a nanosecond apart
// after a millisecond each.
func records(n int, format string) []deliver.Record {
	recs := make([]deliver.Record, n)
	for i := range recs {
		recs[i] = deliver.Record{
			Time:    t0.Add(time.Duration(i)*time.Millisecond + time.Duration(i%7)),
			Message: fmt.Sprintf(format, i),
		}
	}
	return recs
}

type sliceReader struct {
	recs []deliver.Record
	i    int
}

func (r *sliceReader) Next() (deliver.Record, error) {
	if r.i >= len(r.recs) {
		return deliver.Record{}, io.EOF
	}
	r.i++
	return r.recs[r.i-1], nil
}

func (r *sliceReader) Stats() deliver.DecodeStats {
	return deliver.DecodeStats{Records: int64(r.i), Lines: int64(r.i)}
}
func (r *sliceReader) Close() error { return nil }

// secrets is a credentials.Secrets of fixed values by reference.
type secrets map[string]string

func (s secrets) Secret(_ context.Context, tenantID string, ref credentials.SecretRef) (credentials.Secret, error) {
	v, ok := s[tenantID+" "+ref.String()]
	if !ok {
		return credentials.Secret{}, fault.Permanent(&credentials.SecretError{TenantID: tenantID, Ref: ref, Err: errors.New("no such secret")})
	}
	return credentials.NewSecret(v), nil
}
