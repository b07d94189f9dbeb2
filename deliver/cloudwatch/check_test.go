package cloudwatch_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/tenant"
)

// refusingChain's credentials fail as STS does when a role's trust policy
// refuses the caller.
type refusingChain struct{}

func (refusingChain) Provider(context.Context, string, ...credentials.Hop) (aws.CredentialsProvider, error) {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("AccessDenied: not authorized to perform sts:AssumeRole")
	}), nil
}

// Check assumes what a delivery would — the tenant's role with the
// identity's ExternalId — and calls nothing of CloudWatch Logs (its
// endpoint here answers nothing).
func TestCheck(t *testing.T) {
	cfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://127.0.0.1:1")}
	chain := &hopsChain{}
	d, err := cloudwatch.New(chain, func(o *cloudwatch.Options) { o.AWSConfig = cfg })
	require.NoError(t, err)
	var _ deliver.Checker = d

	del := delivery(nil)
	del.Records = nil
	del.Identity = &tenant.Identity{TenantID: "team-a", Accounts: []string{"222222222222"}, ExternalID: "ld-issued-for-team-a"}
	require.NoError(t, d.Check(context.Background(), del))
	require.Len(t, chain.hops, 1)
	assert.Equal(t, "ld-issued-for-team-a", chain.hops[0][0].ExternalID)

	del.Identity = &tenant.Identity{TenantID: "team-a", Accounts: []string{"999999999999"}, ExternalID: "x1"}
	err = d.Check(context.Background(), del)
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err), "a role of another account: %v", err)
	assert.Len(t, chain.hops, 1, "refused before any credentials are asked for")

	d, err = cloudwatch.New(refusingChain{}, func(o *cloudwatch.Options) { o.AWSConfig = cfg })
	require.NoError(t, err)
	err = d.Check(context.Background(), delivery(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "assuming the roles of team-a/cloudwatch")
	assert.Contains(t, err.Error(), "AccessDenied")
}
