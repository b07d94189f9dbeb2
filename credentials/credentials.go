// Package credentials provides the AWS credentials a delivery acts with: a
// CredentialChain returns credentials for the central role, optionally
// followed by role hops into a tenant's account.
//
// STS (NewSTS) is the production chain: base credentials assume the central
// log-distribution role (single hop, for S3 destinations) which assumes the
// tenant's role with an ExternalId (double hop, for CloudWatch Logs), every
// hop cached and refreshed before expiry. Static is for local runs and
// tests.
//
// An STS chain retries nothing itself, so that retries do not multiply: its
// STS clients make one attempt per AssumeRole call (the SDK's retries are
// off), and the caller's retries (a deliverer's attempts, a runtime's
// redelivery) are the only ones. Concurrent callers of a hop share one
// call. A hop whose call failed retryably (throttling, 5xx, the network)
// backs off: for a window that grows exponentially, with jitter, with each
// failure in a row (STSOptions.FailureBackoff), its callers get the failure
// back without a call, still retryable, naming the hop and hinting at the
// time left (fault.RetryAfter). A tenant's hop that failed permanently
// (access denied) is remembered for STSOptions.FailureTTL. So a throttled
// role costs STS about one call per window, however many deliveries are
// in flight.
//
// # Secrets
//
// Destination settings may reference a secret but never hold one: a
// SecretRef (ParseSecretRef) names a Secrets Manager secret (its ARN,
// optionally #KEY of a JSON secret), a Parameter Store parameter, or a
// file: under an operator's directory. A destination holds a Secrets and
// asks it for the Secret when it delivers; a Secret prints, logs and
// encodes as "[redacted]". AWSSecrets fetches with the central identity of
// a CredentialChain, caching values for a TTL and permanent failures for a
// FailureTTL; FileSecrets reads files through an os.Root for local runs.
// Both confine each tenant to its own names (by default
// logdelivery/{tenant_id}/ for AWS and {tenant_id}/ for files) on every
// call, and classify failures with package fault.
package credentials

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Hop is one AssumeRole step of a chain.
type Hop struct {
	RoleARN     string
	ExternalID  string // empty: the chain's default (STS: the central account id)
	SessionName string // empty: chosen by the chain
}

// CredentialChain returns credentials for role chains.
type CredentialChain interface {
	// Provider returns a credentials provider for the central identity
	// followed by hops (none: the central identity itself), for the given
	// region (empty: the chain's default). Implementations cache providers
	// so that repeated calls for one chain share credentials.
	Provider(ctx context.Context, region string, hops ...Hop) (aws.CredentialsProvider, error)
}

// Static is a CredentialChain that ignores hops and returns one provider for
// every chain: for local runs, tests, and deployments where the processor's
// own identity may write to every destination.
type Static struct {
	Credentials aws.CredentialsProvider
}

// Provider returns s.Credentials.
func (s Static) Provider(context.Context, string, ...Hop) (aws.CredentialsProvider, error) {
	return s.Credentials, nil
}
