package credentials

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Central returns the credentials of chain's central identity in region
// (empty: the chain's default) as a provider for SDK clients: the
// identity that reads the central bucket and copies into tenants' buckets,
// so that one identity does both. Each Retrieve asks the chain, which
// caches.
func Central(chain CredentialChain, region string) aws.CredentialsProvider {
	return centralProvider{chain: chain, region: region}
}

type centralProvider struct {
	chain  CredentialChain
	region string
}

func (c centralProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p, err := c.chain.Provider(ctx, c.region)
	if err != nil {
		return aws.Credentials{}, err
	}
	return p.Retrieve(ctx)
}
