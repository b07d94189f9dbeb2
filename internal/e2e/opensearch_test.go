package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/opensearch"
	"github.com/logdelivery/logdelivery/deliver/opensearch/opensearchtest"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// A tenant with an OpenSearch destination beside its CloudWatch Logs one,
// through the production wiring: awsdispatch with the opensearch kind
// added (Options.Kinds), configs and identities in DynamoDB, the central
// bucket, the role chain and CloudWatch Logs in moto. The cluster is the
// _bulk fake on loopback, which the processor's egress policy allows for
// the test; it checks the SigV4 signature of every request against the
// credentials of the tenant's role, obtained through the central role with
// the tenant's ExternalId. Each destination receives every event once.
func TestOpenSearchBesideCloudWatch(t *testing.T) {
	const (
		identityTable = "tenant-identities"
		acmeRole      = "arn:aws:iam::" + accountB + ":role/LogDistributionRole"
		objects       = 3
		perObject     = 150
	)
	operatorKey := []byte("an operator key of at least 32 bytes!")
	srv := mototest.Start(t)
	ctx := mototest.Context(t)
	cfg := srv.Config()

	// acme's log group, in acme's account.
	acmeLogs := cloudwatchlogs.NewFromConfig(srv.ConfigWith(aws.NewCredentialsCache(
		stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), role(accountB, "tenant-admin")))))
	_, err := acmeLogs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/acme/logs")})
	require.NoError(t, err)

	// acme's objects in the central bucket.
	central := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	_, err = central.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(centralBucket)})
	require.NoError(t, err)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	var keys []string
	want := map[string]time.Time{} // message → time
	for o := range objects {
		pod := fmt.Sprintf("payments-%d", o)
		key := fmt.Sprintf("prod-east-1/acme/payments/%s/%d-%04d.log.gz", pod, start.Unix(), o)
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		for i := range perObject {
			ts := start.Add(time.Duration(o*perObject+i)*time.Second + 123456789)
			msg := fmt.Sprintf(`{"level":"info","msg":"payment %d of %s accepted","amount":"12.50 €"}`, i, pod)
			want[msg] = ts
			line, _ := json.Marshal(map[string]any{
				"cluster_id": "prod-east-1", "namespace": "acme", "application": "payments", "pod_name": pod,
				"kubernetes": map[string]any{"container_name": "payments", "pod_name": pod, "pod_namespace": "acme",
					"pod_node_name": "ip-10-0-1-23.ec2.internal", "pod_labels": map[string]string{"app": "payments", "app.kubernetes.io/part-of": "shop"}},
				"message": msg, "stream": "stdout", "timestamp": ts.Format(time.RFC3339Nano),
			})
			zw.Write(append(line, '\n'))
		}
		require.NoError(t, zw.Close())
		_, err = central.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(centralBucket), Key: aws.String(key), Body: bytes.NewReader(buf.Bytes()),
			ContentEncoding: aws.String("gzip"), ContentType: aws.String(contentType)})
		require.NoError(t, err)
		keys = append(keys, key)
	}

	// The cluster, on loopback.
	cluster := opensearchtest.NewServer(opensearchtest.Options{SigV4: &opensearchtest.SigV4{Region: mototest.Region, Service: "es", Keys: map[string]string{}}})
	defer cluster.Close()
	u, _ := url.Parse(cluster.URL)
	port, _ := strconv.Atoi(u.Port())

	// acme's configs and identity, as the configuration API and the
	// operator write them.
	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, configTable))
	for _, item := range []map[string]types.AttributeValue{
		{"tenant_id": str("acme"), "type": str("cloudwatch"), "log_distribution_role_arn": str(acmeRole),
			"log_group_name": str("/acme/logs"), "target_region": str(mototest.Region)},
		{"tenant_id": str("acme"), "type": str("opensearch"), "target_region": str(mototest.Region),
			"settings": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"url": str(cluster.URL), "aws_role_arn": str(acmeRole), "include_labels": boolean(true)}}},
	} {
		_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(configTable), Item: item})
		require.NoError(t, err)
	}
	require.NoError(t, dynamostore.CreateIdentityTable(ctx, ddb, identityTable))
	require.NoError(t, dynamostore.NewIdentities(ddb, identityTable).Put(ctx, tenant.Identity{TenantID: "acme", Accounts: []string{accountB}}))

	// The processor: the opensearch deliverer shares the processor's
	// credential chain design (central role, then the tenant's role).
	chain, err := credentials.NewSTS(cfg, centralRole)
	require.NoError(t, err)
	osd, err := opensearch.New(func(o *opensearch.Options) {
		o.Chain = chain
		o.Policy = egress.Policy{AllowHTTP: true, AllowLoopback: true, Ports: []int{port}}
	})
	require.NoError(t, err)
	d, err := awsdispatch.New(cfg, func(o *awsdispatch.Options) {
		o.CentralRoleARN = centralRole
		o.Table = configTable
		o.IdentityTable = identityTable
		o.ExternalIDKey = operatorKey
		o.UsePathStyle = true
		o.CacheTTL = -1
		o.Kinds = []deliver.Kind{osd.Kind()}
	})
	require.NoError(t, err)
	defer d.Close()

	// The cluster trusts acme's role: the credentials the chain obtains
	// for it, with acme's ExternalId.
	xids, err := credentials.NewExternalIDs(operatorKey)
	require.NoError(t, err)
	p, err := chain.Provider(ctx, mototest.Region, credentials.Hop{RoleARN: acmeRole, ExternalID: xids.ExternalID("acme"), SessionName: "logdelivery-acme"})
	require.NoError(t, err)
	acmeCreds, err := p.Retrieve(ctx)
	require.NoError(t, err)
	cluster.AddSigV4Key(acmeCreds.AccessKeyID, acmeCreds.SecretAccessKey)

	for i, key := range keys {
		c, cancel := context.WithTimeout(ctx, time.Minute)
		rs := d.Dispatch(c, logdelivery.Object{ID: fmt.Sprint("m", i), Bucket: centralBucket, Key: key})
		cancel()
		require.Len(t, rs, 2, "%s: %v", key, rs)
		for _, r := range rs {
			assert.Equal(t, logdelivery.Delivered, r.Outcome, "%s to %s: %v", key, r.Destination, r.Err)
			assert.Equal(t, int64(perObject), r.Receipt.Events, "%s to %s", key, r.Destination)
		}
	}

	// OpenSearch: every event once, with its time and pod.
	var got []string
	for _, index := range cluster.Indexes() {
		assert.Regexp(t, `^logs-acme-\d{4}\.\d{2}\.\d{2}$`, index)
		for _, doc := range cluster.Documents(index) {
			msg := doc.Source["message"].(string)
			got = append(got, msg)
			ts, err := time.Parse(time.RFC3339Nano, doc.Source["@timestamp"].(string))
			require.NoError(t, err)
			assert.True(t, want[msg].Equal(ts), "%s at %v, want %v", msg, ts, want[msg])
			k8s := doc.Source["kubernetes"].(map[string]any)
			assert.Equal(t, "acme", k8s["namespace"])
			assert.Equal(t, map[string]any{"app": "payments", "app_kubernetes_io/part-of": "shop"}, k8s["labels"])
		}
	}
	assert.ElementsMatch(t, slices.Collect(maps.Keys(want)), got, "every event once in OpenSearch")
	for _, r := range cluster.Requests() {
		assert.Equal(t, acmeCreds.AccessKeyID, r.AccessKeyID, "signed as acme's role")
	}

	// CloudWatch Logs: every event once too.
	got = nil
	streams, err := acmeLogs.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/acme/logs")})
	require.NoError(t, err)
	for _, s := range streams.LogStreams {
		out, err := acmeLogs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/acme/logs"),
			LogStreamName: s.LogStreamName, StartFromHead: aws.Bool(true), Limit: aws.Int32(10000)})
		require.NoError(t, err)
		for _, e := range out.Events {
			got = append(got, aws.ToString(e.Message))
		}
	}
	assert.ElementsMatch(t, slices.Collect(maps.Keys(want)), got, "every event once in CloudWatch Logs")
}
