package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

const (
	central = "central-logs"
	target  = "tenant-bucket"
)

// recorded is one request the fake received.
type recorded struct {
	Method  string
	Path    string // escaped, as sent
	Query   url.Values
	Header  http.Header
	Handled bool // answered by the interceptor, not the fake
}

func (r recorded) op() string {
	switch {
	case r.Method == http.MethodHead:
		return "HeadObject"
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "" && r.Query.Has("partNumber"):
		return "UploadPartCopy"
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		return "CopyObject"
	case r.Method == http.MethodPost && r.Query.Has("uploads"):
		return "CreateMultipartUpload"
	case r.Method == http.MethodPost && r.Query.Has("uploadId"):
		return "CompleteMultipartUpload"
	case r.Method == http.MethodDelete && r.Query.Has("uploadId"):
		return "AbortMultipartUpload"
	}
	return r.Method
}

// recorder wraps the fake: it records every request and lets a test answer
// some itself (to inject failures).
type recorder struct {
	next http.Handler

	mu        sync.Mutex
	reqs      []recorded
	intercept func(w http.ResponseWriter, r *http.Request, rec recorded) bool
}

func (h *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := recorded{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Header: r.Header.Clone()}
	h.mu.Lock()
	intercept := h.intercept
	h.mu.Unlock()
	handled := intercept != nil && intercept(w, r, rec)
	rec.Handled = handled
	h.mu.Lock()
	h.reqs = append(h.reqs, rec)
	h.mu.Unlock()
	if !handled {
		h.next.ServeHTTP(w, r)
	}
}

func (h *recorder) setIntercept(f func(w http.ResponseWriter, r *http.Request, rec recorded) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.intercept = f
}

// ops returns the operations received, in order, and clears the record.
func (h *recorder) take() []recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.reqs
	h.reqs = nil
	return out
}

func ops(reqs []recorded) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.op()
	}
	return out
}

func find(t *testing.T, reqs []recorded, op string) recorded {
	t.Helper()
	for _, r := range reqs {
		if r.op() == op {
			return r
		}
	}
	t.Fatalf("no %s request among %v", op, ops(reqs))
	return recorded{}
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected %s</Message><RequestId>r1</RequestId></Error>`, code, code)
}

type fixture struct {
	rec     *recorder
	backend *s3mem.Backend
	cfg     aws.Config
	client  *awss3.Client // the test's own client, for setup and checks
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	backend := s3mem.New()
	rec := &recorder{next: gofakes3.New(backend).Server()}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	f := &fixture{
		rec:     rec,
		backend: backend,
		cfg: aws.Config{
			Region:       "us-east-1",
			Credentials:  awscreds.NewStaticCredentialsProvider("AKIDCENTRAL", "secret", ""),
			BaseEndpoint: aws.String(srv.URL),
			HTTPClient:   srv.Client(),
			Retryer: func() aws.Retryer {
				return retry.NewStandard(func(o *retry.StandardOptions) {
					o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
					o.RateLimiter = ratelimit.None
				})
			},
		},
	}
	f.client = awss3.NewFromConfig(f.cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	for _, b := range []string{central, target} {
		_, err := f.client.CreateBucket(ctx(t), &awss3.CreateBucketInput{Bucket: aws.String(b)})
		require.NoError(t, err)
	}
	return f
}

func (f *fixture) deliverer(t testing.TB, optFns ...func(*Options)) *Deliverer {
	t.Helper()
	fns := append([]func(*Options){func(o *Options) {
		o.AWSConfig = f.cfg
		o.UsePathStyle = true
		o.Now = func() time.Time { return time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC) }
	}}, optFns...)
	d, err := New(credentials.Static{Credentials: f.cfg.Credentials}, fns...)
	require.NoError(t, err)
	return d
}

func (f *fixture) put(t testing.TB, key string, body []byte, contentType, contentEncoding string) {
	t.Helper()
	in := &awss3.PutObjectInput{Bucket: aws.String(central), Key: aws.String(key), Body: bytes.NewReader(body)}
	in.ContentType = optional(contentType)
	in.ContentEncoding = optional(contentEncoding)
	_, err := f.client.PutObject(ctx(t), in)
	require.NoError(t, err)
	f.rec.take()
}

func (f *fixture) get(t *testing.T, key string) (*awss3.GetObjectOutput, []byte) {
	t.Helper()
	out, err := f.client.GetObject(ctx(t), &awss3.GetObjectInput{Bucket: aws.String(target), Key: aws.String(key)})
	require.NoError(t, err, "destination object %s", key)
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return out, b
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

var testKey = keyparse.Key{Cluster: "prod-1", Namespace: "acme", Tenant: "acme", Application: "payments", Pod: "payments-7d9f", File: "1732212000-0001.json.gz"}

func delivery(t testing.TB, k keyparse.Key, cfg tenant.DeliveryConfig) *deliver.Delivery {
	t.Helper()
	src, err := keyparse.Default().Format(k)
	require.NoError(t, err)
	return &deliver.Delivery{Object: deliver.Object{Bucket: central, Key: src}, Key: k, Config: cfg}
}

func s3Config(mods ...func(*tenant.DeliveryConfig)) tenant.DeliveryConfig {
	c := tenant.DeliveryConfig{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": target, "bucket_prefix": "/logs/acme//"}}
	for _, m := range mods {
		m(&c)
	}
	return c
}

func TestDeliverCopiesWithMetadata(t *testing.T) {
	f := newFixture(t)
	body := bytes.Repeat([]byte(`{"message":"hello"}`+"\n"), 100)
	dl := delivery(t, testKey, s3Config())
	f.put(t, dl.Object.Key, body, "application/x-ndjson", "gzip")

	rcpt, err := f.deliverer(t).Deliver(ctx(t), dl)
	require.NoError(t, err)

	wantKey := "logs/acme/acme/prod-1/payments/payments-7d9f/1732212000-0001.json.gz"
	assert.Equal(t, deliver.Receipt{Objects: 1, Bytes: int64(len(body)), Calls: 1, Location: "s3://" + target + "/" + wantKey}, rcpt)

	reqs := f.rec.take()
	assert.Equal(t, []string{"HeadObject", "CopyObject"}, ops(reqs))
	cp := find(t, reqs, "CopyObject")
	assert.Equal(t, "bucket-owner-full-control", cp.Header.Get("X-Amz-Acl"), "the ACL header is sent")
	assert.Equal(t, "REPLACE", cp.Header.Get("X-Amz-Metadata-Directive"))
	assert.Empty(t, cp.Header.Get("X-Amz-Server-Side-Encryption"), "the bucket's default encryption applies")
	assert.Empty(t, cp.Header.Get("X-Amz-Expected-Bucket-Owner"), "no owner in the config")
	assert.NotEmpty(t, cp.Header.Get("X-Amz-Copy-Source-If-Match"), "the copy is pinned to the object that was inspected")
	assert.Equal(t, central+"/prod-1/acme/payments/payments-7d9f/1732212000-0001.json.gz", cp.Header.Get("X-Amz-Copy-Source"))

	out, got := f.get(t, wantKey)
	assert.Equal(t, body, got)
	assert.Equal(t, "application/x-ndjson", aws.ToString(out.ContentType))
	assert.Equal(t, "gzip", aws.ToString(out.ContentEncoding))
	assert.Equal(t, map[string]string{
		MetaSourceBucket: central,
		MetaSourceKey:    dl.Object.Key,
		MetaTenant:       "acme",
		MetaCluster:      "prod-1",
		MetaApplication:  "payments",
		MetaPod:          "payments-7d9f",
		MetaDeliveredAt:  "2026-11-21T20:00:00Z",
	}, out.Metadata)
}

func TestDeliverEncryptionAndOwnerHeaders(t *testing.T) {
	f := newFixture(t)
	// gofakes3 refuses SSE-KMS, so the recorder notes the headers and strips
	// them before the fake sees the request.
	f.rec.setIntercept(func(w http.ResponseWriter, r *http.Request, _ recorded) bool {
		r.Header.Del("X-Amz-Server-Side-Encryption")
		r.Header.Del("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")
		r.Header.Del("X-Amz-Expected-Bucket-Owner")
		return false
	})
	kms := "arn:aws:kms:us-east-1:222222222222:key/0b7d7a52-0d6c-4c1b-9a44-3f2a1b8e9c01"
	dl := delivery(t, testKey, s3Config(func(c *tenant.DeliveryConfig) {
		c.Settings["kms_key_id"] = kms
		c.Settings["bucket_owner"] = "222222222222"
	}))
	f.put(t, dl.Object.Key, []byte("x"), "", "")
	_, err := f.deliverer(t).Deliver(ctx(t), dl)
	require.NoError(t, err)
	cp := find(t, f.rec.take(), "CopyObject")
	assert.Equal(t, "aws:kms", cp.Header.Get("X-Amz-Server-Side-Encryption"))
	assert.Equal(t, kms, cp.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"))
	assert.Equal(t, "222222222222", cp.Header.Get("X-Amz-Expected-Bucket-Owner"))
}

func TestDeliverAwkwardKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  keyparse.Key
	}{
		{"space", keyparse.Key{Cluster: "c 1", Namespace: "acme", Tenant: "acme", Application: "my app", Pod: "p", File: "a b.json.gz"}},
		{"plus", keyparse.Key{Cluster: "c+1", Namespace: "acme", Tenant: "acme", Application: "app", Pod: "p+q", File: "a+b.json"}},
		{"unicode", keyparse.Key{Cluster: "集群", Namespace: "acme", Tenant: "acme", Application: "zahlungsdienst-ü", Pod: "pöd", File: "日志 ✓.gz"}},
		{"reserved", keyparse.Key{Cluster: "c", Namespace: "acme", Tenant: "acme", Application: "a&b=c", Pod: "p?q#r", File: "100%;x,y@z$.gz"}},
		{"percent-looking", keyparse.Key{Cluster: "c%2B", Namespace: "acme", Tenant: "acme", Application: "app%20x", Pod: "p", File: "f%"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			body := []byte("payload of " + tc.name)
			dl := delivery(t, tc.key, s3Config())
			f.put(t, dl.Object.Key, body, "text/plain", "")
			rcpt, err := f.deliverer(t).Deliver(ctx(t), dl)
			require.NoError(t, err)

			cp := find(t, f.rec.take(), "CopyObject")
			src := cp.Header.Get("X-Amz-Copy-Source")
			assert.NotContains(t, src, " ")
			assert.NotContains(t, src, "+")
			decoded, err := url.PathUnescape(src)
			require.NoError(t, err)
			assert.Equal(t, central+"/"+dl.Object.Key, decoded, "the copy source decodes to the source key")

			destKey := strings.TrimPrefix(rcpt.Location, "s3://"+target+"/")
			out, got := f.get(t, destKey)
			assert.Equal(t, body, got)
			gotKey, err := url.PathUnescape(out.Metadata[MetaSourceKey])
			require.NoError(t, err)
			assert.Equal(t, dl.Object.Key, gotKey, "the source key metadata decodes to the source key")
		})
	}
}

func FuzzCopySource(f *testing.F) {
	for _, k := range []string{"a b/c+d", "日志 ✓.gz", "100%;x,y@z$", "?versionId=x", ""} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		src := copySource("bucket", key, "")
		for _, r := range src {
			if r <= ' ' || r >= 0x7f || strings.ContainsRune("+?#&", r) {
				t.Fatalf("copy source %q has %q unescaped", src, r)
			}
		}
		got, err := url.PathUnescape(src)
		if err != nil || got != "bucket/"+key {
			t.Fatalf("copy source %q decodes to %q, %v", src, got, err)
		}
		mv, err := url.PathUnescape(metaValue(key))
		if err != nil || mv != key {
			t.Fatalf("metadata value of %q decodes to %q, %v", key, mv, err)
		}
	})
}

func TestCopySourceEncoding(t *testing.T) {
	assert.Equal(t, "b/a%20b/c%2Bd/%C3%BC", copySource("b", "a b/c+d/ü", ""))
	assert.Equal(t, "b/k?versionId=3%2FL4kqtJl%2B", copySource("b", "k", "3/L4kqtJl+"))
	assert.Equal(t, "plain-ascii ok", metaValue("plain-ascii ok"))
	assert.Equal(t, "%C3%BC%25", metaValue("ü%"))
}

func TestMetadataStaysUnderTheLimit(t *testing.T) {
	d, err := New(credentials.Static{})
	require.NoError(t, err)
	long := strings.Repeat("日", 300) // 900 bytes, 2700 percent-encoded
	k := keyparse.Key{Cluster: "c", Tenant: "acme", Application: "app", Pod: "p", File: long}
	dl := &deliver.Delivery{Object: deliver.Object{Bucket: central, Key: "c/acme/app/p/" + long}, Key: k}

	m := d.metadata(dl, map[string]string{"Inherited": "yes"})
	assert.LessOrEqual(t, metadataSize(m), maxMetadataSize)
	assert.NotContains(t, m, MetaSourceKey)
	assert.NotContains(t, m, "inherited")
	assert.Equal(t, "acme", m[MetaTenant])

	dl.Object.Key, dl.Key.File = "c/acme/app/p/f", "f"
	m = d.metadata(dl, map[string]string{"Inherited": "yes"})
	assert.Equal(t, "yes", m["inherited"], "the source's metadata is kept when it fits")
	assert.Equal(t, "c/acme/app/p/f", m[MetaSourceKey])
}

func TestDeliverVersionedSource(t *testing.T) {
	f := newFixture(t)
	dl := delivery(t, testKey, s3Config())
	f.put(t, dl.Object.Key, []byte("v"), "", "")
	dl.Object.VersionID = "3HL4kqtJl+40Nvw"
	_, err := f.deliverer(t).Deliver(ctx(t), dl)
	require.NoError(t, err)
	reqs := f.rec.take()
	assert.Equal(t, "3HL4kqtJl+40Nvw", find(t, reqs, "HeadObject").Query.Get("versionId"))
	assert.True(t, strings.HasSuffix(find(t, reqs, "CopyObject").Header.Get("X-Amz-Copy-Source"), "?versionId=3HL4kqtJl%2B40Nvw"))
}

func TestDeliverIsIdempotent(t *testing.T) {
	f := newFixture(t)
	body := []byte("same bytes")
	dl := delivery(t, testKey, s3Config())
	f.put(t, dl.Object.Key, body, "application/json", "")
	d := f.deliverer(t)
	first, err := d.Deliver(ctx(t), dl)
	require.NoError(t, err)
	second, err := d.Deliver(ctx(t), dl)
	require.NoError(t, err)
	assert.Equal(t, first, second)

	list, err := f.client.ListObjectsV2(ctx(t), &awss3.ListObjectsV2Input{Bucket: aws.String(target)})
	require.NoError(t, err)
	require.Len(t, list.Contents, 1, "one destination object")
	_, got := f.get(t, aws.ToString(list.Contents[0].Key))
	assert.Equal(t, body, got)
}

func TestDeliverCrossRegion(t *testing.T) {
	f := newFixture(t)
	dl := delivery(t, testKey, s3Config(func(c *tenant.DeliveryConfig) { c.TargetRegion = "eu-west-1" }))
	f.put(t, dl.Object.Key, []byte("x"), "", "")
	var regions []string
	d := f.deliverer(t, func(o *Options) {
		o.NewClient = func(region string, creds aws.CredentialsProvider) Client {
			regions = append(regions, region)
			return awss3.NewFromConfig(f.cfg, func(so *awss3.Options) {
				so.Region, so.Credentials, so.UsePathStyle = region, creds, true
			})
		}
	})
	_, err := d.Deliver(ctx(t), dl)
	require.NoError(t, err)
	assert.Equal(t, []string{"us-east-1", "eu-west-1"}, regions, "a client for the source's region and one for the tenant's")
	reqs := f.rec.take()
	assert.Contains(t, find(t, reqs, "HeadObject").Header.Get("Authorization"), "/us-east-1/s3/aws4_request", "the source is read in the central region")
	assert.Contains(t, find(t, reqs, "CopyObject").Header.Get("Authorization"), "/eu-west-1/s3/aws4_request", "the copy is sent to the tenant bucket's region")
}

func TestDeliverMultipart(t *testing.T) {
	f := newFixture(t)
	body := make([]byte, 100)
	for i := range body {
		body[i] = byte(i)
	}
	dl := delivery(t, testKey, s3Config(func(c *tenant.DeliveryConfig) { c.Settings["bucket_owner"] = "" }))
	f.put(t, dl.Object.Key, body, "application/x-ndjson", "gzip")

	// Parts are held until three are in flight at once: the copy is
	// parallel (or the test fails at the deadline) and bounded.
	const limit = 3
	var (
		mu       sync.Mutex
		inFlight int
		maxSeen  int
		release  = make(chan struct{})
	)
	f.rec.setIntercept(func(w http.ResponseWriter, r *http.Request, rec recorded) bool {
		if rec.op() != "UploadPartCopy" {
			return false
		}
		mu.Lock()
		inFlight++
		maxSeen = max(maxSeen, inFlight)
		if inFlight == limit {
			select {
			case <-release:
			default:
				close(release)
			}
		}
		mu.Unlock()
		select {
		case <-release:
		case <-time.After(10 * time.Second):
			t.Error("parts were not copied in parallel")
		}
		// The fake's answer is written after the bookkeeping.
		mu.Lock()
		inFlight--
		mu.Unlock()
		return false
	})

	d := f.deliverer(t, func(o *Options) {
		o.MultipartThreshold = 10
		o.PartSize = 7
		o.Concurrency = limit
	})
	rcpt, err := d.Deliver(ctx(t), dl)
	require.NoError(t, err)
	assert.Equal(t, 1, rcpt.Objects)
	assert.Equal(t, int64(100), rcpt.Bytes)
	assert.Equal(t, 1+15+1, rcpt.Calls, "create, 15 parts, complete")
	assert.LessOrEqual(t, maxSeen, limit, "parts in flight are bounded")

	reqs := f.rec.take()
	create := find(t, reqs, "CreateMultipartUpload")
	assert.Equal(t, "bucket-owner-full-control", create.Header.Get("X-Amz-Acl"))
	assert.Empty(t, create.Header.Get("X-Amz-Server-Side-Encryption"), "the bucket's default encryption applies")
	ranges := map[string]bool{}
	for _, r := range reqs {
		if r.op() == "UploadPartCopy" {
			ranges[r.Header.Get("X-Amz-Copy-Source-Range")] = true
			assert.NotEmpty(t, r.Header.Get("X-Amz-Copy-Source-If-Match"))
		}
	}
	assert.Len(t, ranges, 15)
	assert.True(t, ranges["bytes=0-6"] && ranges["bytes=98-99"], "first and last ranges: %v", ranges)

	out, got := f.get(t, strings.TrimPrefix(rcpt.Location, "s3://"+target+"/"))
	assert.Equal(t, body, got)
	assert.Equal(t, "application/x-ndjson", aws.ToString(out.ContentType))
	assert.Equal(t, "gzip", aws.ToString(out.ContentEncoding))
	assert.Equal(t, "payments", out.Metadata[MetaApplication])
}

func TestDeliverMultipartFailureAborts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		code      string
		retryable bool
	}{
		{"access denied", http.StatusForbidden, "AccessDenied", false},
		{"slow down", http.StatusServiceUnavailable, "SlowDown", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dl := delivery(t, testKey, s3Config())
			f.put(t, dl.Object.Key, bytes.Repeat([]byte("z"), 50), "", "")
			f.rec.setIntercept(func(w http.ResponseWriter, r *http.Request, rec recorded) bool {
				if rec.op() == "UploadPartCopy" && rec.Query.Get("partNumber") == "3" {
					s3Error(w, tc.status, tc.code)
					return true
				}
				return false
			})
			d := f.deliverer(t, func(o *Options) {
				o.MultipartThreshold = 10
				o.PartSize = 10
				o.Concurrency = 2
			})
			_, err := d.Deliver(ctx(t), dl)
			require.Error(t, err)
			assert.Equal(t, tc.retryable, fault.IsRetryable(err), "%v", err)
			assert.Contains(t, err.Error(), "part 3")

			reqs := f.rec.take()
			find(t, reqs, "CreateMultipartUpload")
			abort := find(t, reqs, "AbortMultipartUpload")
			assert.NotContains(t, ops(reqs), "CompleteMultipartUpload")
			assert.NotEmpty(t, abort.Query.Get("uploadId"))

			uploads, err := f.client.ListMultipartUploads(ctx(t), &awss3.ListMultipartUploadsInput{Bucket: aws.String(target)})
			require.NoError(t, err)
			assert.Empty(t, uploads.Uploads, "the upload is aborted")
			list, err := f.client.ListObjectsV2(ctx(t), &awss3.ListObjectsV2Input{Bucket: aws.String(target)})
			require.NoError(t, err)
			assert.Empty(t, list.Contents, "nothing is left in the tenant bucket")
		})
	}
}

func TestDeliverErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		code      string
		retryable bool
		calls     int
	}{
		{"access denied", http.StatusForbidden, "AccessDenied", false, 1},
		{"wrong owner", http.StatusForbidden, "AccessDenied", false, 1},
		{"slow down", http.StatusServiceUnavailable, "SlowDown", true, 3},
		{"internal error", http.StatusInternalServerError, "InternalError", true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dl := delivery(t, testKey, s3Config(func(c *tenant.DeliveryConfig) { c.Settings["bucket_owner"] = "333333333333" }))
			f.put(t, dl.Object.Key, []byte("x"), "", "")
			f.rec.setIntercept(func(w http.ResponseWriter, r *http.Request, rec recorded) bool {
				if rec.op() == "CopyObject" {
					s3Error(w, tc.status, tc.code)
					return true
				}
				return false
			})
			rcpt, err := f.deliverer(t).Deliver(ctx(t), dl)
			require.Error(t, err)
			assert.Equal(t, tc.retryable, fault.IsRetryable(err), "%v", err)
			assert.Equal(t, tc.calls, rcpt.Calls, "attempts, SDK retries included")
			assert.Zero(t, rcpt.Objects)
			assert.Contains(t, err.Error(), "s3://"+target+"/logs/acme/", "the error names the destination")
		})
	}

	t.Run("no such bucket", func(t *testing.T) {
		f := newFixture(t)
		dl := delivery(t, testKey, s3Config(func(c *tenant.DeliveryConfig) { c.Settings["bucket_name"] = "missing-bucket" }))
		f.put(t, dl.Object.Key, []byte("x"), "", "")
		_, err := f.deliverer(t).Deliver(ctx(t), dl)
		require.Error(t, err)
		assert.True(t, fault.IsPermanent(err), "%v", err)
		assert.Contains(t, err.Error(), "NoSuchBucket")
	})
	t.Run("source gone", func(t *testing.T) {
		f := newFixture(t)
		_, err := f.deliverer(t).Deliver(ctx(t), delivery(t, testKey, s3Config()))
		require.Error(t, err)
		assert.True(t, fault.IsPermanent(err), "%v", err)
		assert.Contains(t, err.Error(), "head source")
	})
	t.Run("not an s3 config", func(t *testing.T) {
		f := newFixture(t)
		_, err := f.deliverer(t).Deliver(ctx(t), delivery(t, testKey, s3Config(func(c *tenant.DeliveryConfig) { c.Type = "cloudwatch" })))
		assert.True(t, fault.IsPermanent(err), "%v", err)
	})
	t.Run("credentials", func(t *testing.T) {
		f := newFixture(t)
		boom := errors.New("sts unavailable")
		d, err := New(chainFunc(func(context.Context, string, ...credentials.Hop) (aws.CredentialsProvider, error) { return nil, boom }),
			func(o *Options) { o.AWSConfig = f.cfg })
		require.NoError(t, err)
		_, err = d.Deliver(ctx(t), delivery(t, testKey, s3Config()))
		assert.ErrorIs(t, err, boom)
		assert.True(t, fault.IsRetryable(err))
	})
}

type chainFunc func(ctx context.Context, region string, hops ...credentials.Hop) (aws.CredentialsProvider, error)

func (f chainFunc) Provider(ctx context.Context, region string, hops ...credentials.Hop) (aws.CredentialsProvider, error) {
	return f(ctx, region, hops...)
}

func TestDeliverUsesCentralCredentialsWithoutHops(t *testing.T) {
	f := newFixture(t)
	dl := delivery(t, testKey, s3Config(func(c *tenant.DeliveryConfig) { c.TargetRegion = "us-east-1" }))
	f.put(t, dl.Object.Key, []byte("x"), "", "")
	var calls []string
	chain := chainFunc(func(_ context.Context, region string, hops ...credentials.Hop) (aws.CredentialsProvider, error) {
		calls = append(calls, fmt.Sprintf("%s/%d", region, len(hops)))
		return f.cfg.Credentials, nil
	})
	d, err := New(chain, func(o *Options) { o.AWSConfig, o.UsePathStyle = f.cfg, true })
	require.NoError(t, err)
	_, err = d.Deliver(ctx(t), dl)
	require.NoError(t, err)
	assert.Equal(t, []string{"us-east-1/0"}, calls)
}

func TestNewRejectsBadTemplate(t *testing.T) {
	_, err := New(credentials.Static{}, func(o *Options) { o.KeyTemplate = "{bucket_prefix}{nope" })
	assert.ErrorIs(t, err, keyparse.ErrInvalidTemplate)
}

func TestOpener(t *testing.T) {
	f := newFixture(t)
	body := []byte("line\n")
	f.put(t, "c/acme/app/pod/f.gz", body, "application/x-ndjson", "gzip")
	o := NewOpener(f.client)
	b, err := o.Open(ctx(t), deliver.Object{Bucket: central, Key: "c/acme/app/pod/f.gz"})
	require.NoError(t, err)
	defer b.Close()
	got, err := io.ReadAll(b)
	require.NoError(t, err)
	assert.Equal(t, body, got)
	assert.Equal(t, "application/x-ndjson", b.ContentType)
	assert.Equal(t, "gzip", b.ContentEncoding)
	assert.Equal(t, int64(len(body)), b.Size)
	assert.False(t, b.LastModified.IsZero())

	_, err = o.Open(ctx(t), deliver.Object{Bucket: central, Key: "missing"})
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err), "%v", err)
	assert.Contains(t, err.Error(), "NoSuchKey")
}

// BenchmarkDeliver copies a 64 KiB object through the SDK and gofakes3
// (HTTP included): the deliverer's overhead per object, and its calls.
func BenchmarkDeliver(b *testing.B) {
	f := newFixture(b)
	dl := delivery(b, testKey, s3Config())
	f.put(b, dl.Object.Key, bytes.Repeat([]byte("x"), 64<<10), "application/x-ndjson", "gzip")
	d := f.deliverer(b)
	b.ReportAllocs()
	calls := 0
	for b.Loop() {
		rcpt, err := d.Deliver(context.Background(), dl)
		if err != nil {
			b.Fatal(err)
		}
		calls += rcpt.Calls
	}
	b.ReportMetric(float64(calls)/float64(b.N), "writes/op")
	b.ReportMetric(float64(len(f.rec.take()))/float64(b.N), "requests/op")
}
