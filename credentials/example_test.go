package credentials_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/logdelivery/logdelivery/credentials"
)

// ExampleNewSTS builds the role chain of a processor: its own credentials
// assume the central log-distribution role, which assumes each tenant's
// role. Providers are cached; STS is only called when credentials are
// first used or near expiry.
func ExampleNewSTS() {
	cfg := aws.Config{ // in production: config.LoadDefaultConfig(ctx)
		Region:      "eu-west-1",
		Credentials: awscreds.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	}
	chain, err := credentials.NewSTS(cfg, "arn:aws:iam::123456789012:role/log-distribution")
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	// S3 destinations: the central role itself.
	central, _ := chain.Provider(ctx, "eu-west-1")
	// CloudWatch Logs: the tenant's role, ExternalId defaulting to 123456789012.
	tenant, _ := chain.Provider(ctx, "eu-central-1", credentials.Hop{
		RoleARN:     "arn:aws:iam::222222222222:role/CustomerLogDistribution",
		SessionName: "logdelivery-team-a",
	})
	fmt.Println(central != nil, tenant != nil)
	// Output: true true
}
