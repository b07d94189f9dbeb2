package credentials_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/fault"
)

const (
	acmeSecret    = "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/loki-AbCdEf"
	acmeParameter = "arn:aws:ssm:us-east-1:123456789012:parameter/logdelivery/acme/token"
)

func mustRef(t testing.TB, s string) credentials.SecretRef {
	t.Helper()
	r, err := credentials.ParseSecretRef(s)
	require.NoError(t, err)
	return r
}

// fakeChain records the central-credential requests of AWSSecrets.
type fakeChain struct {
	mu      sync.Mutex
	regions []string
	hops    int
	err     error
}

func (c *fakeChain) Provider(_ context.Context, region string, hops ...credentials.Hop) (aws.CredentialsProvider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.regions = append(c.regions, region)
	c.hops += len(hops)
	if c.err != nil {
		return nil, c.err
	}
	return awscreds.NewStaticCredentialsProvider("CENTRAL-"+region, "s", ""), nil
}

func (c *fakeChain) Regions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.regions...)
}

// fetchCall is one request seen by the fake clients.
type fetchCall struct {
	Service, Region, ID, AccessKey string
	WithDecryption                 bool
}

// fakeAWS is a Secrets Manager and Parameter Store with values and
// failures by ARN. Fetches wait for gate when it is not nil.
type fakeAWS struct {
	mu      sync.Mutex
	calls   []fetchCall
	secrets map[string]*secretsmanager.GetSecretValueOutput
	params  map[string]string
	errs    map[string]error
	gate    chan struct{}
	started chan struct{} // receives one value per fetch, when not nil
}

func newFakeAWS() *fakeAWS {
	return &fakeAWS{secrets: map[string]*secretsmanager.GetSecretValueOutput{}, params: map[string]string{}, errs: map[string]error{}}
}

func (f *fakeAWS) setString(arn, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[arn] = &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}
}

func (f *fakeAWS) setErr(arn string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[arn] = err
}

func (f *fakeAWS) Calls() []fetchCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fetchCall(nil), f.calls...)
}

func (f *fakeAWS) record(ctx context.Context, c fetchCall, creds aws.CredentialsProvider) error {
	v, err := creds.Retrieve(ctx)
	if err != nil {
		return err
	}
	c.AccessKey = v.AccessKeyID
	f.mu.Lock()
	f.calls = append(f.calls, c)
	gate, started := f.gate, f.started
	f.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

type smClient struct {
	f      *fakeAWS
	region string
	creds  aws.CredentialsProvider
}

func (c smClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	id := aws.ToString(in.SecretId)
	if err := c.f.record(ctx, fetchCall{Service: "secretsmanager", Region: c.region, ID: id}, c.creds); err != nil {
		return nil, err
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if err := c.f.errs[id]; err != nil {
		return nil, err
	}
	if out, ok := c.f.secrets[id]; ok {
		return out, nil
	}
	return nil, apiErr(400, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")})
}

type ssmClient struct {
	f      *fakeAWS
	region string
	creds  aws.CredentialsProvider
}

func (c ssmClient) GetParameter(ctx context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	id := aws.ToString(in.Name)
	if err := c.f.record(ctx, fetchCall{Service: "ssm", Region: c.region, ID: id, WithDecryption: aws.ToBool(in.WithDecryption)}, c.creds); err != nil {
		return nil, err
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if err := c.f.errs[id]; err != nil {
		return nil, err
	}
	if v, ok := c.f.params[id]; ok {
		return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Value: aws.String(v)}}, nil
	}
	return nil, apiErr(400, &ssmtypes.ParameterNotFound{})
}

// apiErr wraps an API error as the SDK returns it.
func apiErr(status int, err error) error {
	return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "GetSecretValue", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err},
		RequestID:     "req-1",
	}}
}

// fakeClock is a settable Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type awsFixture struct {
	chain *fakeChain
	aws   *fakeAWS
	clock *fakeClock
	logs  *syncBuffer
	s     *credentials.AWSSecrets
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newAWSFixture(t *testing.T, optFns ...func(*credentials.AWSSecretsOptions)) *awsFixture {
	t.Helper()
	fx := &awsFixture{chain: &fakeChain{}, aws: newFakeAWS(), clock: &fakeClock{now: time.Unix(1_700_000_000, 0)}, logs: &syncBuffer{}}
	opts := append([]func(*credentials.AWSSecretsOptions){func(o *credentials.AWSSecretsOptions) {
		o.Now = fx.clock.Now
		o.Logger = slog.New(slog.NewJSONHandler(fx.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.NewSecretsManagerClient = func(region string, creds aws.CredentialsProvider) credentials.SecretsManagerClient {
			return smClient{f: fx.aws, region: region, creds: creds}
		}
		o.NewSSMClient = func(region string, creds aws.CredentialsProvider) credentials.SSMClient {
			return ssmClient{f: fx.aws, region: region, creds: creds}
		}
	}}, optFns...)
	s, err := credentials.NewAWSSecrets(fx.chain, aws.Config{}, opts...)
	require.NoError(t, err)
	fx.s = s
	return fx
}

func (fx *awsFixture) get(t *testing.T, tenantID, ref string) (credentials.Secret, error) {
	t.Helper()
	return fx.s.Secret(context.Background(), tenantID, mustRef(t, ref))
}

func TestAWSSecretsValues(t *testing.T) {
	fx := newAWSFixture(t)
	fx.aws.setString(acmeSecret, "loki-password")
	const binary = "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/hmac-AbCdEf"
	fx.aws.secrets[binary] = &secretsmanager.GetSecretValueOutput{SecretBinary: []byte{0, 1, 2, 0xff}}
	const kafka = "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/kafka-AbCdEf"
	fx.aws.setString(kafka, `{"username":"acme","password":"kafka-pw","port":9092}`)
	fx.aws.params[acmeParameter] = "bearer-token"

	for _, tc := range []struct{ ref, want string }{
		{acmeSecret, "loki-password"},
		{binary, "\x00\x01\x02\xff"},
		{kafka + "#password", "kafka-pw"},
		{kafka + "#username", "acme"},
		{kafka, `{"username":"acme","password":"kafka-pw","port":9092}`},
		{acmeParameter, "bearer-token"},
	} {
		v, err := fx.get(t, "acme", tc.ref)
		require.NoError(t, err, tc.ref)
		assert.Equal(t, tc.want, v.Reveal(), tc.ref)
	}
	calls := fx.aws.Calls()
	require.Len(t, calls, 6, "one fetch per reference; #KEY refs are cached apart")
	assert.Equal(t, fetchCall{Service: "secretsmanager", Region: "us-east-1", ID: acmeSecret, AccessKey: "CENTRAL-us-east-1"}, calls[0])
	assert.Equal(t, kafka, calls[2].ID, "the SecretId is the ARN without #KEY")
	assert.Equal(t, fetchCall{Service: "ssm", Region: "us-east-1", ID: acmeParameter, AccessKey: "CENTRAL-us-east-1", WithDecryption: true}, calls[5])
	assert.Zero(t, fx.chain.hops, "secrets are read with the central identity: no hops")
}

func TestAWSSecretsRegionRouting(t *testing.T) {
	fx := newAWSFixture(t)
	refs := []string{
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:logdelivery/acme/a",
		"arn:aws:ssm:ap-south-1:222222222222:parameter/logdelivery/acme/b",
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/c",
	}
	for _, r := range refs {
		fx.aws.setString(r, "v")
		fx.aws.params[r] = "v"
		_, err := fx.get(t, "acme", r)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"eu-west-1", "ap-south-1", "us-east-1"}, fx.chain.Regions())
	var got []string
	for _, c := range fx.aws.Calls() {
		got = append(got, c.Service+" "+c.Region+" "+c.AccessKey)
	}
	assert.Equal(t, []string{
		"secretsmanager eu-west-1 CENTRAL-eu-west-1",
		"ssm ap-south-1 CENTRAL-ap-south-1",
		"secretsmanager us-east-1 CENTRAL-us-east-1",
	}, got)
}

func TestAWSSecretsClassification(t *testing.T) {
	const kafka = "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/kafka"
	for _, tc := range []struct {
		name      string
		ref       string
		err       error  // returned by the client
		value     string // the secret's SecretString otherwise
		chainErr  error
		permanent bool
		contains  string
	}{
		{name: "secret not found", ref: "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/missing", permanent: true, contains: "ResourceNotFoundException"},
		{name: "parameter not found", ref: "arn:aws:ssm:us-east-1:123456789012:parameter/logdelivery/acme/missing", permanent: true, contains: "ParameterNotFound"},
		{name: "parameter version not found", ref: acmeParameter, err: apiErr(400, &ssmtypes.ParameterVersionNotFound{}), permanent: true},
		{name: "invalid request", ref: acmeSecret, err: apiErr(400, &smtypes.InvalidRequestException{Message: aws.String("marked for deletion")}), permanent: true, contains: "marked for deletion"},
		{name: "invalid parameter", ref: acmeSecret, err: apiErr(400, &smtypes.InvalidParameterException{}), permanent: true},
		{name: "decryption failure", ref: acmeSecret, err: apiErr(400, &smtypes.DecryptionFailure{}), permanent: true},
		{name: "invalid KMS key", ref: acmeParameter, err: apiErr(400, &ssmtypes.InvalidKeyId{}), permanent: true},
		{name: "access denied", ref: acmeSecret, err: apiErr(400, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}), permanent: true},
		{name: "validation", ref: acmeParameter, err: apiErr(400, &smithy.GenericAPIError{Code: "ValidationException"}), permanent: true},
		{name: "missing JSON key", ref: kafka + "#password", value: `{"username":"acme"}`, permanent: true, contains: `no key "password"`},
		{name: "not JSON", ref: kafka + "#password", value: secretValue, permanent: true, contains: "not one"},
		{name: "JSON array", ref: kafka + "#password", value: `["` + secretValue + `"]`, permanent: true},
		{name: "JSON null", ref: kafka + "#password", value: `null`, permanent: true},
		{name: "number value", ref: kafka + "#password", value: `{"password":12345}`, permanent: true, contains: "not a string"},
		{name: "null value", ref: kafka + "#password", value: `{"password":null}`, permanent: true, contains: "not a string"},
		{name: "throttled", ref: acmeSecret, err: apiErr(400, &smithy.GenericAPIError{Code: "ThrottlingException"}), permanent: false},
		{name: "too many requests", ref: acmeParameter, err: apiErr(400, &ssmtypes.TooManyUpdates{}), permanent: false},
		{name: "internal service error", ref: acmeSecret, err: apiErr(500, &smtypes.InternalServiceError{}), permanent: false},
		{name: "internal server error", ref: acmeParameter, err: apiErr(500, &ssmtypes.InternalServerError{}), permanent: false},
		{name: "503", ref: acmeSecret, err: apiErr(503, &smithy.GenericAPIError{Code: "ServiceUnavailable"}), permanent: false},
		{name: "network", ref: acmeSecret, err: &smithy.OperationError{Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, permanent: false},
		{name: "deadline", ref: acmeSecret, err: context.DeadlineExceeded, permanent: false},
		{name: "processor's own credentials", ref: acmeSecret, err: apiErr(400, &smithy.GenericAPIError{Code: "UnrecognizedClientException"}), permanent: false},
		{name: "expired token", ref: acmeSecret, err: apiErr(400, &smithy.GenericAPIError{Code: "ExpiredTokenException"}), permanent: false},
		{name: "unclassified chain failure", ref: acmeSecret, chainErr: errors.New("no base credentials"), permanent: false},
		{name: "central role access denied", ref: acmeSecret, chainErr: fault.Retryable(&credentials.AssumeRoleError{Hop: 1, Hops: 1, Err: apiErr(403, &smithy.GenericAPIError{Code: "AccessDenied"})}), permanent: false},
		{name: "permanent chain failure", ref: acmeSecret, chainErr: fault.Permanent(errors.New("no region")), permanent: true},
		{name: "credentials retrieved in the call", ref: acmeSecret, err: &smithy.OperationError{Err: fmt.Errorf("failed to retrieve credentials: %w",
			fault.Retryable(&credentials.AssumeRoleError{Hop: 1, Hops: 1, Err: apiErr(403, &smithy.GenericAPIError{Code: "AccessDenied"})}))}, permanent: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newAWSFixture(t)
			fx.chain.err = tc.chainErr
			if tc.err != nil {
				fx.aws.setErr(mustRef(t, tc.ref).ARN(), tc.err)
			}
			if tc.value != "" {
				fx.aws.setString(mustRef(t, tc.ref).ARN(), tc.value)
			}
			_, err := fx.get(t, "acme", tc.ref)
			require.Error(t, err)
			assert.Equal(t, tc.permanent, fault.IsPermanent(err), "permanent: %v", err)
			var se *credentials.SecretError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "acme", se.TenantID)
			assert.Equal(t, tc.ref, se.Ref.String())
			assert.Contains(t, err.Error(), tc.ref, "the error names the reference")
			assert.Contains(t, err.Error(), tc.contains)
			assert.NotContains(t, err.Error(), secretValue)
			assert.NotContains(t, fx.logs.String(), secretValue)
		})
	}
}

func TestAWSSecretsTTL(t *testing.T) {
	fx := newAWSFixture(t, func(o *credentials.AWSSecretsOptions) { o.TTL = 10 * time.Minute })
	fx.aws.setString(acmeSecret, "v1")
	v, err := fx.get(t, "acme", acmeSecret)
	require.NoError(t, err)
	assert.Equal(t, "v1", v.Reveal())

	fx.aws.setString(acmeSecret, "v2") // rotated
	fx.clock.Advance(10*time.Minute - time.Second)
	v, err = fx.get(t, "acme", acmeSecret)
	require.NoError(t, err)
	assert.Equal(t, "v1", v.Reveal(), "served from memory within the TTL")
	assert.Len(t, fx.aws.Calls(), 1)

	fx.clock.Advance(time.Second)
	v, err = fx.get(t, "acme", acmeSecret)
	require.NoError(t, err)
	assert.Equal(t, "v2", v.Reveal(), "fetched again once the TTL has passed")
	assert.Len(t, fx.aws.Calls(), 2)

	// The default TTL is 5 minutes.
	fx = newAWSFixture(t)
	fx.aws.setString(acmeSecret, "v1")
	_, _ = fx.get(t, "acme", acmeSecret)
	fx.clock.Advance(5*time.Minute - time.Nanosecond)
	_, _ = fx.get(t, "acme", acmeSecret)
	assert.Len(t, fx.aws.Calls(), 1)
	fx.clock.Advance(time.Nanosecond)
	_, _ = fx.get(t, "acme", acmeSecret)
	assert.Len(t, fx.aws.Calls(), 2)
}

func TestAWSSecretsFailureTTL(t *testing.T) {
	fx := newAWSFixture(t) // default FailureTTL: 1 minute
	_, err := fx.get(t, "acme", acmeSecret)
	require.True(t, fault.IsPermanent(err))
	fx.clock.Advance(59 * time.Second)
	_, err2 := fx.get(t, "acme", acmeSecret)
	require.True(t, fault.IsPermanent(err2))
	assert.Equal(t, err.Error(), err2.Error())
	assert.Len(t, fx.aws.Calls(), 1, "a permanent failure is remembered")

	fx.aws.setString(acmeSecret, "created")
	fx.clock.Advance(time.Second)
	v, err := fx.get(t, "acme", acmeSecret)
	require.NoError(t, err, "asked again once FailureTTL has passed")
	assert.Equal(t, "created", v.Reveal())
	assert.Len(t, fx.aws.Calls(), 2)

	// Retryable failures are never remembered.
	fx.aws.setErr(acmeParameter, apiErr(400, &smithy.GenericAPIError{Code: "ThrottlingException"}))
	for range 3 {
		_, err := fx.get(t, "acme", acmeParameter)
		require.True(t, fault.IsRetryable(err))
	}
	assert.Len(t, fx.aws.Calls(), 5)

	// A negative FailureTTL disables it.
	fx = newAWSFixture(t, func(o *credentials.AWSSecretsOptions) { o.FailureTTL = -1 })
	for range 3 {
		_, err := fx.get(t, "acme", acmeSecret)
		require.True(t, fault.IsPermanent(err))
	}
	assert.Len(t, fx.aws.Calls(), 3)

	// A longer one.
	fx = newAWSFixture(t, func(o *credentials.AWSSecretsOptions) { o.FailureTTL = time.Hour })
	_, _ = fx.get(t, "acme", acmeSecret)
	fx.clock.Advance(59 * time.Minute)
	_, _ = fx.get(t, "acme", acmeSecret)
	assert.Len(t, fx.aws.Calls(), 1)
}

func TestAWSSecretsSharedFetch(t *testing.T) {
	fx := newAWSFixture(t)
	fx.aws.setString(acmeSecret, "shared")
	fx.aws.gate = make(chan struct{})
	fx.aws.started = make(chan struct{}, 100)

	const n = 50
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range n {
		wg.Go(func() {
			v, err := fx.s.Secret(context.Background(), "acme", mustRef(t, acmeSecret))
			if err == nil && v.Reveal() == "shared" {
				ok.Add(1)
			}
		})
	}
	<-fx.aws.started // the one fetch is under way
	// A request whose context ends returns without waiting for the fetch,
	// and does not cancel it for the others.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := fx.s.Secret(ctx, "acme", mustRef(t, acmeSecret))
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.True(t, fault.IsRetryable(err))

	time.Sleep(20 * time.Millisecond) // let the others join
	close(fx.aws.gate)
	wg.Wait()
	assert.Equal(t, int32(n), ok.Load())
	assert.Len(t, fx.aws.Calls(), 1, "concurrent requests share one fetch")

	// Different references are fetched apart, concurrently.
	fx = newAWSFixture(t)
	for i := range 5 {
		fx.aws.setString(fmt.Sprintf("%s-%d", acmeSecret, i), "v")
	}
	for range 4 {
		for i := range 5 {
			wg.Go(func() {
				_, err := fx.get(t, "acme", fmt.Sprintf("%s-%d", acmeSecret, i))
				assert.NoError(t, err)
			})
		}
	}
	wg.Wait()
	assert.Len(t, fx.aws.Calls(), 5)
}

func TestAWSSecretsLRU(t *testing.T) {
	fx := newAWSFixture(t, func(o *credentials.AWSSecretsOptions) { o.MaxEntries = 2 })
	ref := func(i int) string { return fmt.Sprintf("%s-%d", acmeSecret, i) }
	for i := range 3 {
		fx.aws.setString(ref(i), "v")
	}
	get := func(i int) {
		_, err := fx.get(t, "acme", ref(i))
		require.NoError(t, err)
	}
	get(0)
	get(1)
	get(0) // 0 is now the most recent
	assert.Len(t, fx.aws.Calls(), 2)
	get(2) // evicts 1
	assert.Len(t, fx.aws.Calls(), 3)
	get(0)
	get(2)
	assert.Len(t, fx.aws.Calls(), 3, "0 and 2 are cached")
	get(1)
	assert.Len(t, fx.aws.Calls(), 4, "1 was evicted")
	get(0) // evicted by 1 (2 was used after it)
	assert.Len(t, fx.aws.Calls(), 5)

	// Failures take entries too.
	fx = newAWSFixture(t, func(o *credentials.AWSSecretsOptions) { o.MaxEntries = 1 })
	_, _ = fx.get(t, "acme", ref(7))
	_, _ = fx.get(t, "acme", ref(8))
	_, _ = fx.get(t, "acme", ref(7))
	assert.Len(t, fx.aws.Calls(), 3)
}

func TestAWSSecretsRefusals(t *testing.T) {
	other := "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/other/loki-AbCdEf"
	for _, tc := range []struct {
		name, tenant, ref string
		opt               func(*credentials.AWSSecretsOptions)
		contains          string
	}{
		{name: "another tenant's secret", tenant: "acme", ref: other, contains: `secret names of tenant "acme" must start with "logdelivery/acme/"`},
		{name: "another tenant's parameter", tenant: "acme", ref: "arn:aws:ssm:us-east-1:123456789012:parameter/logdelivery/other/token",
			contains: `parameter names of tenant "acme" must start with "/logdelivery/acme/"`},
		{name: "a longer tenant id", tenant: "acme", ref: "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme-corp/x", contains: `"logdelivery/acme/"`},
		{name: "outside the prefix", tenant: "acme", ref: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/rds/master", contains: `"logdelivery/acme/"`},
		{name: "the prefix itself", tenant: "acme", ref: "arn:aws:ssm:us-east-1:123456789012:parameter/logdelivery/acme", contains: `"/logdelivery/acme/"`},
		{name: "tenant id with a slash", tenant: "acme/x", ref: "arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/x/y", contains: "invalid tenant id"},
		{name: "tenant id with a dot-dot", tenant: "..", ref: acmeSecret, contains: "invalid tenant id"},
		{name: "empty tenant id", tenant: "", ref: acmeSecret, contains: "invalid tenant id"},
		{name: "file reference", tenant: "acme", ref: "file:acme/x", contains: "file references are not served here"},
		{name: "account filter", tenant: "acme", ref: "arn:aws:secretsmanager:us-east-1:999999999999:secret:logdelivery/acme/x",
			opt: func(o *credentials.AWSSecretsOptions) { o.AllowedAccounts = []string{"123456789012"} }, contains: "account 999999999999 is not one of AllowedAccounts (123456789012)"},
		{name: "region filter", tenant: "acme", ref: "arn:aws:ssm:eu-west-1:123456789012:parameter/logdelivery/acme/x",
			opt: func(o *credentials.AWSSecretsOptions) { o.AllowedRegions = []string{"us-east-1", "us-west-2"} }, contains: "region eu-west-1 is not one of AllowedRegions (us-east-1, us-west-2)"},
		{name: "custom prefix", tenant: "acme", ref: acmeSecret,
			opt: func(o *credentials.AWSSecretsOptions) { o.NamePrefix = "tenants/{tenant_id}/logs/" }, contains: `"tenants/acme/logs/"`},
		{name: "custom rule", tenant: "acme", ref: acmeSecret,
			opt: func(o *credentials.AWSSecretsOptions) {
				o.Allow = func(string, credentials.SecretRef) error { return errors.New("no secrets for anyone") }
			}, contains: "no secrets for anyone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []func(*credentials.AWSSecretsOptions)
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			fx := newAWSFixture(t, opts...)
			fx.aws.setString(mustRef(t, tc.ref).ARN(), secretValue)
			_, err := fx.get(t, tc.tenant, tc.ref)
			require.Error(t, err)
			assert.True(t, fault.IsPermanent(err), "refusals are permanent")
			assert.Contains(t, err.Error(), tc.contains)
			if !strings.Contains(tc.contains, "invalid tenant id") {
				assert.ErrorIs(t, err, credentials.ErrSecretRefused)
			}
			assert.Empty(t, fx.aws.Calls(), "nothing is fetched for a refused reference")
			assert.Empty(t, fx.chain.Regions(), "no credentials are asked for a refused reference")
			assert.NotContains(t, err.Error(), secretValue)
		})
	}

	t.Run("zero reference", func(t *testing.T) {
		fx := newAWSFixture(t)
		_, err := fx.s.Secret(context.Background(), "acme", credentials.SecretRef{})
		assert.True(t, fault.IsPermanent(err))
		assert.Empty(t, fx.aws.Calls())
	})

	// The rule is checked before the cache: a value fetched for one tenant
	// is not served to another.
	t.Run("before the cache", func(t *testing.T) {
		var allowOther atomic.Bool
		fx := newAWSFixture(t, func(o *credentials.AWSSecretsOptions) {
			o.Allow = func(tenantID string, ref credentials.SecretRef) error {
				if tenantID == "acme" || allowOther.Load() {
					return nil
				}
				return errors.New("only acme")
			}
		})
		fx.aws.setString(acmeSecret, secretValue)
		v, err := fx.get(t, "acme", acmeSecret)
		require.NoError(t, err)
		assert.Equal(t, secretValue, v.Reveal())
		_, err = fx.get(t, "other", acmeSecret)
		require.ErrorIs(t, err, credentials.ErrSecretRefused)
		allowOther.Store(true)
		_, err = fx.get(t, "other", acmeSecret)
		require.NoError(t, err)
		assert.Len(t, fx.aws.Calls(), 1)
	})
}

func TestNewAWSSecretsOptions(t *testing.T) {
	chain := &fakeChain{}
	for name, fn := range map[string]func(*credentials.AWSSecretsOptions){
		"negative TTL":          func(o *credentials.AWSSecretsOptions) { o.TTL = -time.Second },
		"negative MaxEntries":   func(o *credentials.AWSSecretsOptions) { o.MaxEntries = -1 },
		"negative FetchTimeout": func(o *credentials.AWSSecretsOptions) { o.FetchTimeout = -1 },
		"prefix and rule": func(o *credentials.AWSSecretsOptions) {
			o.NamePrefix = "x/{tenant_id}/"
			o.Allow = func(string, credentials.SecretRef) error { return nil }
		},
		"prefix without placeholder": func(o *credentials.AWSSecretsOptions) { o.NamePrefix = "logdelivery/" },
		"prefix without slash":       func(o *credentials.AWSSecretsOptions) { o.NamePrefix = "logdelivery/{tenant_id}" },
		"bad account":                func(o *credentials.AWSSecretsOptions) { o.AllowedAccounts = []string{"1234"} },
		"bad region":                 func(o *credentials.AWSSecretsOptions) { o.AllowedRegions = []string{"mars"} },
	} {
		_, err := credentials.NewAWSSecrets(chain, aws.Config{}, fn)
		assert.Error(t, err, name)
	}
	_, err := credentials.NewAWSSecrets(nil, aws.Config{})
	assert.Error(t, err)
	s, err := credentials.NewAWSSecrets(chain, aws.Config{})
	require.NoError(t, err)
	assert.NotNil(t, s)
}

// TestAWSSecretsNoValuesInLogs fetches and fails with values that must
// appear in no error and no log line.
func TestAWSSecretsNoValuesInLogs(t *testing.T) {
	fx := newAWSFixture(t)
	refs := map[string]string{
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/a":          secretValue,
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/b#password": `{"user":"` + secretValue + `"}`,
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/c#password": `{"password":` + secretValue + `}`,
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/d#password": `{"password":"` + secretValue + `"`,
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/e#password": `{"password":["` + secretValue + `"]}`,
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/f#password": `{"password":"` + secretValue + `"}`,
	}
	for ref, v := range refs {
		fx.aws.setString(mustRef(t, ref).ARN(), v)
	}
	var errs []string
	for ref := range refs {
		v, err := fx.get(t, "acme", ref)
		if err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		} else {
			slog.New(slog.NewJSONHandler(fx.logs, nil)).Info("got", "secret", v)
		}
	}
	assert.Len(t, errs, 12, "four of the six fail")
	for _, e := range errs {
		assert.NotContains(t, e, secretValue)
	}
	assert.Contains(t, fx.logs.String(), "fetching secret")
	assert.Contains(t, fx.logs.String(), "secret fetch failed")
	assert.NotContains(t, fx.logs.String(), secretValue)
}

// TestAWSSecretsDefaultClients checks the default clients against a fake
// Secrets Manager endpoint: the ref's region, the chain's credentials, and
// one retry at most.
func TestAWSSecretsDefaultClients(t *testing.T) {
	var requests atomic.Int32
	var mu sync.Mutex
	var auth []string
	fail := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"__type":"InternalServiceError","message":"injected"}`))
			return
		}
		_, _ = w.Write([]byte(`{"ARN":"x","Name":"logdelivery/acme/loki","SecretString":"from-the-wire"}`))
	}))
	t.Cleanup(srv.Close)
	chain := credentials.Static{Credentials: awscreds.NewStaticCredentialsProvider("AKCENTRAL", "s", "")}
	cfg := aws.Config{Region: "us-west-2", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 5}
	s, err := credentials.NewAWSSecrets(chain, cfg)
	require.NoError(t, err)

	ref := "arn:aws:secretsmanager:eu-central-1:123456789012:secret:logdelivery/acme/loki"
	v, err := s.Secret(context.Background(), "acme", mustRef(t, ref))
	require.NoError(t, err)
	assert.Equal(t, "from-the-wire", v.Reveal())
	require.Len(t, auth, 1)
	assert.Contains(t, auth[0], "Credential=AKCENTRAL/")
	assert.Contains(t, auth[0], "/eu-central-1/secretsmanager/", "signed for the reference's region")

	fail.Store(true)
	requests.Store(0)
	_, err = s.Secret(context.Background(), "acme", mustRef(t, ref+"#k"))
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err))
	assert.Equal(t, int32(2), requests.Load(), "the SDK retries once, whatever the config says")

	// A config asking for fewer attempts gets fewer.
	cfg.RetryMaxAttempts = 1
	s, err = credentials.NewAWSSecrets(chain, cfg)
	require.NoError(t, err)
	requests.Store(0)
	_, err = s.Secret(context.Background(), "acme", mustRef(t, ref))
	require.Error(t, err)
	assert.Equal(t, int32(1), requests.Load())
}
