package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// referenceScanEnv is the reference's processor environment for its scan
// mode: k8s/processor/overlays/local-test/config-patch.yaml and
// deployment-patch.yaml of openshift-online/rosa-log-router (its local
// integration test), pointed at moto. SCAN_INTERVAL is 1 rather than 10,
// to keep the test short.
func referenceScanEnv(t *testing.T, srv *mototest.Server) {
	for k, v := range map[string]string{
		"EXECUTION_MODE":                    "scan",
		"AWS_REGION":                        "us-east-1",
		"MAX_BATCH_SIZE":                    "100",
		"RETRY_ATTEMPTS":                    "3",
		"LOG_LEVEL":                         "DEBUG",
		"SOURCE_BUCKET":                     "test-logs",
		"SCAN_INTERVAL":                     "1",
		"TENANT_CONFIG_TABLE":               "integration-test-tenant-configs",
		"AWS_ACCESS_KEY_ID":                 "test",
		"AWS_SECRET_ACCESS_KEY":             "test",
		"SQS_QUEUE_URL":                     "dummy-sqs-url",
		"CENTRAL_LOG_DISTRIBUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/test-role",
		"S3_BUCKET_NAME":                    "test-logs",
		"AWS_ENDPOINT_URL":                  srv.Endpoint,
		"AWS_S3_USE_PATH_STYLE":             "true",
	} {
		t.Setenv(k, v)
	}
}

// The reference's processor environment runs the scan mode unchanged; a
// restart delivers nothing twice; REFERENCE_COMPAT switches to the
// reference's key layout.
func TestScanModeOnMoto(t *testing.T) {
	srv := mototest.Start(t)
	referenceScanEnv(t, srv)
	t.Setenv("TMPDIR", t.TempDir()) // where the default checkpoint goes
	for _, k := range []string{"AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "REFERENCE_COMPAT", "S3_KEY_TEMPLATE", "TENANT_CONFIG_FILE", "SCAN_CHECKPOINT"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	ctx := mototest.Context(t)
	cfg := srv.Config()
	s3c := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	for _, b := range []string{"test-logs", "acme-logs"} {
		_, err := s3c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(b)})
		require.NoError(t, err)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, "integration-test-tenant-configs"))
	_, err := dynamostore.New(ddb, "integration-test-tenant-configs").Create(ctx, tenant.DeliveryConfig{
		TenantID: "acme-corp", Type: "s3", Enabled: tenant.Bool(true), DesiredLogs: []string{"payment-service"},
		Settings: map[string]any{"bucket_name": "acme-logs", "bucket_prefix": "ROSA/cluster-logs/"}})
	require.NoError(t, err)
	put := func(key string) {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write([]byte(`{"message":"hello","timestamp":"2026-03-01T12:00:00Z"}` + "\n"))
		require.NoError(t, zw.Close())
		_, err := s3c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("test-logs"), Key: aws.String(key), Body: bytes.NewReader(gz.Bytes())})
		require.NoError(t, err)
	}
	// terraform/local/README.md's test objects.
	put("test-cluster/acme-corp/payment-service/pod-1/test-1.json.gz")
	put("test-cluster/acme-corp/random-app/pod-1/log.json.gz") // filtered out by desired_logs
	put("test-cluster/acme-corp/payment-service/pod-1/skipped.log.gz")

	deliveredAt := func(key string) (string, bool) {
		out, err := s3c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("acme-logs"), Key: aws.String(key)})
		if err != nil {
			return "", false
		}
		return out.Metadata["delivered-at"], true
	}
	waitFor := func(key string) string {
		t.Helper()
		var at string
		require.Eventually(t, func() bool {
			var ok bool
			at, ok = deliveredAt(key)
			return ok
		}, 30*time.Second, 100*time.Millisecond, "%s was not delivered", key)
		return at
	}
	start := func() (stop func()) {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := run(rctx, "", slog.New(slog.DiscardHandler))
			done <- err
		}()
		return func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err, "scan mode stops cleanly")
			case <-time.After(30 * time.Second):
				t.Fatal("scan mode did not stop")
			}
		}
	}

	stop := start()
	first := waitFor("ROSA/cluster-logs/acme-corp/test-cluster/payment-service/pod-1/test-1.json.gz")
	put("test-cluster/acme-corp/payment-service/pod-1/test-2.json.gz")
	waitFor("ROSA/cluster-logs/acme-corp/test-cluster/payment-service/pod-1/test-2.json.gz")
	stop()

	time.Sleep(1100 * time.Millisecond) // a copy made now would carry another delivered-at
	stop = start()
	put("test-cluster/acme-corp/payment-service/pod-1/test-3.json.gz")
	waitFor("ROSA/cluster-logs/acme-corp/test-cluster/payment-service/pod-1/test-3.json.gz")
	stop()
	again, _ := deliveredAt("ROSA/cluster-logs/acme-corp/test-cluster/payment-service/pod-1/test-1.json.gz")
	assert.Equal(t, first, again, "the restart resumed from the checkpoint: nothing was copied twice")
	out, err := s3c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("acme-logs")})
	require.NoError(t, err)
	assert.Len(t, out.Contents, 3, "random-app is filtered, .log.gz is not scanned")

	// The reference's layout leaves the cluster id out.
	t.Setenv("REFERENCE_COMPAT", "true")
	t.Setenv("SCAN_CHECKPOINT", filepath.Join(t.TempDir(), "compat.json"))
	stop = start()
	waitFor("ROSA/cluster-logs/acme-corp/payment-service/pod-1/test-3.json.gz")
	stop()
}
