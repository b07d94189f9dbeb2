package s3

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

const tenantAccount = "222222222222"

// assumed returns cached credentials of roleARN, assumed with creds of
// moto's default account.
func assumed(srv *mototest.Server, roleARN string) aws.CredentialsProvider {
	stsClient := sts.NewFromConfig(srv.Config())
	return aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, roleARN))
}

// centralChain is the test's CredentialChain: the central role, assumed
// once; it refuses hops, which S3 delivery must not ask for.
type centralChain struct{ creds aws.CredentialsProvider }

func (c centralChain) Provider(_ context.Context, _ string, hops ...credentials.Hop) (aws.CredentialsProvider, error) {
	if len(hops) > 0 {
		return nil, fmt.Errorf("s3 delivery asked for %d hops", len(hops))
	}
	return c.creds, nil
}

func TestMotoCrossAccountCopy(t *testing.T) {
	srv := mototest.Start(t)
	ctx := mototest.Context(t)
	pathStyle := func(o *awss3.Options) { o.UsePathStyle = true }

	// The tenant's account owns the destination bucket.
	tenantCreds := assumed(srv, "arn:aws:iam::"+tenantAccount+":role/tenant-admin")
	who, err := sts.NewFromConfig(srv.ConfigWith(tenantCreds)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	require.Equal(t, tenantAccount, aws.ToString(who.Account), "moto acts as the tenant's account")
	tenantS3 := awss3.NewFromConfig(srv.ConfigWith(tenantCreds), pathStyle)
	_, err = tenantS3.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("acme-tenant-logs")})
	require.NoError(t, err)

	// The central account's bucket holds the object, versioned.
	centralS3 := awss3.NewFromConfig(srv.Config(), pathStyle)
	_, err = centralS3.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(central)})
	require.NoError(t, err)
	_, err = centralS3.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{
		Bucket:                  aws.String(central),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	require.NoError(t, err)

	k := keyparse.Key{Cluster: "prod 1", Namespace: "acme", Tenant: "acme", Application: "pay+ments", Pod: "pöd-7d9f", File: "日志 0001.json.gz"}
	srcKey, err := keyparse.Default().Format(k)
	require.NoError(t, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = io.WriteString(zw, strings.Repeat(`{"message":"hello","namespace":"acme"}`+"\n", 1000))
	require.NoError(t, zw.Close())
	first := gz.Bytes()
	put, err := centralS3.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: aws.String(central), Key: aws.String(srcKey), Body: bytes.NewReader(first),
		ContentType: aws.String("application/x-ndjson"), ContentEncoding: aws.String("gzip"),
	})
	require.NoError(t, err)
	firstVersion := aws.ToString(put.VersionId)
	require.NotEmpty(t, firstVersion)
	// A newer version must not be what a delivery of the first one copies.
	_, err = centralS3.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: aws.String(central), Key: aws.String(srcKey), Body: strings.NewReader("newer version"),
	})
	require.NoError(t, err)

	// The deliverer acts as the central role, assumed through STS.
	chain := centralChain{creds: assumed(srv, "arn:aws:iam::"+mototest.AccountID+":role/central-log-delivery")}
	d, err := New(chain, func(o *Options) {
		o.AWSConfig = srv.Config()
		o.UsePathStyle = true
	})
	require.NoError(t, err)
	cfg := tenant.DeliveryConfig{TenantID: "acme", Type: "s3", TargetRegion: mototest.Region, Settings: map[string]any{"bucket_name": "acme-tenant-logs", "bucket_owner": tenantAccount}}
	dl := &deliver.Delivery{Object: deliver.Object{Bucket: central, Key: srcKey, VersionID: firstVersion}, Key: k, Config: cfg}
	rcpt, err := d.Deliver(ctx, dl)
	require.NoError(t, err)
	destKey := DefaultBucketPrefix + "acme/prod 1/pay+ments/pöd-7d9f/日志 0001.json.gz"
	assert.Equal(t, "s3://acme-tenant-logs/"+destKey, rcpt.Location)
	assert.Equal(t, int64(len(first)), rcpt.Bytes)

	// The tenant reads it back with its own credentials.
	out, err := tenantS3.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("acme-tenant-logs"), Key: aws.String(destKey)})
	require.NoError(t, err)
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, first, got, "the tenant gets the delivered version's bytes")
	assert.Equal(t, "application/x-ndjson", aws.ToString(out.ContentType))
	assert.Equal(t, "gzip", aws.ToString(out.ContentEncoding))
	assert.NotEqual(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption, "no key in the config: the bucket default")
	assert.Equal(t, central, out.Metadata[MetaSourceBucket])
	assert.Equal(t, firstVersion, out.Metadata[MetaSourceVersionID])
	assert.Equal(t, "acme", out.Metadata[MetaTenant])
	assert.Equal(t, "pay+ments", out.Metadata[MetaApplication])
	assert.Equal(t, metaValue(srcKey), out.Metadata[MetaSourceKey])
	assert.Equal(t, metaValue("pöd-7d9f"), out.Metadata[MetaPod])
	assert.NotEmpty(t, out.Metadata[MetaDeliveredAt])

	// Redelivery leaves one object.
	_, err = d.Deliver(ctx, dl)
	require.NoError(t, err)
	list, err := tenantS3.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("acme-tenant-logs")})
	require.NoError(t, err)
	assert.Len(t, list.Contents, 1)

	// moto ignores ExpectedBucketOwner: the header and the classification
	// of S3's AccessDenied answer are tested against gofakes3.

	// A missing bucket is permanent too.
	missing := *dl
	missing.Config.Settings["bucket_name"] = "no-such-tenant-bucket"
	_, err = d.Deliver(ctx, &missing)
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err), "%v", err)
}
