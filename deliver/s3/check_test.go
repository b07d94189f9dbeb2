package s3

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
)

// Check obtains the central credentials and makes no S3 request.
func TestCheck(t *testing.T) {
	asked := 0
	chain := chainFunc(func(_ context.Context, _ string, hops ...credentials.Hop) (aws.CredentialsProvider, error) {
		asked++
		assert.Empty(t, hops, "copies use the central identity")
		return awscreds.NewStaticCredentialsProvider("K", "S", ""), nil
	})
	d, err := New(chain, func(o *Options) {
		o.Region = "us-east-1"
		o.NewClient = func(string, aws.CredentialsProvider) Client {
			t.Error("Check made an S3 client")
			return nil
		}
	})
	require.NoError(t, err)
	var _ deliver.Checker = d
	require.NoError(t, d.Check(ctx(t), delivery(t, testKey, s3Config())))
	assert.Equal(t, 1, asked)

	refused := chainFunc(func(context.Context, string, ...credentials.Hop) (aws.CredentialsProvider, error) {
		return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("AccessDenied")
		}), nil
	})
	d, err = New(refused, func(o *Options) { o.Region = "us-east-1" })
	require.NoError(t, err)
	err = d.Check(ctx(t), delivery(t, testKey, s3Config()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "credentials to copy into "+target)
}
