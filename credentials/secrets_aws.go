package credentials

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"golang.org/x/sync/singleflight"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/awserr"
)

// SecretsManagerClient is the part of the Secrets Manager client that
// AWSSecrets uses; *secretsmanager.Client implements it.
type SecretsManagerClient interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SSMClient is the part of the Systems Manager client that AWSSecrets
// uses; *ssm.Client implements it.
type SSMClient interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// defaultClientAttempts is the most attempts the default clients make for
// one fetch: the SDK retries once (a throttle, a 5xx, a dropped
// connection). A failed fetch fails the delivery that needed it, and the
// caller retries deliveries with its own backoff (SQS redelivery, the
// dispatcher's retries): retries at both levels multiply, so the SDK's
// budget is kept to one retry.
const defaultClientAttempts = 2

// AWSSecretsOptions configure an AWSSecrets. The zero value of each field
// is its default; invalid values are an error of NewAWSSecrets.
type AWSSecretsOptions struct {
	// TTL is how long a fetched value is served from memory; it is fetched
	// again after it, so that rotations are seen within TTL. Must not be
	// negative. Default: 5 minutes.
	TTL time.Duration
	// FailureTTL is how long a permanent failure (a missing secret, access
	// denied, a missing key) is answered from memory instead of calling
	// AWS again, so that one tenant's broken reference does not spend the
	// central account's API rate, which every tenant shares. Retryable
	// failures are never remembered. Negative disables it. Default: 1
	// minute.
	FailureTTL time.Duration
	// MaxEntries bounds the cached values and failures, one per reference;
	// the least recently used are evicted. Must not be negative. Default:
	// 1024.
	MaxEntries int
	// FetchTimeout bounds one fetch. A fetch is shared by every concurrent
	// request for the same reference, so it is not cancelled with the
	// request that started it (each request still returns when its own
	// context is done). Must not be negative. Default: 30 seconds.
	FetchTimeout time.Duration

	// NamePrefix is the default confinement rule's prefix (see
	// NamePrefixRule), with TenantIDPlaceholder for the tenant id. It must
	// not be set together with Allow. Default: DefaultNamePrefix, so that
	// tenant acme may use the secrets logdelivery/acme/... and the
	// parameters /logdelivery/acme/....
	NamePrefix string
	// Allow is the tenant-confinement rule, called on every request before
	// the cache. Default: NamePrefixRule(NamePrefix).
	Allow AllowFunc
	// AllowedAccounts, when not empty, are the only AWS accounts whose
	// secrets and parameters may be referenced (for example the central
	// account only). Checked in addition to Allow.
	AllowedAccounts []string
	// AllowedRegions, when not empty, are the only regions whose secrets and
	// parameters may be referenced. Checked in addition to Allow.
	AllowedRegions []string

	// NewSecretsManagerClient returns the Secrets Manager client for a
	// region that acts with creds. Default: secretsmanager.NewFromConfig
	// with the config given to NewAWSSecrets, the region, creds and at most
	// 2 attempts per call (fewer if the config says so).
	NewSecretsManagerClient func(region string, creds aws.CredentialsProvider) SecretsManagerClient
	// NewSSMClient returns the Systems Manager client for a region that
	// acts with creds. Default: like NewSecretsManagerClient, with
	// ssm.NewFromConfig.
	NewSSMClient func(region string, creds aws.CredentialsProvider) SSMClient
	// Now returns the current time, for TTL and FailureTTL. Default:
	// time.Now.
	Now func() time.Time
	// Logger receives debug messages on fetches and their failures (never
	// values). Default: none.
	Logger *slog.Logger
}

// AWSSecrets resolves Secrets Manager and Parameter Store references
// (Secrets). It fetches them with the central identity of a
// CredentialChain (Provider with no hops) in the reference's region:
// GetSecretValue for secrets (SecretString, or SecretBinary; with #KEY the
// SecretString is parsed as a JSON object and the key's string value
// taken) and GetParameter with decryption for parameters.
//
// Every request is first checked: the tenant id (ValidateSecretTenantID),
// AllowedAccounts, AllowedRegions and the Allow rule (by default, names
// under the tenant's NamePrefix); a refusal is a permanent error and
// nothing is fetched. Values are then cached per reference for TTL,
// permanent failures for FailureTTL, in an LRU of MaxEntries; concurrent
// requests for one reference share one fetch.
//
// Failures are classified (see package fault) as:
//
//   - permanent, because the tenant must fix its reference or its grant:
//     the secret or parameter does not exist (ResourceNotFoundException,
//     ParameterNotFound, ParameterVersionNotFound); the request is invalid
//     (InvalidRequestException, as for a secret scheduled for deletion,
//     InvalidParameterException, ValidationException); access is denied
//     (AccessDeniedException: the secret's resource policy or the grant to
//     the central role); the secret's KMS key cannot decrypt it
//     (DecryptionFailure, InvalidKeyId: a key that is disabled, deleted or
//     whose policy refuses the central role is the owner's to fix, and
//     FailureTTL bounds how long it is remembered); #KEY names a key the
//     JSON object does not have, or the value is not a JSON object of
//     strings;
//   - as the chain classified it, for a failure to obtain credentials (the
//     central role's failures are retryable);
//   - retryable for everything else: throttling, 5xx, network failures,
//     timeouts, and the processor's own credential problems.
//
// Errors are *SecretError and never contain values. It is safe for
// concurrent use.
type AWSSecrets struct {
	chain CredentialChain
	opts  AWSSecretsOptions
	rules []AllowFunc
	log   *slog.Logger
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]*list.Element
	lru     *list.List // of *secretEntry, most recent first
}

// secretEntry is a cached value or permanent failure of one reference.
type secretEntry struct {
	key     string
	value   Secret
	err     error
	expires time.Time
}

// NewAWSSecrets returns an AWSSecrets that fetches with chain's central
// credentials; cfg is the base of the default clients (its region and
// credentials are replaced by the reference's region and the chain's).
func NewAWSSecrets(chain CredentialChain, cfg aws.Config, optFns ...func(*AWSSecretsOptions)) (*AWSSecrets, error) {
	if chain == nil {
		return nil, errors.New("credentials: NewAWSSecrets: no credential chain")
	}
	var o AWSSecretsOptions
	for _, fn := range optFns {
		fn(&o)
	}
	switch {
	case o.TTL < 0:
		return nil, fmt.Errorf("credentials: NewAWSSecrets: negative TTL %v", o.TTL)
	case o.MaxEntries < 0:
		return nil, fmt.Errorf("credentials: NewAWSSecrets: negative MaxEntries %d", o.MaxEntries)
	case o.FetchTimeout < 0:
		return nil, fmt.Errorf("credentials: NewAWSSecrets: negative FetchTimeout %v", o.FetchTimeout)
	case o.NamePrefix != "" && o.Allow != nil:
		return nil, errors.New("credentials: NewAWSSecrets: set NamePrefix or Allow, not both (an Allow rule can use NamePrefixRule itself)")
	}
	if o.TTL == 0 {
		o.TTL = 5 * time.Minute
	}
	if o.FailureTTL == 0 {
		o.FailureTTL = time.Minute
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = 1024
	}
	if o.FetchTimeout == 0 {
		o.FetchTimeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var rules []AllowFunc
	if len(o.AllowedAccounts) > 0 {
		for _, a := range o.AllowedAccounts {
			if !accountPattern.MatchString(a) {
				return nil, fmt.Errorf("credentials: NewAWSSecrets: AllowedAccounts: %q is not a 12-digit account id", a)
			}
		}
		accounts := slices.Clone(o.AllowedAccounts)
		rules = append(rules, func(_ string, ref SecretRef) error {
			if !slices.Contains(accounts, ref.Account()) {
				return fmt.Errorf("account %s is not one of AllowedAccounts (%s)", ref.Account(), strings.Join(accounts, ", "))
			}
			return nil
		})
	}
	if len(o.AllowedRegions) > 0 {
		for _, r := range o.AllowedRegions {
			if !regionPattern.MatchString(r) {
				return nil, fmt.Errorf("credentials: NewAWSSecrets: AllowedRegions: %q is not a region name", r)
			}
		}
		regions := slices.Clone(o.AllowedRegions)
		rules = append(rules, func(_ string, ref SecretRef) error {
			if !slices.Contains(regions, ref.Region()) {
				return fmt.Errorf("region %s is not one of AllowedRegions (%s)", ref.Region(), strings.Join(regions, ", "))
			}
			return nil
		})
	}
	if o.Allow == nil {
		if o.NamePrefix == "" {
			o.NamePrefix = DefaultNamePrefix
		}
		rule, err := NamePrefixRule(o.NamePrefix)
		if err != nil {
			return nil, fmt.Errorf("credentials: NewAWSSecrets: NamePrefix: %w", err)
		}
		o.Allow = rule
	}
	rules = append(rules, o.Allow)

	if o.NewSecretsManagerClient == nil || o.NewSSMClient == nil {
		base := cfg.Copy()
		if base.HTTPClient == nil {
			base.HTTPClient = awshttp.NewBuildableClient() // one transport for every client
		}
		attempts := defaultClientAttempts
		if base.RetryMaxAttempts > 0 && base.RetryMaxAttempts < attempts {
			attempts = base.RetryMaxAttempts
		}
		if o.NewSecretsManagerClient == nil {
			o.NewSecretsManagerClient = func(region string, creds aws.CredentialsProvider) SecretsManagerClient {
				return secretsmanager.NewFromConfig(base, func(so *secretsmanager.Options) {
					so.Region, so.Credentials, so.RetryMaxAttempts = region, creds, attempts
				})
			}
		}
		if o.NewSSMClient == nil {
			o.NewSSMClient = func(region string, creds aws.CredentialsProvider) SSMClient {
				return ssm.NewFromConfig(base, func(so *ssm.Options) {
					so.Region, so.Credentials, so.RetryMaxAttempts = region, creds, attempts
				})
			}
		}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AWSSecrets{chain: chain, opts: o, rules: rules, log: log, entries: map[string]*list.Element{}, lru: list.New()}, nil
}

var awsServices = []string{ServiceSecretsManager, ServiceSSM}

// Secret returns the value of ref for tenantID: from memory when it was
// fetched less than TTL ago, else fetched (see AWSSecrets). The error is a
// *SecretError.
func (a *AWSSecrets) Secret(ctx context.Context, tenantID string, ref SecretRef) (Secret, error) {
	if err := checkAllowed(tenantID, ref, awsServices, a.rules...); err != nil {
		a.log.Debug("credentials: secret reference refused", "tenant", tenantID, "ref", ref.String(), "error", err)
		return Secret{}, &SecretError{TenantID: tenantID, Ref: ref, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return Secret{}, &SecretError{TenantID: tenantID, Ref: ref, Err: fault.Retryable(err)}
	}
	key := ref.String()
	if e, ok := a.cached(key); ok {
		if e.err != nil {
			return Secret{}, &SecretError{TenantID: tenantID, Ref: ref, Err: e.err}
		}
		return e.value, nil
	}
	ch := a.group.DoChan(key, func() (any, error) {
		if e, ok := a.cached(key); ok { // fetched while this request looked
			return e.value, e.err
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.FetchTimeout)
		defer cancel()
		v, err := a.fetch(fctx, ref)
		a.store(key, v, err)
		return v, err
	})
	select {
	case <-ctx.Done():
		return Secret{}, &SecretError{TenantID: tenantID, Ref: ref, Err: fault.Retryable(ctx.Err())}
	case res := <-ch:
		if res.Err != nil {
			return Secret{}, &SecretError{TenantID: tenantID, Ref: ref, Err: res.Err}
		}
		return res.Val.(Secret), nil
	}
}

// cached returns the live entry of key.
func (a *AWSSecrets) cached(key string) (secretEntry, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	el, ok := a.entries[key]
	if !ok {
		return secretEntry{}, false
	}
	e := el.Value.(*secretEntry)
	if !a.opts.Now().Before(e.expires) {
		a.lru.Remove(el)
		delete(a.entries, key)
		return secretEntry{}, false
	}
	a.lru.MoveToFront(el)
	return *e, true
}

// store caches a value for TTL or a permanent failure for FailureTTL.
func (a *AWSSecrets) store(key string, v Secret, err error) {
	ttl := a.opts.TTL
	if err != nil {
		if fault.IsRetryable(err) || a.opts.FailureTTL < 0 {
			return
		}
		ttl = a.opts.FailureTTL
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := &secretEntry{key: key, value: v, err: err, expires: a.opts.Now().Add(ttl)}
	if el, ok := a.entries[key]; ok {
		el.Value = e
		a.lru.MoveToFront(el)
	} else {
		a.entries[key] = a.lru.PushFront(e)
	}
	for a.lru.Len() > a.opts.MaxEntries {
		el := a.lru.Back()
		a.lru.Remove(el)
		delete(a.entries, el.Value.(*secretEntry).key)
	}
}

// fetch asks AWS for the value of ref, with the chain's central
// credentials in ref's region, and classifies its failures.
func (a *AWSSecrets) fetch(ctx context.Context, ref SecretRef) (Secret, error) {
	a.log.Debug("credentials: fetching secret", "ref", ref.String(), "region", ref.Region())
	v, err := a.get(ctx, ref)
	if err != nil {
		a.log.Debug("credentials: secret fetch failed", "ref", ref.String(), "retryable", fault.IsRetryable(err), "error", err)
	}
	return v, err
}

func (a *AWSSecrets) get(ctx context.Context, ref SecretRef) (Secret, error) {
	creds, err := a.chain.Provider(ctx, ref.Region())
	if err != nil {
		return Secret{}, fault.Retryable(fmt.Errorf("central credentials: %w", err))
	}
	if ref.Service() == ServiceSSM {
		out, err := a.opts.NewSSMClient(ref.Region(), creds).GetParameter(ctx, &ssm.GetParameterInput{
			Name:           aws.String(ref.ARN()),
			WithDecryption: aws.Bool(true),
		})
		if err != nil {
			return Secret{}, classifySecretFetch(err)
		}
		if out.Parameter == nil || out.Parameter.Value == nil {
			return Secret{}, fault.Permanent(errors.New("the parameter has no value"))
		}
		return NewSecret(*out.Parameter.Value), nil
	}
	out, err := a.opts.NewSecretsManagerClient(ref.Region(), creds).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(ref.ARN()),
	})
	if err != nil {
		return Secret{}, classifySecretFetch(err)
	}
	return secretValue(ref, out.SecretString, out.SecretBinary)
}

// secretValue returns the value of a Secrets Manager secret, or the key
// ref selects of its SecretString. Its errors never quote the value, not
// even the character where JSON parsing failed.
func secretValue(ref SecretRef, str *string, bin []byte) (Secret, error) {
	if ref.Key() == "" {
		switch {
		case str != nil:
			return NewSecret(*str), nil
		case bin != nil:
			return NewSecret(string(bin)), nil
		}
		return Secret{}, fault.Permanent(errors.New("the secret has neither SecretString nor SecretBinary"))
	}
	if str == nil {
		return Secret{}, fault.Permanent(fmt.Errorf("#%s selects a key of a JSON SecretString, but the secret has none", ref.Key()))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*str), &obj); err != nil || obj == nil {
		return Secret{}, fault.Permanent(fmt.Errorf("#%s selects a key of a JSON object, but the SecretString is not one", ref.Key()))
	}
	raw, ok := obj[ref.Key()]
	if !ok {
		return Secret{}, fault.Permanent(fmt.Errorf("the secret's JSON object has no key %q", ref.Key()))
	}
	var v string
	if string(raw) == "null" || json.Unmarshal(raw, &v) != nil {
		return Secret{}, fault.Permanent(fmt.Errorf("the value of key %q of the secret's JSON object is not a string", ref.Key()))
	}
	return NewSecret(v), nil
}

// permanentFetchCodes are the AWS error codes of a secret fetch that the
// tenant (or the secret's owner) must fix: see AWSSecrets.
var permanentFetchCodes = map[string]bool{
	"ResourceNotFoundException": true, // Secrets Manager: no such secret or version
	"ParameterNotFound":         true, // Parameter Store
	"ParameterVersionNotFound":  true,
	"InvalidRequestException":   true, // Secrets Manager: e.g. scheduled for deletion
	"InvalidParameterException": true,
	"ValidationException":       true,
	"AccessDeniedException":     true, // IAM, resource policy, KMS key policy
	"AccessDenied":              true,
	"DecryptionFailure":         true, // Secrets Manager: its KMS key cannot decrypt
	"InvalidKeyId":              true, // Parameter Store: the SecureString's KMS key
}

// classifySecretFetch classifies a failed GetSecretValue or GetParameter
// (see AWSSecrets). A failure to obtain credentials keeps the class the
// chain gave it.
func classifySecretFetch(err error) error {
	var fe *fault.Error
	var ae *AssumeRoleError
	switch {
	case errors.As(err, &fe) || errors.As(err, &ae):
		return fault.Retryable(err)
	case permanentFetchCodes[awserr.Code(err)]:
		return fault.Permanent(err)
	}
	return fault.Retryable(err)
}
