package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// TestMain lets a test run the processor as its own process: with
// PROCESSOR_MAIN=1 the test binary is the processor, its arguments in
// PROCESSOR_ARGS. Only a real process shows what reaches its stderr.
func TestMain(m *testing.M) {
	if os.Getenv("PROCESSOR_MAIN") == "1" {
		os.Args = append([]string{os.Args[0]}, strings.Fields(os.Getenv("PROCESSOR_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

// processorProcess returns the command running the processor with args,
// in the environment env (and nothing of the test's AWS settings).
func processorProcess(t *testing.T, env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{"PROCESSOR_MAIN=1", "PROCESSOR_ARGS=" + strings.Join(args, " "),
		"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"),
		"AWS_CONFIG_FILE=" + filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(t.TempDir(), "none")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// motoTenant deploys what a CloudWatch delivery of tenant acme needs:
// the central bucket, the config table with acme's config, acme's log
// group. It returns the processor's environment.
func motoTenant(t *testing.T, srv *mototest.Server) map[string]string {
	ctx := mototest.Context(t)
	cfg := srv.Config()
	s3c := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	_, err := s3c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("central")})
	require.NoError(t, err)
	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, "configs"))
	_, err = dynamostore.New(ddb, "configs").Create(ctx, tenant.DeliveryConfig{
		TenantID: "acme", Type: "cloudwatch", Settings: map[string]any{
			"log_distribution_role_arn": "arn:aws:iam::123456789012:role/LogDistributionRole",
			"log_group_name":            "/acme/logs"}})
	require.NoError(t, err)
	_, err = cloudwatchlogs.NewFromConfig(cfg).CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/acme/logs")})
	require.NoError(t, err)
	return map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": srv.Endpoint, "AWS_S3_USE_PATH_STYLE": "true",
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"TENANT_CONFIG_TABLE":               "configs",
		"CENTRAL_LOG_DISTRIBUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/CentralLogDistributionRole",
	}
}

// putWithoutChecksum writes a gzip NDJSON object the way Vector does: no
// checksum, so that GetObject answers without one.
func putWithoutChecksum(t *testing.T, srv *mototest.Server, key string, lines ...string) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for _, l := range lines {
		_, _ = zw.Write([]byte(l + "\n"))
	}
	require.NoError(t, zw.Close())
	cfg := srv.Config()
	cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	s3c := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	_, err := s3c.PutObject(mototest.Context(t), &awss3.PutObjectInput{Bucket: aws.String("central"), Key: aws.String(key), Body: bytes.NewReader(gz.Bytes())})
	require.NoError(t, err)
	head, err := s3c.HeadObject(mototest.Context(t), &awss3.HeadObjectInput{Bucket: aws.String("central"), Key: aws.String(key), ChecksumMode: "ENABLED"})
	require.NoError(t, err)
	require.Nil(t, head.ChecksumCRC32, "the object must have no checksum for the test to mean anything")
}

func notification(key string) string {
	return `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"central"},"object":{"key":"` + key + `"}}}]}`
}

// Every line the processor writes to stderr is JSON, at every level: the
// SDK's own lines go through slog and the checksum notice, which the SDK
// prints once per GetObject of an object written without checksums, is
// gone. Each message gets a summary line and the run a final one.
func TestLogsAreJSONOnMoto(t *testing.T) {
	srv := mototest.Start(t)
	env := motoTenant(t, srv)
	env["LOG_LEVEL"] = "DEBUG"
	key := "c1/acme/payment/pod-1/1.json.gz"
	now := time.Now().UTC()
	putWithoutChecksum(t, srv, key,
		`{"message":"payment accepted","timestamp":"`+now.Add(-time.Minute).Format(time.RFC3339)+`"}`,
		`{"message":"payment settled","timestamp":"`+now.Format(time.RFC3339)+`"}`)

	cmd := processorProcess(t, env, "-mode", "manual")
	cmd.Stdin = strings.NewReader(notification(key) + notification("c1/nobody/app/pod/1.json.gz"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr:\n%s", stderr.String())

	var summaries []map[string]any
	var done map[string]any
	sc := bufio.NewScanner(&stderr)
	n := 0
	for sc.Scan() {
		n++
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "stderr line %d is not JSON: %s", n, sc.Text())
		assert.NotContains(t, line["msg"], "no supported checksum")
		switch line["msg"] {
		case "message processed":
			summaries = append(summaries, line)
		case "done":
			done = line
		}
	}
	require.Len(t, summaries, 2, "one summary per message")
	assert.Equal(t, "stdin-1", summaries[0]["message_id"])
	assert.Equal(t, "INFO", summaries[0]["level"])
	assert.Equal(t, "delivered", summaries[0]["outcome"])
	assert.Equal(t, "acme", summaries[0]["tenants"])
	assert.Equal(t, []any{"acme/cloudwatch=delivered"}, summaries[0]["destinations"])
	assert.EqualValues(t, 2, summaries[0]["events"])
	assert.Contains(t, summaries[0], "duration_ms")
	assert.Equal(t, "skipped", summaries[1]["outcome"], "a tenant without configs")
	require.NotNil(t, done, "a final summary")
	totals := done["totals"].(map[string]any)
	assert.EqualValues(t, 2, totals["messages"])
	assert.EqualValues(t, 1, totals["delivered"])
	assert.EqualValues(t, 2, totals["events"])

	events, err := cloudwatchlogs.NewFromConfig(srv.Config()).FilterLogEvents(mototest.Context(t), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/acme/logs")})
	require.NoError(t, err)
	assert.Len(t, events.Events, 2, "the delivery itself happened")
}
