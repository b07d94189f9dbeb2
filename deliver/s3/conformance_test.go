package s3

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/tenant"
)

// conformancePartSize is the multipart threshold and part size of the
// conformance deliverer, so that the suite's large objects are copied in
// several parts.
const conformancePartSize = 1024

// TestConformance runs the kind conformance suite against gofakes3 through
// the real SDK client: objects are put in the central bucket and copied
// server-side, small ones with CopyObject, large ones in parts.
func TestConformance(t *testing.T) {
	delivertest.RunKind(t, delivertest.KindHarness{
		Kind:      Kind(),
		WriteSize: conformancePartSize,
		NewDestination: func(t *testing.T) *delivertest.Destination {
			f := newFixture(t)
			d := f.deliverer(t, func(o *Options) {
				o.MultipartThreshold = conformancePartSize
				o.PartSize = conformancePartSize
				o.Concurrency = 1 // parts in order: "after n writes" is exact
			})
			released := make(chan struct{})
			t.Cleanup(func() { close(released) }) // before the server closes
			return &delivertest.Destination{
				Deliverer: d,
				Config: func(tenantID string) tenant.DeliveryConfig {
					return tenant.DeliveryConfig{TenantID: tenantID, Type: KindName, Settings: map[string]any{
						"bucket_name": target, "bucket_prefix": "logs/",
					}}
				},
				Source: func(key string, body []byte) deliver.Object {
					f.put(t, key, body, "application/x-ndjson", "")
					return deliver.Object{Bucket: central, Key: key, Size: int64(len(body))}
				},
				Received: func() int64 {
					out, err := f.client.ListObjectsV2(ctx(t), &awss3.ListObjectsV2Input{Bucket: aws.String(target)})
					require.NoError(t, err)
					return int64(aws.ToInt32(out.KeyCount))
				},
				Fail: func(fault delivertest.Fault, after int) bool {
					var answer func(w http.ResponseWriter, r *http.Request)
					switch fault {
					case delivertest.FaultRetryable:
						answer = func(w http.ResponseWriter, _ *http.Request) { s3Error(w, http.StatusServiceUnavailable, "SlowDown") }
					case delivertest.FaultPermanent:
						answer = func(w http.ResponseWriter, _ *http.Request) { s3Error(w, http.StatusForbidden, "AccessDenied") }
					case delivertest.FaultHang:
						answer = func(w http.ResponseWriter, r *http.Request) {
							select {
							case <-r.Context().Done():
							case <-released:
							}
							panic(http.ErrAbortHandler) // no answer
						}
					default:
						return false
					}
					var writes atomic.Int64
					f.rec.setIntercept(func(w http.ResponseWriter, r *http.Request, rec recorded) bool {
						switch rec.op() {
						case "CopyObject", "UploadPartCopy", "CompleteMultipartUpload":
						default:
							return false
						}
						if writes.Add(1) <= int64(after) {
							return false
						}
						answer(w, r)
						return true
					})
					return true
				},
			}
		},
	})
}
