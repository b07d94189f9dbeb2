package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"strings"
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
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// ownerCheck enforces S3's ExpectedBucketOwner, which moto ignores: a
// request naming an expected owner that does not own the bucket gets S3's
// 403 AccessDenied, as on AWS.
type ownerCheck struct {
	next   http.RoundTripper
	owners map[string]string // bucket → owning account
}

func (o ownerCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	if want := req.Header.Get("X-Amz-Expected-Bucket-Owner"); want != "" {
		bucket, _, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
		if owner, ok := o.owners[bucket]; ok && owner != want {
			body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
			return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{"Content-Type": {"application/xml"}}, Body: nopCloser{strings.NewReader(body)}, Request: req}, nil
		}
	}
	return o.next.RoundTrip(req)
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// The attack of the security review, end to end on moto: tenant acme's
// configs point at tenant globex's role, log group and bucket. Without
// identities (the seed's compatibility mode) globex receives acme's logs;
// with identities nothing reaches globex, and the results say why.
func TestConfusedDeputy(t *testing.T) {
	const (
		acmeAccount   = accountB
		globexAccount = accountC
		identityTable = "tenant-identities"
		key           = "prod-east-1/acme/payments/payments-0/1764496800-a.json.gz"
	)
	srv := mototest.Start(t)
	ctx := mototest.Context(t)
	cfg := srv.Config()
	admin := func(account string) aws.Config {
		return srv.ConfigWith(aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), role(account, "tenant-admin"))))
	}

	// globex's log group and bucket, in globex's account.
	globexLogs := cloudwatchlogs.NewFromConfig(admin(globexAccount))
	_, err := globexLogs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/globex/logs")})
	require.NoError(t, err)
	globexS3 := s3.NewFromConfig(admin(globexAccount), func(o *s3.Options) { o.UsePathStyle = true })
	_, err = globexS3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("globex-logs")})
	require.NoError(t, err)

	// One object of acme's in the central bucket.
	central := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	_, err = central.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(centralBucket)})
	require.NoError(t, err)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := range 20 {
		fmt.Fprintf(zw, `{"message":"acme secret %d","timestamp":%q}`+"\n", i, time.Now().Add(-time.Minute).Format(time.RFC3339Nano))
	}
	require.NoError(t, zw.Close())
	_, err = central.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(centralBucket), Key: aws.String(key), Body: bytes.NewReader(buf.Bytes()),
		ContentEncoding: aws.String("gzip"), ContentType: aws.String(contentType)})
	require.NoError(t, err)

	// acme's configs, written as a tenant-scoped key could write them
	// before: globex's role and group, globex's bucket.
	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, configTable))
	for _, item := range []map[string]types.AttributeValue{
		{"tenant_id": str("acme"), "type": str("cloudwatch"), "log_distribution_role_arn": str(role(globexAccount, "LogDistributionRole")),
			"log_group_name": str("/globex/logs"), "target_region": str(mototest.Region)},
		{"tenant_id": str("acme"), "type": str("s3"), "bucket_name": str("globex-logs"), "target_region": str(mototest.Region)},
	} {
		_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(configTable), Item: item})
		require.NoError(t, err)
	}
	require.NoError(t, dynamostore.CreateIdentityTable(ctx, ddb, identityTable))
	ids := dynamostore.NewIdentities(ddb, identityTable)
	require.NoError(t, ids.Put(ctx, tenant.Identity{TenantID: "acme", Accounts: []string{acmeAccount}}))
	require.NoError(t, ids.Put(ctx, tenant.Identity{TenantID: "globex", Accounts: []string{globexAccount}}))

	dispatch := func(withIdentities bool) logdelivery.Results {
		pcfg := srv.Config()
		pcfg.HTTPClient = &http.Client{Transport: ownerCheck{next: http.DefaultTransport, owners: map[string]string{"globex-logs": globexAccount}}}
		d, err := awsdispatch.New(pcfg, func(o *awsdispatch.Options) {
			o.CentralRoleARN = centralRole
			o.Table = configTable
			o.UsePathStyle = true
			o.CacheTTL = -1
			if withIdentities {
				o.IdentityTable = identityTable
				o.ExternalIDKey = []byte("an operator key of at least 32 bytes!")
			}
		})
		require.NoError(t, err)
		defer d.Close()
		c, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return d.Dispatch(c, logdelivery.Object{ID: "m1", Bucket: centralBucket, Key: key})
	}
	globexEvents := func() int {
		streams, err := globexLogs.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/globex/logs")})
		require.NoError(t, err)
		n := 0
		for _, s := range streams.LogStreams {
			out, err := globexLogs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/globex/logs"), LogStreamName: s.LogStreamName, StartFromHead: aws.Bool(true)})
			require.NoError(t, err)
			n += len(out.Events)
		}
		return n
	}
	globexObjects := func() int32 {
		out, err := globexS3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("globex-logs")})
		require.NoError(t, err)
		return aws.ToInt32(out.KeyCount)
	}

	t.Run("WithIdentities", func(t *testing.T) {
		rs := dispatch(true)
		require.Len(t, rs, 2)
		byDest := map[string]logdelivery.Result{}
		for _, r := range rs {
			byDest[r.Destination] = r
		}
		cw := byDest["cloudwatch"]
		assert.Equal(t, logdelivery.Failed, cw.Outcome)
		assert.True(t, fault.IsPermanent(cw.Err))
		assert.ErrorContains(t, cw.Err, `log_distribution_role_arn: account 333333333333 is not one of tenant "acme"'s accounts (222222222222)`)
		s3r := byDest["s3"]
		assert.Equal(t, logdelivery.Failed, s3r.Outcome, "the copy expects acme's account as the owner, and globex's bucket is not acme's")
		assert.True(t, fault.IsPermanent(s3r.Err), "%v", s3r.Err)
		assert.ErrorContains(t, s3r.Err, "AccessDenied")
		assert.Zero(t, globexEvents(), "nothing reached globex's log group")
		assert.Zero(t, globexObjects(), "nor globex's bucket")
	})

	t.Run("CompatibilityModeIsTheAttack", func(t *testing.T) {
		rs := dispatch(false)
		for _, r := range rs {
			assert.Equal(t, logdelivery.Delivered, r.Outcome, "%s: %v", r.Destination, r.Err)
		}
		assert.Equal(t, 20, globexEvents(), "without identities globex's group received acme's logs (moto does not check the ExternalId)")
		assert.Equal(t, int32(1), globexObjects(), "and globex's bucket acme's object")
	})
}
