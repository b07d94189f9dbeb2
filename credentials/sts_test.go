package credentials_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/fault"
)

const (
	centralRole = "arn:aws:iam::123456789012:role/log-distribution"
	tenantRoleA = "arn:aws:iam::222222222222:role/logs-a"
	tenantRoleB = "arn:aws:iam::333333333333:role/logs-b"
)

// assumeCall is one AssumeRole request seen by the fake STS.
type assumeCall struct {
	SignedBy    string // access key id of the signing credentials
	Region      string // region of the signature scope
	RoleARN     string
	ExternalID  string
	SessionName string
	Form        map[string]string
}

// fakeSTS speaks the STS query protocol. It issues access key "AK<n>" for
// the n-th successful call and remembers which role each key belongs to.
type fakeSTS struct {
	*httptest.Server
	mu       sync.Mutex
	calls    []assumeCall
	keyRole  map[string]string
	lifetime time.Duration
	fail     func(c assumeCall) (status int, code string) // nil or code "": succeed
}

var credentialScope = regexp.MustCompile(`Credential=([^/]+)/[0-9]+/([^/]+)/sts/`)

func newFakeSTS(t *testing.T) *fakeSTS {
	f := &fakeSTS{keyRole: map[string]string{}, lifetime: time.Hour}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSTS) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "AssumeRole" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	c := assumeCall{
		RoleARN: r.Form.Get("RoleArn"), ExternalID: r.Form.Get("ExternalId"),
		SessionName: r.Form.Get("RoleSessionName"), Form: map[string]string{},
	}
	for k := range r.Form {
		c.Form[k] = r.Form.Get(k)
	}
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		c.SignedBy, c.Region = m[1], m[2]
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	fail, lifetime := f.fail, f.lifetime
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	if fail != nil {
		if status, code := fail(c); code != "" {
			w.WriteHeader(status)
			fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>injected %s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, code, code)
			return
		}
	}
	f.mu.Lock()
	key := fmt.Sprintf("AK%d", len(f.keyRole)+1)
	f.keyRole[key] = c.RoleARN
	f.mu.Unlock()
	var arn string
	if m := regexp.MustCompile(`^arn:aws:iam::([0-9]+):role/(.*)$`).FindStringSubmatch(c.RoleARN); m != nil {
		arn = fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", m[1], m[2], c.SessionName)
	}
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>secret-%s</SecretAccessKey><SessionToken>token-%s</SessionToken><Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>%s</Arn><AssumedRoleId>AROA:%s</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`,
		key, key, key, time.Now().Add(lifetime).UTC().Format(time.RFC3339), esc(arn), esc(c.SessionName))
}

// esc escapes s for XML text.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (f *fakeSTS) Calls() []assumeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]assumeCall(nil), f.calls...)
}

// CallsOf returns the number of calls that asked for role.
func (f *fakeSTS) CallsOf(role string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.RoleARN == role {
			n++
		}
	}
	return n
}

func (f *fakeSTS) RoleOf(key string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keyRole[key]
}

func newChain(t *testing.T, f *fakeSTS, optFns ...func(*credentials.STSOptions)) *credentials.STS {
	t.Helper()
	cfg := aws.Config{
		Region:           "us-east-2",
		Credentials:      awscreds.NewStaticCredentialsProvider("BASE", "base-secret", ""),
		BaseEndpoint:     aws.String(f.URL),
		RetryMaxAttempts: 1,
	}
	c, err := credentials.NewSTS(cfg, centralRole, optFns...)
	require.NoError(t, err)
	return c
}

func retrieve(t *testing.T, c credentials.CredentialChain, region string, hops ...credentials.Hop) (aws.Credentials, error) {
	t.Helper()
	p, err := c.Provider(context.Background(), region, hops...)
	require.NoError(t, err)
	return p.Retrieve(context.Background())
}

func TestSTSDoubleHop(t *testing.T) {
	f := newFakeSTS(t)
	c := newChain(t, f)
	creds, err := retrieve(t, c, "eu-west-1", credentials.Hop{RoleARN: tenantRoleA, SessionName: "logdelivery-team-a"})
	require.NoError(t, err)
	assert.Equal(t, tenantRoleA, f.RoleOf(creds.AccessKeyID))
	assert.Equal(t, "222222222222", creds.AccountID)

	calls := f.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, "BASE", calls[0].SignedBy, "the base credentials assume the central role")
	assert.Equal(t, centralRole, calls[0].RoleARN)
	assert.Empty(t, calls[0].ExternalID)
	assert.Equal(t, "logdelivery", calls[0].SessionName)
	assert.Equal(t, centralRole, f.RoleOf(calls[1].SignedBy), "the central role assumes the tenant role")
	assert.Equal(t, tenantRoleA, calls[1].RoleARN)
	assert.Equal(t, "123456789012", calls[1].ExternalID, "ExternalId defaults to the central account id")
	assert.Equal(t, "logdelivery-team-a", calls[1].SessionName)
	assert.Equal(t, "3600", calls[1].Form["DurationSeconds"])
	for _, call := range calls {
		assert.Equal(t, "eu-west-1", call.Region, "STS is called in the target region")
	}
}

func TestSTSZeroHopsIsCentralRole(t *testing.T) {
	f := newFakeSTS(t)
	c := newChain(t, f)
	creds, err := retrieve(t, c, "")
	require.NoError(t, err)
	assert.Equal(t, centralRole, f.RoleOf(creds.AccessKeyID))
	require.Len(t, f.Calls(), 1)
	assert.Equal(t, "us-east-2", f.Calls()[0].Region, "the default region is the base config's")

	// Without a central role, no hops means the base credentials.
	plain, err := credentials.NewSTS(aws.Config{Credentials: awscreds.NewStaticCredentialsProvider("BASE", "s", ""), Region: "us-east-2"}, "")
	require.NoError(t, err)
	creds, err = retrieve(t, plain, "")
	require.NoError(t, err)
	assert.Equal(t, "BASE", creds.AccessKeyID)
}

func TestSTSReusesCredentials(t *testing.T) {
	f := newFakeSTS(t)
	c := newChain(t, f)
	for range 5 { // five deliveries for each of two tenants
		for _, role := range []string{tenantRoleA, tenantRoleB} {
			_, err := retrieve(t, c, "eu-west-1", credentials.Hop{RoleARN: role, SessionName: "s-" + role[13:25]})
			require.NoError(t, err)
		}
		_, err := retrieve(t, c, "eu-west-1") // an S3 delivery: the central role
		require.NoError(t, err)
	}
	calls := f.Calls()
	require.Len(t, calls, 3, "one central hop shared by both tenants, one per tenant")
	assert.Equal(t, centralRole, calls[0].RoleARN)

	// Another region is another chain.
	_, err := retrieve(t, c, "ap-south-1", credentials.Hop{RoleARN: tenantRoleA})
	require.NoError(t, err)
	assert.Len(t, f.Calls(), 5)
}

func TestSTSConcurrentRetrieveIsSingleflight(t *testing.T) {
	f := newFakeSTS(t)
	c := newChain(t, f)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			p, err := c.Provider(context.Background(), "eu-west-1", credentials.Hop{RoleARN: tenantRoleA})
			assert.NoError(t, err)
			_, err = p.Retrieve(context.Background())
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Len(t, f.Calls(), 2)
}

func TestSTSRefreshesBeforeExpiry(t *testing.T) {
	f := newFakeSTS(t)
	f.lifetime = 2 * time.Minute // inside the 5 minute expiry window: stale at once
	c := newChain(t, f)
	hop := credentials.Hop{RoleARN: tenantRoleA}
	first, err := retrieve(t, c, "eu-west-1", hop)
	require.NoError(t, err)
	require.Len(t, f.Calls(), 2)
	second, err := retrieve(t, c, "eu-west-1", hop)
	require.NoError(t, err)
	assert.NotEqual(t, first.AccessKeyID, second.AccessKeyID)
	assert.Len(t, f.Calls(), 4, "both hops were refreshed")

	// With a shorter window the same lifetime is fresh: no refresh.
	f2 := newFakeSTS(t)
	f2.lifetime = 2 * time.Minute
	c2 := newChain(t, f2, func(o *credentials.STSOptions) { o.ExpiryWindow = time.Minute })
	for range 3 {
		_, err := retrieve(t, c2, "eu-west-1", hop)
		require.NoError(t, err)
	}
	assert.Len(t, f2.Calls(), 2)
}

func TestSTSExternalIDAndOptions(t *testing.T) {
	f := newFakeSTS(t)
	c := newChain(t, f, func(o *credentials.STSOptions) {
		o.SourceIdentity = "logdelivery"
		o.Tags = map[string]string{"service": "logdelivery"}
		o.TransitiveTagKeys = []string{"service"}
		o.Duration = 30 * time.Minute
	})
	_, err := retrieve(t, c, "eu-west-1", credentials.Hop{RoleARN: tenantRoleA, ExternalID: "tenant-chosen"})
	require.NoError(t, err)
	calls := f.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, "tenant-chosen", calls[1].ExternalID)
	assert.Equal(t, "logdelivery", calls[1].Form["SourceIdentity"])
	assert.Equal(t, "service", calls[1].Form["Tags.member.1.Key"])
	assert.Equal(t, "service", calls[1].Form["TransitiveTagKeys.member.1"])
	assert.Equal(t, "1800", calls[1].Form["DurationSeconds"])

	f2 := newFakeSTS(t)
	none := newChain(t, f2, func(o *credentials.STSOptions) { o.NoDefaultExternalID = true })
	_, err = retrieve(t, none, "eu-west-1", credentials.Hop{RoleARN: tenantRoleA})
	require.NoError(t, err)
	assert.Empty(t, f2.Calls()[1].ExternalID)
}

func TestSTSErrorsNameTheHop(t *testing.T) {
	for _, tc := range []struct {
		code      string
		status    int
		failRole  string
		hop       int
		retryable bool
	}{
		{"AccessDenied", 403, tenantRoleA, 2, false},
		{"AccessDenied", 403, centralRole, 1, true}, // the processor's own role: retried, never dropped
		{"RegionDisabledException", 403, tenantRoleA, 2, false},
		{"Throttling", 400, tenantRoleA, 2, true},
	} {
		t.Run(fmt.Sprint(tc.code, "/hop", tc.hop), func(t *testing.T) {
			f := newFakeSTS(t)
			f.fail = func(c assumeCall) (int, string) {
				if c.RoleARN == tc.failRole {
					return tc.status, tc.code
				}
				return 0, ""
			}
			c := newChain(t, f)
			_, err := retrieve(t, c, "eu-west-1", credentials.Hop{RoleARN: tenantRoleA})
			require.Error(t, err)
			var are *credentials.AssumeRoleError
			require.ErrorAs(t, err, &are)
			assert.Equal(t, tc.hop, are.Hop)
			assert.Equal(t, 2, are.Hops)
			assert.Equal(t, tc.failRole, are.RoleARN)
			assert.Equal(t, "eu-west-1", are.Region)
			assert.Contains(t, err.Error(), fmt.Sprintf("hop %d of 2 (%s)", tc.hop, tc.failRole))
			assert.Contains(t, err.Error(), tc.code)
			assert.Equal(t, tc.retryable, fault.IsRetryable(err), "%v", err)
		})
	}
}

func TestSTSMalformedRole(t *testing.T) {
	f := newFakeSTS(t)
	c := newChain(t, f)
	_, err := c.Provider(context.Background(), "eu-west-1", credentials.Hop{RoleARN: "arn:aws:iam::22222:role/x"})
	require.ErrorIs(t, err, credentials.ErrMalformedRoleARN)
	assert.True(t, fault.IsPermanent(err))
	var are *credentials.AssumeRoleError
	require.ErrorAs(t, err, &are)
	assert.Equal(t, 2, are.Hop)
	assert.Empty(t, f.Calls())

	_, err = credentials.NewSTS(aws.Config{Credentials: aws.AnonymousCredentials{}}, "role/x")
	require.ErrorIs(t, err, credentials.ErrMalformedRoleARN)
	_, err = credentials.NewSTS(aws.Config{}, centralRole)
	require.Error(t, err)
}

func TestSTSCacheIsBounded(t *testing.T) {
	f := newFakeSTS(t)
	c := newChain(t, f, func(o *credentials.STSOptions) { o.MaxEntries = 3 })
	roles := []string{tenantRoleA, tenantRoleB, "arn:aws:iam::444444444444:role/logs-c", "arn:aws:iam::555555555555:role/logs-d"}
	for _, r := range roles {
		_, err := retrieve(t, c, "eu-west-1", credentials.Hop{RoleARN: r})
		require.NoError(t, err)
	}
	n := len(f.Calls())
	// The most recent tenant is cached; the first was evicted.
	_, err := retrieve(t, c, "eu-west-1", credentials.Hop{RoleARN: roles[3]})
	require.NoError(t, err)
	assert.Len(t, f.Calls(), n)
	_, err = retrieve(t, c, "eu-west-1", credentials.Hop{RoleARN: roles[0]})
	require.NoError(t, err)
	assert.Greater(t, len(f.Calls()), n)
}

func TestSessionName(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "logdelivery",
		"a":                  "a-logdelivery",
		"logdelivery-team-a": "logdelivery-team-a",
		"team a/ns:x":        "team-a-ns-x",
		"ü":                  "--",
		"x@y.z_=+,":          "x@y.z_=+,",
	} {
		assert.Equal(t, want, credentials.SessionName(in), "%q", in)
	}
	long := credentials.SessionName(fmt.Sprintf("%070d", 1))
	assert.Len(t, long, 64)
}

func TestStaticIgnoresHops(t *testing.T) {
	p := awscreds.NewStaticCredentialsProvider("A", "B", "")
	got, err := credentials.Static{Credentials: p}.Provider(context.Background(), "x", credentials.Hop{RoleARN: tenantRoleA})
	require.NoError(t, err)
	assert.Equal(t, p, got)
	require.False(t, errors.Is(err, credentials.ErrMalformedRoleARN))
}

// hostRecorder records request hosts and fails every request.
type hostRecorder struct {
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) Do(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hosts = append(h.hosts, r.URL.Host)
	return nil, errors.New("offline")
}

func TestSTSUsesRegionalEndpoints(t *testing.T) {
	rec := &hostRecorder{}
	c, err := credentials.NewSTS(aws.Config{
		Region:           "us-east-1",
		Credentials:      awscreds.NewStaticCredentialsProvider("BASE", "s", ""),
		HTTPClient:       rec,
		RetryMaxAttempts: 1,
	}, centralRole)
	require.NoError(t, err)
	_, err = retrieve(t, c, "eu-central-1", credentials.Hop{RoleARN: tenantRoleA})
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err), "a network failure is retryable: %v", err)
	require.NotEmpty(t, rec.hosts)
	assert.Equal(t, "sts.eu-central-1.amazonaws.com", rec.hosts[0])
}

func TestSTSDefaultClientMakesOneAttempt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		code   string
		cfg    func(*aws.Config)
	}{
		{"throttling", 400, "Throttling", func(*aws.Config) {}},
		{"5xx", 503, "ServiceUnavailable", func(*aws.Config) {}},
		{"base config asks for retries", 400, "Throttling", func(c *aws.Config) {
			c.RetryMaxAttempts = 5
			c.RetryMode = aws.RetryModeAdaptive
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSTS(t)
			f.fail = func(assumeCall) (int, string) { return tc.status, tc.code }
			cfg := aws.Config{
				Region:       "us-east-2",
				Credentials:  awscreds.NewStaticCredentialsProvider("BASE", "base-secret", ""),
				BaseEndpoint: aws.String(f.URL),
			}
			tc.cfg(&cfg)
			c, err := credentials.NewSTS(cfg, centralRole)
			require.NoError(t, err)
			_, err = retrieve(t, c, "eu-west-1", credentials.Hop{RoleARN: tenantRoleA})
			require.ErrorContains(t, err, tc.code)
			assert.True(t, fault.IsRetryable(err))
			assert.Equal(t, 1, len(f.Calls()), "AssumeRole calls: no SDK retries under the caller's: %v", err)
		})
	}
}

func TestSTSRemembersPermanentFailures(t *testing.T) {
	f := newFakeSTS(t)
	var throttle atomic.Bool
	f.fail = func(c assumeCall) (int, string) {
		switch {
		case c.RoleARN != tenantRoleA:
			return 0, ""
		case throttle.Load():
			return 400, "Throttling"
		}
		return 403, "AccessDenied"
	}
	clock, advance := newClock()
	c := newChain(t, f, func(o *credentials.STSOptions) { o.Now = clock })
	tenantCalls := func() int { return f.CallsOf(tenantRoleA) }

	for range 3 {
		_, err := retrieve(t, c, "us-east-2", credentials.Hop{RoleARN: tenantRoleA})
		require.ErrorContains(t, err, "AccessDenied")
		assert.False(t, fault.IsRetryable(err))
	}
	assert.Equal(t, 1, tenantCalls(), "a denied role is not asked again within the failure TTL")

	advance(2 * time.Minute)
	throttle.Store(true)
	_, err := retrieve(t, c, "us-east-2", credentials.Hop{RoleARN: tenantRoleA})
	assert.True(t, fault.IsRetryable(err))
	assert.Equal(t, 2, tenantCalls(), "after the TTL STS is asked again")
	advance(fault.RetryAfter(err))
	_, err = retrieve(t, c, "us-east-2", credentials.Hop{RoleARN: tenantRoleA})
	assert.True(t, fault.IsRetryable(err))
	assert.Equal(t, 3, tenantCalls(), "a retryable failure is remembered for its backoff window, not the failure TTL")
}

// newClock returns a fake clock and a function that moves it forward.
func newClock() (now func() time.Time, advance func(time.Duration)) {
	t := time.Date(2025, 8, 30, 11, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now = func() time.Time { mu.Lock(); defer mu.Unlock(); return t }
	advance = func(d time.Duration) { mu.Lock(); t = t.Add(d); mu.Unlock() }
	return now, advance
}

func TestSTSBacksOffRetryableFailures(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{
		{400, "Throttling"},
		{503, "ServiceUnavailable"},
		{403, "AccessDenied"}, // of the central role: retryable, so backed off too
	} {
		t.Run(tc.code, func(t *testing.T) {
			f := newFakeSTS(t)
			f.lifetime = 2 * time.Minute // inside the expiry window: each Retrieve asks STS
			var fail atomic.Bool
			fail.Store(true)
			f.fail = func(assumeCall) (int, string) {
				if fail.Load() {
					return tc.status, tc.code
				}
				return 0, ""
			}
			clock, advance := newClock()
			c := newChain(t, f, func(o *credentials.STSOptions) { o.Now = clock })

			for n := 1; n <= 7; n++ {
				_, err := retrieve(t, c, "eu-west-1")
				require.ErrorContains(t, err, tc.code)
				require.Equal(t, n, len(f.Calls()), "failure %d asks STS", n)
				window := fault.RetryAfter(err)
				ceil := min(time.Second<<(n-1), 30*time.Second)
				assert.GreaterOrEqual(t, window, ceil/2, "window after failure %d", n)
				assert.LessOrEqual(t, window, ceil, "window after failure %d", n)

				// Within the window STS is not asked; the error is the
				// failure, hinting at the time left.
				advance(window / 2)
				_, err = retrieve(t, c, "eu-west-1")
				assert.Equal(t, n, len(f.Calls()), "no call within window %d", n)
				assert.True(t, fault.IsRetryable(err))
				assert.Equal(t, window-window/2, fault.RetryAfter(err))
				var are *credentials.AssumeRoleError
				require.ErrorAs(t, err, &are)
				assert.Equal(t, 1, are.Hop)
				assert.Equal(t, centralRole, are.RoleARN)
				assert.ErrorContains(t, err, tc.code)
				assert.ErrorContains(t, err, fmt.Sprintf("after %d failures in a row", n))
				advance(window - window/2)
			}

			// A success ends the backoff: the next failure starts over.
			fail.Store(false)
			_, err := retrieve(t, c, "eu-west-1")
			require.NoError(t, err)
			fail.Store(true)
			_, err = retrieve(t, c, "eu-west-1")
			require.Error(t, err)
			assert.Equal(t, 9, len(f.Calls()))
			assert.LessOrEqual(t, fault.RetryAfter(err), time.Second, "the first window again")
		})
	}
}

func TestSTSBacksOffTenantHop(t *testing.T) {
	f := newFakeSTS(t)
	f.fail = func(c assumeCall) (int, string) {
		if c.RoleARN == tenantRoleA {
			return 400, "Throttling"
		}
		return 0, ""
	}
	clock, advance := newClock()
	c := newChain(t, f, func(o *credentials.STSOptions) { o.Now = clock })

	_, err := retrieve(t, c, "eu-west-1", credentials.Hop{RoleARN: tenantRoleA})
	require.Error(t, err)
	window := fault.RetryAfter(err)
	assert.Positive(t, window)
	for range 3 {
		_, err := retrieve(t, c, "eu-west-1", credentials.Hop{RoleARN: tenantRoleA})
		assert.True(t, fault.IsRetryable(err))
		assert.Equal(t, window, fault.RetryAfter(err))
		var are *credentials.AssumeRoleError
		require.ErrorAs(t, err, &are)
		assert.Equal(t, 2, are.Hop)
		assert.Equal(t, tenantRoleA, are.RoleARN)
	}
	assert.Equal(t, 1, f.CallsOf(tenantRoleA), "a throttled tenant role is not asked again within its window")

	// Another tenant of the same central role is not held back.
	_, err = retrieve(t, c, "eu-west-1", credentials.Hop{RoleARN: tenantRoleB})
	require.NoError(t, err)

	advance(window)
	_, err = retrieve(t, c, "eu-west-1", credentials.Hop{RoleARN: tenantRoleA})
	require.Error(t, err)
	assert.Equal(t, 2, f.CallsOf(tenantRoleA), "after the window STS is asked again")
	assert.Equal(t, 1, f.CallsOf(centralRole), "the central role's credentials are cached throughout")
}

func TestSTSConcurrentFailuresShareOneCall(t *testing.T) {
	f := newFakeSTS(t)
	f.fail = func(assumeCall) (int, string) { return 400, "Throttling" }
	clock, _ := newClock()
	c := newChain(t, f, func(o *credentials.STSOptions) { o.Now = clock })
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			p, err := c.Provider(context.Background(), "eu-west-1", credentials.Hop{RoleARN: tenantRoleA})
			assert.NoError(t, err)
			_, err = p.Retrieve(context.Background())
			assert.True(t, fault.IsRetryable(err), "%v", err)
			assert.Positive(t, fault.RetryAfter(err), "%v", err)
			var are *credentials.AssumeRoleError
			if assert.ErrorAs(t, err, &are) {
				assert.Equal(t, 1, are.Hop)
			}
		})
	}
	wg.Wait()
	// Callers wait for the call in flight or, once it failed, get its
	// failure from memory.
	assert.Equal(t, 1, len(f.Calls()), "one AssumeRole call for 20 concurrent callers")
}

func TestSTSFailureBackoffOptions(t *testing.T) {
	base := aws.Config{Region: "us-east-2", Credentials: awscreds.NewStaticCredentialsProvider("BASE", "s", "")}
	for _, o := range []credentials.STSOptions{
		{FailureBackoffMax: -time.Second},
		{FailureBackoff: 2 * time.Second, FailureBackoffMax: time.Second},
		{FailureBackoff: time.Minute}, // longer than the default maximum
		{FailureBackoff: -1, FailureBackoffMax: -1},
	} {
		_, err := credentials.NewSTS(base, centralRole, func(so *credentials.STSOptions) { *so = o })
		assert.ErrorContains(t, err, "FailureBackoffMax", "%+v", o)
	}

	t.Run("disabled", func(t *testing.T) {
		f := newFakeSTS(t)
		f.fail = func(assumeCall) (int, string) { return 400, "Throttling" }
		c := newChain(t, f, func(o *credentials.STSOptions) { o.FailureBackoff = -1 })
		for range 3 {
			_, err := retrieve(t, c, "eu-west-1")
			assert.True(t, fault.IsRetryable(err))
			assert.Zero(t, fault.RetryAfter(err))
		}
		assert.Equal(t, 3, len(f.Calls()))
	})

	t.Run("fixed window", func(t *testing.T) {
		f := newFakeSTS(t)
		f.fail = func(assumeCall) (int, string) { return 400, "Throttling" }
		clock, advance := newClock()
		c := newChain(t, f, func(o *credentials.STSOptions) {
			o.Now = clock
			o.FailureBackoff, o.FailureBackoffMax = 10*time.Second, 10*time.Second
		})
		for range 4 {
			_, err := retrieve(t, c, "eu-west-1")
			window := fault.RetryAfter(err)
			assert.GreaterOrEqual(t, window, 5*time.Second)
			assert.LessOrEqual(t, window, 10*time.Second)
			advance(window)
		}
		assert.Equal(t, 4, len(f.Calls()))
	})
}
