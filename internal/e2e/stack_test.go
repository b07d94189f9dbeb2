package e2e

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/metrics"
	"github.com/logdelivery/logdelivery/sqsworker"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// templatePath is the deployment template of examples/deploy.
var templatePath = filepath.Join("..", "..", "examples", "deploy", "cloudformation", "template.yaml")

// motoSkips are the resource types of the template that moto's
// CloudFormation does not implement (it skips them with a warning): their
// properties are checked against the resource specification in
// examples/deploy/cloudformation instead. Policies are not enforced by
// moto either way.
var motoSkips = []string{"AWS::CloudWatch::Alarm", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"}

// functionZip is a function package as the build of examples/lambda makes
// it: a zip holding bootstrap. moto stores it and never runs it.
func functionZip(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, err := zw.Create("bootstrap")
	require.NoError(t, err)
	_, err = f.Write([]byte("#!/bin/sh\nexit 1\n"))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestCloudFormationStack deploys examples/deploy/cloudformation into moto
// with the SDK, checks what the stack created, and delivers an object
// written to the stack's bucket through the stack's topic, queue, tables
// and roles to a tenant's log group and bucket, with the SQS worker
// running the production Dispatcher. The event source mapping is deployed
// disabled: the test consumes the queue itself, and moto would otherwise
// try to run the zip on every message.
func TestCloudFormationStack(t *testing.T) {
	srv := mototest.Start(t)
	ctx := mototest.Context(t)
	cfg := srv.Config()
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })

	_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("deploy-artifacts")})
	require.NoError(t, err)
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("deploy-artifacts"), Key: aws.String("logdelivery/function.zip"),
		Body: bytes.NewReader(functionZip(t))})
	require.NoError(t, err)

	tmpl, err := os.ReadFile(templatePath)
	require.NoError(t, err)
	externalIDKey := []byte("the operator's key, of at least 32 bytes")
	cf := cloudformation.NewFromConfig(cfg)
	_, err = cf.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String("logdelivery"),
		TemplateBody: aws.String(string(tmpl)),
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityNamedIam},
		Parameters: []cftypes.Parameter{
			{ParameterKey: aws.String("CodeBucket"), ParameterValue: aws.String("deploy-artifacts")},
			{ParameterKey: aws.String("EventSourceEnabled"), ParameterValue: aws.String("false")},
			{ParameterKey: aws.String("ExternalIdKey"), ParameterValue: aws.String(base64.StdEncoding.EncodeToString(externalIDKey))},
		},
	})
	require.NoError(t, err)
	stack, err := cloudformation.NewStackCreateCompleteWaiter(cf, func(o *cloudformation.StackCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	}).WaitForOutput(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("logdelivery")}, time.Minute)
	require.NoError(t, err, "the stack reaches CREATE_COMPLETE")
	require.Len(t, stack.Stacks, 1)
	require.Equal(t, cftypes.StackStatusCreateComplete, stack.Stacks[0].StackStatus)
	out := map[string]string{}
	for _, o := range stack.Stacks[0].Outputs {
		out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}

	t.Run("Resources", func(t *testing.T) {
		checkStackResources(t, ctx, cf, tmpl)
	})
	t.Run("Notifications", func(t *testing.T) {
		sqsc := sqs.NewFromConfig(cfg)
		attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(out["QueueUrl"]),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		require.NoError(t, err)
		assert.Equal(t, "1800", attrs.Attributes["VisibilityTimeout"], "6 × the function's timeout")
		var redrive struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     any    `json:"maxReceiveCount"`
		}
		require.NoError(t, json.Unmarshal([]byte(attrs.Attributes["RedrivePolicy"]), &redrive))
		dlq, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(out["DeadLetterQueueUrl"]),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		require.NoError(t, err)
		assert.Equal(t, dlq.Attributes["QueueArn"], redrive.DeadLetterTargetArn, "the queue's dead letters go to the stack's dead-letter queue")
		assert.Equal(t, "5", fmt.Sprint(redrive.MaxReceiveCount))

		subs, err := sns.NewFromConfig(cfg).ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(out["TopicArn"])})
		require.NoError(t, err)
		require.Len(t, subs.Subscriptions, 1)
		assert.Equal(t, "sqs", aws.ToString(subs.Subscriptions[0].Protocol))
		assert.Equal(t, out["QueueArn"], aws.ToString(subs.Subscriptions[0].Endpoint))
	})
	t.Run("Tables", func(t *testing.T) {
		ddb := dynamodb.NewFromConfig(cfg)
		keys := func(table string) []string {
			d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
			require.NoError(t, err)
			var ks []string
			for _, k := range d.Table.KeySchema {
				ks = append(ks, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
			}
			return ks
		}
		assert.Equal(t, []string{dynamostore.PartitionKey + " HASH", dynamostore.SortKey + " RANGE"}, keys(out["ConfigTableName"]))
		assert.Equal(t, []string{dynamostore.PartitionKey + " HASH"}, keys(out["IdentityTableName"]))
		assert.Equal(t, []string{"id HASH"}, keys(out["LedgerTableName"]), "dynamoledger's key")
		// moto ignores TimeToLiveSpecification: the template's is checked
		// in examples/deploy/cloudformation. Should moto apply it, it must
		// be the one the store's ttl attribute needs.
		ttl, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(out["ConfigTableName"])})
		require.NoError(t, err)
		if d := ttl.TimeToLiveDescription; d != nil && d.TimeToLiveStatus != ddbtypes.TimeToLiveStatusDisabled {
			assert.Equal(t, "ttl", aws.ToString(d.AttributeName))
		}
	})
	t.Run("Function", func(t *testing.T) {
		lc := lambda.NewFromConfig(cfg)
		fn, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(out["FunctionArn"])})
		require.NoError(t, err)
		c := fn.Configuration
		assert.Equal(t, "provided.al2023", string(c.Runtime))
		assert.Equal(t, "bootstrap", aws.ToString(c.Handler))
		assert.Equal(t, out["ProcessorRoleArn"], aws.ToString(c.Role))
		env := c.Environment.Variables
		assert.Equal(t, out["ConfigTableName"], env["TENANT_CONFIG_TABLE"])
		assert.Equal(t, out["IdentityTableName"], env["TENANT_IDENTITY_TABLE"])
		assert.Equal(t, out["CentralRoleArn"], env["CENTRAL_LOG_DISTRIBUTION_ROLE_ARN"])

		esm, err := lc.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(out["QueueArn"])})
		require.NoError(t, err)
		require.Len(t, esm.EventSourceMappings, 1)
		m := esm.EventSourceMappings[0]
		assert.Equal(t, out["FunctionArn"], aws.ToString(m.FunctionArn))
		assert.Equal(t, []string{"ReportBatchItemFailures"}, functionResponseTypes(m.FunctionResponseTypes))
		assert.Equal(t, int32(10), aws.ToInt32(m.BatchSize))
		assert.Equal(t, "Disabled", aws.ToString(m.State), "EventSourceEnabled=false")
	})

	t.Run("Delivery", func(t *testing.T) {
		deliverThroughStack(t, srv, ctx, out, externalIDKey)
	})
}

func functionResponseTypes[T ~string](ts []T) []string {
	var out []string
	for _, t := range ts {
		out = append(out, string(t))
	}
	return out
}

// checkStackResources checks that every resource of the template was
// created, except the types moto does not implement.
func checkStackResources(t *testing.T, ctx context.Context, cf *cloudformation.Client, tmpl []byte) {
	raw, err := intrinsics.ProcessYAML(tmpl, &intrinsics.ProcessorOptions{NoProcess: true})
	require.NoError(t, err)
	var doc struct {
		Resources map[string]struct{ Type string }
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	logical := map[string]string{} // logical id → type
	for name, r := range doc.Resources {
		logical[name] = r.Type
	}
	require.Greater(t, len(logical), 15, "the template's resources")

	created := map[string]cftypes.StackResourceSummary{}
	p := cloudformation.NewListStackResourcesPaginator(cf, &cloudformation.ListStackResourcesInput{StackName: aws.String("logdelivery")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, r := range page.StackResourceSummaries {
			created[aws.ToString(r.LogicalResourceId)] = r
		}
	}
	var skipped []string
	for name, typ := range logical {
		r, ok := created[name]
		if !ok {
			assert.Contains(t, motoSkips, typ, "%s (%s) was not created", name, typ)
			skipped = append(skipped, name)
			continue
		}
		assert.Equal(t, typ, aws.ToString(r.ResourceType), name)
		assert.Equal(t, cftypes.ResourceStatusCreateComplete, r.ResourceStatus, name)
		assert.NotEmpty(t, aws.ToString(r.PhysicalResourceId), name)
	}
	slices.Sort(skipped)
	t.Logf("not implemented by moto's CloudFormation, checked against the specification only: %v", skipped)
}

// deliverThroughStack delivers one object of tenant acme, written to the
// stack's bucket, to acme's log group and bucket in its own account.
func deliverThroughStack(t *testing.T, srv *mototest.Server, ctx context.Context, out map[string]string, externalIDKey []byte) {
	cfg := srv.Config()
	const key = "prod-east-1/acme/payments/payments-0/1764496800-a.json.gz"
	acme := srv.ConfigWith(aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), role(accountB, "tenant-admin"))))
	acmeLogs := cloudwatchlogs.NewFromConfig(acme)
	_, err := acmeLogs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/acme/logs")})
	require.NoError(t, err)
	acmeS3 := s3.NewFromConfig(acme, func(o *s3.Options) { o.UsePathStyle = true })
	_, err = acmeS3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acme-logs")})
	require.NoError(t, err)

	// The operator's identity of acme, and acme's configs in the seed's
	// schema, with the seed's role name.
	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.NewIdentities(ddb, out["IdentityTableName"]).Put(ctx, tenant.Identity{TenantID: "acme", Accounts: []string{accountB}}))
	for _, item := range []map[string]ddbtypes.AttributeValue{
		{"tenant_id": str("acme"), "type": str("cloudwatch"), "log_distribution_role_arn": str(role(accountB, "LogDistributionRole")),
			"log_group_name": str("/acme/logs"), "target_region": str(mototest.Region)},
		{"tenant_id": str("acme"), "type": str("s3"), "bucket_name": str("acme-logs"), "target_region": str(mototest.Region)},
	} {
		_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(out["ConfigTableName"]), Item: item})
		require.NoError(t, err)
	}

	// moto's CloudFormation ignores the bucket's NotificationConfiguration:
	// configure the template's (every ObjectCreated event to the stack's
	// topic) through the API. S3 then sends its s3:TestEvent.
	central := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	n, err := central.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String(out["BucketName"])})
	require.NoError(t, err)
	if len(n.TopicConfigurations) == 0 {
		_, err = central.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
			Bucket: aws.String(out["BucketName"]),
			NotificationConfiguration: &s3types.NotificationConfiguration{TopicConfigurations: []s3types.TopicConfiguration{{
				TopicArn: aws.String(out["TopicArn"]), Events: []s3types.Event{"s3:ObjectCreated:*"},
			}}},
		})
		require.NoError(t, err)
	}

	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	objectTime := time.Now().Add(-time.Minute)
	for i := range 20 {
		fmt.Fprintf(zw, `{"message":"payment %d","timestamp":%q}`+"\n", i, objectTime.Format(time.RFC3339Nano))
	}
	require.NoError(t, zw.Close())
	_, err = central.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(out["BucketName"]), Key: aws.String(key),
		Body: bytes.NewReader(buf.Bytes()), ContentEncoding: aws.String("gzip"), ContentType: aws.String(contentType)})
	require.NoError(t, err)

	// The processor, as the function runs it: the stack's tables and
	// central role, identities on; in the SQS worker, with its metrics.
	reg := prometheus.NewPedanticRegistry()
	prom, err := metrics.NewPrometheus(reg)
	require.NoError(t, err)
	workerMetrics, err := metrics.NewWorker(reg)
	require.NoError(t, err)
	d, err := awsdispatch.New(cfg, func(o *awsdispatch.Options) {
		o.CentralRoleARN = out["CentralRoleArn"]
		o.Table = out["ConfigTableName"]
		o.IdentityTable = out["IdentityTableName"]
		o.LedgerTable = out["LedgerTableName"]
		o.ExternalIDKey = externalIDKey
		o.UsePathStyle = true
		o.Observer = prom
	})
	require.NoError(t, err)
	sqsc := sqs.NewFromConfig(cfg)
	w, err := sqsworker.New(sqsc, out["QueueUrl"], d, func(o *sqsworker.Options) {
		o.WaitTime = time.Second
		o.Observer = workerMetrics
		o.FailureQueueURL = out["FailureQueueUrl"]
	})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(runCtx) }()

	events := func() int {
		streams, err := acmeLogs.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/acme/logs")})
		require.NoError(t, err)
		total := 0
		for _, s := range streams.LogStreams {
			got, err := acmeLogs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/acme/logs"),
				LogStreamName: s.LogStreamName, StartFromHead: aws.Bool(true)})
			require.NoError(t, err)
			total += len(got.Events)
		}
		return total
	}
	copied := func() []string {
		l, err := acmeS3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("acme-logs")})
		require.NoError(t, err)
		var keys []string
		for _, o := range l.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		return keys
	}
	drained := func() (visible, inFlight int) {
		a, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(out["QueueUrl"]),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		require.NoError(t, err)
		visible, _ = strconv.Atoi(a.Attributes["ApproximateNumberOfMessages"])
		inFlight, _ = strconv.Atoi(a.Attributes["ApproximateNumberOfMessagesNotVisible"])
		return visible, inFlight
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		visible, inFlight := drained()
		n, keys := events(), copied()
		if n == 20 && len(keys) == 1 && visible == 0 && inFlight == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered within 60s: %d events in acme's group, objects %v in acme's bucket, queue: %d visible, %d in flight", n, keys, visible, inFlight)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	require.NoError(t, <-stopped)

	assert.Equal(t, []string{"ROSA/cluster-logs/acme/prod-east-1/payments/payments-0/1764496800-a.json.gz"}, copied())
	// The bucket's test event and the object's notification, both deleted.
	assert.Equal(t, 2.0, value(t, reg, "logdelivery_worker_messages_received_total"))
	assert.Equal(t, 2.0, value(t, reg, "logdelivery_worker_messages_deleted_total"))
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "logdelivery_worker_messages_failed_total" {
			for _, m := range f.GetMetric() {
				assert.Zero(t, m.GetCounter().GetValue(), "no permanent failure: %v", m.GetLabel())
			}
		}
	}
	assert.Equal(t, 0.0, value(t, reg, "logdelivery_worker_messages_in_flight"))
	series, err := testutil.GatherAndCount(reg, "logdelivery_last_delivery_timestamp_seconds")
	require.NoError(t, err)
	assert.Equal(t, 2, series, "a last delivery for acme's cloudwatch and s3 destinations")
	// The ledger table records both deliveries as done.
	scan, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(out["LedgerTableName"])})
	require.NoError(t, err)
	assert.Len(t, scan.Items, 2, "one ledger entry per (object, destination)")
}

// value returns the value of the registry's one series of a counter or
// gauge.
func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			require.Len(t, f.GetMetric(), 1, name)
			m := f.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
