package opensearch_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/opensearch"
	"github.com/logdelivery/logdelivery/deliver/opensearch/opensearchtest"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

var now = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// sliceReader is a RecordReader over records.
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
func (r *sliceReader) Stats() deliver.DecodeStats { return deliver.DecodeStats{Records: int64(r.i)} }
func (r *sliceReader) Close() error               { return nil }

func records(n int) []deliver.Record {
	out := make([]deliver.Record, n)
	for i := range out {
		out[i] = deliver.Record{Time: now.Add(time.Duration(i) * time.Second), Message: fmt.Sprintf("event %d", i),
			Stream: "stdout", Container: "app", Labels: map[string]string{"app": "payments", "app.kubernetes.io/name": "payments"}}
	}
	return out
}

// delivery returns a delivery of recs for tenant acme with settings.
func delivery(recs []deliver.Record, settings map[string]any) *deliver.Delivery {
	return &deliver.Delivery{
		Object: deliver.Object{Bucket: "central", Key: "prod-east-1/acme/payments/payments-0/1764496800.json.gz"},
		Key:    keyparse.Key{Cluster: "prod-east-1", Namespace: "acme", Tenant: "acme", Application: "payments", Pod: "payments-0"},
		Config: tenant.DeliveryConfig{TenantID: "acme", Type: opensearch.KindName, TargetRegion: "eu-west-1", Settings: settings},
		Records: func(context.Context) (deliver.RecordReader, error) {
			return &sliceReader{recs: recs}, nil
		},
	}
}

func newDeliverer(t *testing.T, srv *opensearchtest.Server, optFns ...func(*opensearch.Options)) *opensearch.Deliverer {
	d, err := opensearch.New(append([]func(*opensearch.Options){fast(srv, t)}, optFns...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestDeliversDocuments(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{})
	defer srv.Close()
	d := newDeliverer(t, srv)
	rcpt, err := d.Deliver(context.Background(), delivery(records(250), map[string]any{"url": srv.URL, "include_labels": true}))
	require.NoError(t, err)
	assert.Equal(t, int64(250), rcpt.Events)
	assert.Equal(t, 3, rcpt.Calls, "100 documents a request")
	assert.Equal(t, srv.URL+"/logs-acme-2026.11.30", rcpt.Location)
	assert.Equal(t, []string{"logs-acme-2026.11.30"}, srv.Indexes())

	docs := srv.Documents("logs-acme-2026.11.30")
	require.Len(t, docs, 250)
	assert.Equal(t, map[string]any{
		"@timestamp":  "2026-11-30T10:00:00.000000000Z",
		"message":     "event 0",
		"stream":      "stdout",
		"cluster":     "prod-east-1",
		"application": "payments",
		"kubernetes": map[string]any{"namespace": "acme", "pod": "payments-0", "container": "app",
			"labels": map[string]any{"app": "payments", "app_kubernetes_io/name": "payments"}},
	}, docs[0].Source, "dotted label names would clash with app in the mapping")
	for _, r := range srv.Requests() {
		assert.Equal(t, "/_bulk", r.Path)
		assert.Equal(t, "application/x-ndjson", r.Header.Get("Content-Type"))
		assert.Empty(t, r.Header.Get("Authorization"))
	}
}

// Documents answered 429 are sent again, alone; documents answered 400
// are counted as rejected and never sent again.
func TestDocumentResults(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{})
	defer srv.Close()
	var mu sync.Mutex
	seen := map[string]int{}
	srv.SetDocumentHook(func(doc opensearchtest.Document) int {
		mu.Lock()
		defer mu.Unlock()
		msg := doc.Source["message"].(string)
		seen[msg]++
		switch {
		case msg == "event 3" || msg == "event 7":
			return 400 // a mapping error, say
		case strings.HasSuffix(msg, "5") && seen[msg] == 1:
			return 429
		case msg == "event 9" && seen[msg] <= 2:
			return 503
		}
		return 0
	})
	d := newDeliverer(t, srv)
	rcpt, err := d.Deliver(context.Background(), delivery(records(60), map[string]any{"url": srv.URL}))
	require.NoError(t, err, "rejected documents do not fail the delivery")
	assert.Equal(t, int64(58), rcpt.Events)
	assert.Equal(t, int64(2), rcpt.Rejected)
	assert.Equal(t, 58, srv.Count())
	assert.Equal(t, 3, rcpt.Calls)

	reqs := srv.Requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, 60, reqs[0].Documents)
	assert.Equal(t, 7, reqs[1].Documents, "only the documents answered 429 and 503: events 5, 15, …, 55 and 9")
	assert.Equal(t, 1, reqs[2].Documents, "event 9 once more")
	assert.Equal(t, 1, seen["event 3"], "a rejected document is never sent again")
	for _, msg := range []string{"event 0", "event 4", "event 59"} {
		assert.Equal(t, 1, seen[msg], "accepted documents are not sent again")
	}
}

func TestDocumentRetriesRunOut(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{})
	defer srv.Close()
	srv.SetDocumentHook(func(doc opensearchtest.Document) int {
		if doc.Source["message"] == "event 150" {
			return 429
		}
		return 0
	})
	d := newDeliverer(t, srv)
	rcpt, err := d.Deliver(context.Background(), delivery(records(300), map[string]any{"url": srv.URL}))
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err), "%v", err)
	var de *opensearch.DeliveryError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, int64(199), de.Delivered, "the first request and the second's other 99 documents")
	// The document that failed, and the third request's documents read
	// meanwhile, which are never sent.
	assert.GreaterOrEqual(t, de.NotDelivered, int64(1))
	assert.LessOrEqual(t, de.NotDelivered, int64(101))
	assert.Len(t, srv.Requests(), 4, "the first, the second and its document twice more")
	assert.Equal(t, de.Delivered, rcpt.Events)
	assert.Equal(t, 199, srv.Count())
	assert.ErrorContains(t, err, "gave up after 3 attempts: 1 of 1 documents to be sent again, the first answered 429 es_rejected_execution_exception")
}

func TestRequestRetryAfter(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{})
	defer srv.Close()
	var calls int
	srv.SetHook(func(r opensearchtest.Request) *opensearchtest.Fault {
		calls++
		if r.N == 1 {
			return &opensearchtest.Fault{Status: 429, RetryAfter: "1"}
		}
		return nil
	})
	d := newDeliverer(t, srv, func(o *opensearch.Options) { o.RetryMax = 2 * time.Second })
	start := time.Now()
	rcpt, err := d.Deliver(context.Background(), delivery(records(10), map[string]any{"url": srv.URL}))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "Retry-After is honoured")
	assert.Equal(t, 2, rcpt.Calls)
	assert.Equal(t, int64(10), rcpt.Events)
}

func TestPermanentAnswers(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 413} {
		srv := opensearchtest.NewServer(opensearchtest.Options{Hook: func(opensearchtest.Request) *opensearchtest.Fault {
			return &opensearchtest.Fault{Status: status}
		}})
		d := newDeliverer(t, srv)
		rcpt, err := d.Deliver(context.Background(), delivery(records(10), map[string]any{"url": srv.URL}))
		assert.True(t, fault.IsPermanent(err), "%d: %v", status, err)
		assert.Equal(t, 1, rcpt.Calls, "%d is not retried", status)
		srv.Close()
	}
}

func TestRequestSizeIsBounded(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{})
	defer srv.Close()
	d := newDeliverer(t, srv, func(o *opensearch.Options) { o.MaxRequestDocuments = 0 })
	recs := records(2000)
	big := deliver.Record{Time: now, Message: strings.Repeat("x", 70<<10)}
	recs = append(recs[:1000:1000], append([]deliver.Record{big}, recs[1000:]...)...)
	rcpt, err := d.Deliver(context.Background(), delivery(recs, map[string]any{"url": srv.URL, "max_request_bytes": 64 << 10}))
	require.NoError(t, err)
	assert.Equal(t, int64(2000), rcpt.Events)
	assert.Equal(t, int64(1), rcpt.Dropped, "a document larger than a request is not sent")
	var total int
	for _, r := range srv.Requests() {
		assert.LessOrEqual(t, r.Bytes, 64<<10)
		total += r.Bytes
	}
	assert.Equal(t, (total+64<<10-1)/(64<<10), rcpt.Calls, "as few requests as the bound allows, give or take a document")
}

func TestBasicAuthentication(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "acme"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "acme", "opensearch"), []byte("s3cret\n"), 0o600))
	secrets, err := credentials.NewFileSecrets(dir)
	require.NoError(t, err)
	defer secrets.Close()
	srv := opensearchtest.NewServer(opensearchtest.Options{Username: "logdelivery", Password: "s3cret"})
	defer srv.Close()
	settings := map[string]any{"url": srv.URL, "username": "logdelivery", "password": "file:acme/opensearch"}

	d := newDeliverer(t, srv, func(o *opensearch.Options) { o.Secrets = secrets })
	rcpt, err := d.Deliver(context.Background(), delivery(records(5), settings))
	require.NoError(t, err)
	assert.Equal(t, int64(5), rcpt.Events)

	other := delivery(records(5), map[string]any{"url": srv.URL, "username": "logdelivery", "password": "file:globex/opensearch"})
	_, err = d.Deliver(context.Background(), other)
	require.Error(t, err, "another tenant's secret")
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorIs(t, err, credentials.ErrSecretRefused)

	_, err = newDeliverer(t, srv).Deliver(context.Background(), delivery(records(5), settings))
	assert.True(t, fault.IsPermanent(err), "no Secrets: %v", err)
	assert.NotContains(t, fmt.Sprint(err), "s3cret")

	// Without a password the cluster answers 401, permanently.
	_, err = newDeliverer(t, srv).Deliver(context.Background(), delivery(records(5), map[string]any{"url": srv.URL}))
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorContains(t, err, "401")
}

// hopsChain is a CredentialChain recording the hops it is asked for.
type hopsChain struct {
	mu   sync.Mutex
	hops [][]credentials.Hop
}

func (c *hopsChain) Provider(_ context.Context, _ string, hops ...credentials.Hop) (aws.CredentialsProvider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hops = append(c.hops, hops)
	return awscreds.NewStaticCredentialsProvider("AKIDACME", "acme-secret", "token"), nil
}

func TestSigV4(t *testing.T) {
	for _, service := range []string{"", opensearch.ServiceServerless} {
		t.Run("service="+service, func(t *testing.T) {
			want := service
			if want == "" {
				want = opensearch.ServiceManaged
			}
			srv := opensearchtest.NewServer(opensearchtest.Options{SigV4: &opensearchtest.SigV4{Region: "eu-west-1", Service: want,
				Keys: map[string]string{"AKIDACME": "acme-secret"}}})
			defer srv.Close()
			chain := &hopsChain{}
			d := newDeliverer(t, srv, func(o *opensearch.Options) { o.Chain = chain })
			settings := map[string]any{"url": srv.URL, "aws_role_arn": "arn:aws:iam::222222222222:role/opensearch", "pipeline": "k8s"}
			if service != "" {
				settings["aws_service"] = service
			}
			del := delivery(records(150), settings)
			del.Identity = &tenant.Identity{TenantID: "acme", Accounts: []string{"222222222222"}, ExternalID: "ld-acme"}
			rcpt, err := d.Deliver(context.Background(), del)
			require.NoError(t, err)
			assert.Equal(t, int64(150), rcpt.Events)
			require.Len(t, chain.hops, 1)
			assert.Equal(t, []credentials.Hop{{RoleARN: "arn:aws:iam::222222222222:role/opensearch", ExternalID: "ld-acme", SessionName: "logdelivery-acme"}}, chain.hops[0])
			for _, r := range srv.Requests() {
				assert.Equal(t, "AKIDACME", r.AccessKeyID)
				assert.Equal(t, "k8s", r.Pipeline)
			}

			// A role of another account is refused before any credentials.
			del = delivery(records(1), settings)
			del.Identity = &tenant.Identity{TenantID: "acme", Accounts: []string{"999999999999"}, ExternalID: "x"}
			_, err = d.Deliver(context.Background(), del)
			assert.True(t, fault.IsPermanent(err))
			assert.ErrorContains(t, err, "aws_role_arn: account 222222222222 is not one of tenant \"acme\"'s accounts")
			assert.Len(t, chain.hops, 1)
		})
	}
}

func TestSigV4WrongKeyIsRefused(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{SigV4: &opensearchtest.SigV4{Region: "eu-west-1", Service: "es",
		Keys: map[string]string{"AKIDACME": "another-secret"}}})
	defer srv.Close()
	d := newDeliverer(t, srv, func(o *opensearch.Options) { o.Chain = &hopsChain{} })
	_, err := d.Deliver(context.Background(), delivery(records(3), map[string]any{"url": srv.URL, "aws_role_arn": "arn:aws:iam::222222222222:role/opensearch"}))
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorContains(t, err, "403")
	assert.ErrorContains(t, err, "signature")
	assert.Zero(t, srv.Count())

	_, err = newDeliverer(t, srv).Deliver(context.Background(), delivery(records(3), map[string]any{"url": srv.URL, "aws_role_arn": "arn:aws:iam::222222222222:role/opensearch"}))
	assert.True(t, fault.IsPermanent(err), "no chain: %v", err)
}

func TestHeaders(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{})
	defer srv.Close()
	d := newDeliverer(t, srv, func(o *opensearch.Options) {
		o.Header = func(d *deliver.Delivery) http.Header {
			return http.Header{"AccountID": {"42"}} // the operator's, for tenant d.Config.TenantID
		}
	})
	_, err := d.Deliver(context.Background(), delivery(records(3), map[string]any{"url": srv.URL,
		"headers": map[string]any{"AccountID": "7", "X-Scope": "acme"}}))
	require.NoError(t, err)
	h := srv.Requests()[0].Header
	assert.Equal(t, "acme", h.Get("X-Scope"))
	assert.Equal(t, []string{"42"}, h.Values("AccountID"), "the operator's header overrides the tenant's")
	assert.Equal(t, "logdelivery", h.Get("User-Agent"))
}

// The URL is checked at delivery too: a config whose host the policy
// refuses fails permanently without a connection.
func TestEgressIsEnforced(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{})
	defer srv.Close()
	d, err := opensearch.New()
	require.NoError(t, err)
	del := delivery(records(3), nil)
	del.Settings = &opensearch.Settings{URL: srv.URL}
	_, err = d.Deliver(context.Background(), del)
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorContains(t, err, "not allowed")
	assert.Empty(t, srv.Requests())
}

func TestNewRefusesInvalidOptions(t *testing.T) {
	for name, fn := range map[string]func(*opensearch.Options){
		"request bytes":  func(o *opensearch.Options) { o.MaxRequestBytes = 100 },
		"too many bytes": func(o *opensearch.Options) { o.MaxRequestBytes = 200 << 20 },
		"negative":       func(o *opensearch.Options) { o.MaxAttempts = -1 },
		"policy":         func(o *opensearch.Options) { o.Policy.Ports = []int{70000} },
	} {
		_, err := opensearch.New(fn)
		assert.Error(t, err, name)
	}
}
