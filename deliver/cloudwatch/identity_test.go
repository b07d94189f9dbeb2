package cloudwatch_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/tenant"
)

// hopsChain is a CredentialChain that records the hops it is asked for.
type hopsChain struct {
	mu   sync.Mutex
	hops [][]credentials.Hop
}

func (c *hopsChain) Provider(_ context.Context, _ string, hops ...credentials.Hop) (aws.CredentialsProvider, error) {
	c.mu.Lock()
	c.hops = append(c.hops, hops)
	c.mu.Unlock()
	return awscreds.NewStaticCredentialsProvider("K", "S", ""), nil
}

// With the tenant's identity, the tenant's role is assumed with the
// tenant's own ExternalId, never the config's, and a role of another
// account is refused before any credentials are asked for.
func TestDeliverUsesTheIdentitysExternalID(t *testing.T) {
	f := newFake(t)
	f.CreateLogGroup(group)
	chain := &hopsChain{}
	d, err := cloudwatch.New(chain, func(o *cloudwatch.Options) {
		o.AWSConfig = aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(f.URL)}
		o.Now = func() time.Time { return now }
	})
	require.NoError(t, err)

	del := delivery(records(3, 0))
	del.Config.Settings["external_id"] = "chosen-by-the-tenant"
	del.Identity = &tenant.Identity{TenantID: "team-a", Accounts: []string{"222222222222"}, ExternalID: "ld-issued-for-team-a"}
	_, err = d.Deliver(context.Background(), del)
	require.NoError(t, err)
	require.Len(t, chain.hops, 1)
	require.Len(t, chain.hops[0], 1)
	assert.Equal(t, "arn:aws:iam::222222222222:role/logs", chain.hops[0][0].RoleARN)
	assert.Equal(t, "ld-issued-for-team-a", chain.hops[0][0].ExternalID, "the operator's ExternalId, not the config's")

	del = delivery(records(3, 0))
	del.Identity = &tenant.Identity{TenantID: "team-a", Accounts: []string{"999999999999"}, ExternalID: "x1"}
	_, err = d.Deliver(context.Background(), del)
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err))
	assert.ErrorContains(t, err, "account 222222222222 is not one of tenant \"team-a\"'s accounts")
	assert.Len(t, chain.hops, 1, "refused before any credentials")

	del = delivery(records(3, 0))
	del.Config.Settings["external_id"] = "legacy-item"
	_, err = d.Deliver(context.Background(), del)
	require.NoError(t, err)
	assert.Equal(t, "legacy-item", chain.hops[1][0].ExternalID, "without identities, the seed's external_id")
}
