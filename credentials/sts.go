package credentials

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/awserr"
)

// ErrMalformedRoleARN is matched by errors.Is for role ARNs that are not of
// the form arn:PARTITION:iam::ACCOUNT:role/NAME.
var ErrMalformedRoleARN = errors.New("malformed role ARN")

// AssumeRoleError reports which hop of a role chain failed. It is returned
// classified (see fault.IsRetryable): at a tenant's hop, access denied, a
// malformed role and a disabled region are permanent, throttling and 5xx
// retryable; any failure of the central role (the processor's own, shared
// by every tenant) is retryable. While the hop backs off (see
// STSOptions.FailureBackoff), retryable failures carry a retry-after hint
// (fault.RetryAfter): the time left before it asks STS again.
type AssumeRoleError struct {
	Hop     int    // 1-based position in the chain; the central role is hop 1
	Hops    int    // length of the chain
	RoleARN string // the role that could not be assumed
	Region  string // the STS region asked
	Err     error
}

func (e *AssumeRoleError) Error() string {
	return fmt.Sprintf("assume role hop %d of %d (%s) in %s: %v", e.Hop, e.Hops, e.RoleARN, e.Region, e.Err)
}

// Unwrap returns the STS error.
func (e *AssumeRoleError) Unwrap() error { return e.Err }

// STSOptions configure an STS chain.
type STSOptions struct {
	// Region is used when Provider is given none. Default: the base
	// config's region.
	Region string
	// NewClient returns the STS client for a region that acts with creds.
	// It should make one attempt per call: the chain's callers retry (a
	// deliverer's attempts, a runtime's redelivery) and the chain backs off
	// (FailureBackoff), so SDK retries would multiply under theirs, hop by
	// hop. Default: sts.NewFromConfig with the base config, the region (its
	// regional endpoint) and creds, with retries off (aws.NopRetryer,
	// whatever the base config's retry settings).
	NewClient func(region string, creds aws.CredentialsProvider) stscreds.AssumeRoleAPIClient
	// Duration is the lifetime asked for each session. Default: 1 hour, the
	// most AWS allows for a chained role.
	Duration time.Duration
	// ExpiryWindow is how long before expiry credentials are refreshed.
	// Default: 5 minutes.
	ExpiryWindow time.Duration
	// DefaultExternalID is sent to hops whose ExternalID is empty. Default:
	// the account id of the central role, which is what tenant roles
	// created by the seed's instructions expect. Set NoDefaultExternalID to
	// send none.
	DefaultExternalID   string
	NoDefaultExternalID bool
	// SessionName names the central role's session. Default: "logdelivery".
	// Tenant hops use their Hop.SessionName, or "logdelivery" when empty.
	// Names are made valid for STS (see SessionName).
	SessionName string
	// SourceIdentity, when set, is sent on every hop.
	SourceIdentity string
	// Tags are session tags sent on every hop; TransitiveTagKeys are passed
	// on through the chain.
	Tags              map[string]string
	TransitiveTagKeys []string
	// MaxEntries bounds the cached providers, one per (region, chain
	// prefix); the least recently used are evicted. Default: 1024.
	MaxEntries int
	// FailureTTL is how long a permanent failure of a hop (access denied,
	// region disabled) is answered from memory instead of calling STS
	// again, so that one tenant's broken role does not spend the central
	// account's AssumeRole rate, which every tenant shares. Negative
	// disables it. Default: 1 minute.
	FailureTTL time.Duration
	// FailureBackoff and FailureBackoffMax bound how long a hop whose
	// AssumeRole failed retryably (throttling, 5xx, a network failure, any
	// failure of the central role) is answered from memory: after the n-th
	// such failure in a row, for a random duration between c/2 and c with
	// c = min(FailureBackoffMax, FailureBackoff*2^(n-1)). The answer is the
	// failure, still retryable and naming the hop, with the time left as
	// its retry-after hint; a success ends the backoff. So the deliveries
	// in flight of a throttled role (the central role is shared by every
	// tenant of a region) ask STS about once per window, not once per
	// attempt each. Defaults: 1 second, and 30 seconds. With them the
	// windows after the first failures last at least 0.5, 1 and 2 seconds:
	// a role's fourth call comes 3.5 seconds after its first at the
	// earliest and its fifth 7.5 seconds after, so one delivery whose
	// retries last up to 7 seconds (the CloudWatch Logs deliverer's 6
	// attempts take at most 6.2 with its defaults) reaches STS at most 4
	// times; and a role is asked again within 30 seconds of STS
	// recovering. Negative FailureBackoff disables the backoff; a negative
	// FailureBackoffMax, or one shorter than FailureBackoff, is an error.
	FailureBackoff, FailureBackoffMax time.Duration
	// Now returns the current time, for FailureTTL and FailureBackoff.
	// Default: time.Now.
	Now func() time.Time
	// Logger receives debug messages on cache misses. Default: none.
	Logger *slog.Logger
}

// STS is a CredentialChain that assumes roles with AWS STS: the base
// credentials assume the central role, which assumes the hops (for
// CloudWatch Logs, the tenant's role with an ExternalId). Credentials are
// cached per (region, role chain, external ids, session names) in an
// aws.CredentialsCache (refreshed before expiry, one refresh at a time) and
// the central role's entry is shared by every tenant of a region. It is
// safe for concurrent use.
type STS struct {
	base    aws.CredentialsProvider
	central string
	opts    STSOptions
	log     *slog.Logger
	tags    []types.Tag

	mu      sync.Mutex
	entries map[string]*list.Element
	lru     *list.List // of *entry, most recent first
}

type entry struct {
	key      string
	provider aws.CredentialsProvider
}

// NewSTS returns a chain whose base identity is cfg.Credentials and whose
// central role is centralRoleARN. With an empty centralRoleARN the base
// credentials are the central identity and hops are assumed from them.
//
// Provider with no hops returns the central role's credentials (not the
// base credentials): that is what single-hop destinations such as S3 use.
func NewSTS(cfg aws.Config, centralRoleARN string, optFns ...func(*STSOptions)) (*STS, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("credentials: NewSTS: the base config has no credentials")
	}
	var o STSOptions
	for _, fn := range optFns {
		fn(&o)
	}
	var centralAccount string
	if centralRoleARN != "" {
		m := roleARNPattern.FindStringSubmatch(centralRoleARN)
		if m == nil {
			return nil, fmt.Errorf("credentials: central role %q: %w", centralRoleARN, ErrMalformedRoleARN)
		}
		centralAccount = m[2]
	}
	if o.Region == "" {
		o.Region = cfg.Region
	}
	if o.Duration <= 0 {
		o.Duration = time.Hour
	}
	if o.ExpiryWindow <= 0 {
		o.ExpiryWindow = 5 * time.Minute
	}
	if o.DefaultExternalID == "" && !o.NoDefaultExternalID {
		o.DefaultExternalID = centralAccount
	}
	if o.NoDefaultExternalID {
		o.DefaultExternalID = ""
	}
	o.SessionName = SessionName(o.SessionName)
	if o.FailureTTL == 0 {
		o.FailureTTL = time.Minute
	}
	if o.FailureBackoff == 0 {
		o.FailureBackoff = time.Second
	}
	if o.FailureBackoffMax == 0 {
		o.FailureBackoffMax = 30 * time.Second
	}
	switch {
	case o.FailureBackoffMax < 0:
		return nil, fmt.Errorf("credentials: NewSTS: negative FailureBackoffMax %v", o.FailureBackoffMax)
	case o.FailureBackoff > 0 && o.FailureBackoffMax < o.FailureBackoff:
		return nil, fmt.Errorf("credentials: NewSTS: FailureBackoffMax %v is shorter than FailureBackoff %v", o.FailureBackoffMax, o.FailureBackoff)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 1024
	}
	if o.NewClient == nil {
		base := cfg.Copy()
		o.NewClient = func(region string, creds aws.CredentialsProvider) stscreds.AssumeRoleAPIClient {
			c := base.Copy()
			c.Region = region
			c.Credentials = creds
			return sts.NewFromConfig(c, func(so *sts.Options) {
				so.Retryer = aws.NopRetryer{}
				so.RetryMaxAttempts = 0 // the base config's: not applied over the Retryer
			})
		}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &STS{base: cfg.Credentials, central: centralRoleARN, opts: o, log: log, entries: map[string]*list.Element{}, lru: list.New()}
	keys := make([]string, 0, len(o.Tags))
	for k := range o.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.tags = append(s.tags, types.Tag{Key: aws.String(k), Value: aws.String(o.Tags[k])})
	}
	return s, nil
}

// Provider returns cached credentials for the central role followed by
// hops, obtained from STS in region (empty: STSOptions.Region). Hops with
// no ExternalID get STSOptions.DefaultExternalID. Role ARNs are checked
// here; STS failures surface as *AssumeRoleError from the provider's
// Retrieve, which the SDK returns from the call that needed credentials.
func (s *STS) Provider(_ context.Context, region string, hops ...Hop) (aws.CredentialsProvider, error) {
	if region == "" {
		region = s.opts.Region
	}
	if region == "" {
		return nil, fault.Permanent(errors.New("credentials: no region for STS: give one to Provider or set STSOptions.Region"))
	}
	chain := make([]Hop, 0, len(hops)+1)
	if s.central != "" {
		chain = append(chain, Hop{RoleARN: s.central, SessionName: s.opts.SessionName})
	}
	for _, h := range hops {
		if h.ExternalID == "" {
			h.ExternalID = s.opts.DefaultExternalID
		}
		h.SessionName = SessionName(h.SessionName)
		chain = append(chain, h)
	}
	for i, h := range chain {
		if !roleARNPattern.MatchString(h.RoleARN) {
			return nil, fault.Permanent(&AssumeRoleError{Hop: i + 1, Hops: len(chain), RoleARN: h.RoleARN, Region: region, Err: ErrMalformedRoleARN})
		}
	}
	if len(chain) == 0 {
		return s.base, nil
	}
	return s.provider(region, chain), nil
}

// provider returns the cached provider of the chain, building the
// providers of its prefixes as needed.
func (s *STS) provider(region string, chain []Hop) aws.CredentialsProvider {
	keys := make([]string, len(chain))
	var b strings.Builder
	b.WriteString(region)
	for i, h := range chain {
		fmt.Fprintf(&b, "\x00%s\x01%s\x01%s", h.RoleARN, h.ExternalID, h.SessionName)
		keys[i] = b.String()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Find the longest cached prefix, then build the rest from it.
	parent, start := s.base, 0
	for i := len(chain) - 1; i >= 0; i-- {
		if el, ok := s.entries[keys[i]]; ok {
			s.lru.MoveToFront(el)
			if i == len(chain)-1 {
				return el.Value.(*entry).provider
			}
			parent, start = el.Value.(*entry).provider, i+1
			break
		}
	}
	for i := start; i < len(chain); i++ {
		parent = s.newHop(region, chain, i, parent)
		s.entries[keys[i]] = s.lru.PushFront(&entry{key: keys[i], provider: parent})
		s.log.Debug("credentials: new role chain entry", "region", region, "hop", i+1, "role", chain[i].RoleARN)
	}
	for s.lru.Len() > s.opts.MaxEntries {
		el := s.lru.Back()
		s.lru.Remove(el)
		delete(s.entries, el.Value.(*entry).key)
	}
	return parent
}

// newHop returns the cached provider of hop i, assumed with parent.
func (s *STS) newHop(region string, chain []Hop, i int, parent aws.CredentialsProvider) aws.CredentialsProvider {
	h := chain[i]
	p := stscreds.NewAssumeRoleProvider(s.opts.NewClient(region, parent), h.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = h.SessionName
		o.Duration = s.opts.Duration
		if h.ExternalID != "" {
			o.ExternalID = aws.String(h.ExternalID)
		}
		if s.opts.SourceIdentity != "" {
			o.SourceIdentity = aws.String(s.opts.SourceIdentity)
		}
		o.Tags = s.tags
		o.TransitiveTagKeys = s.opts.TransitiveTagKeys
	})
	hp := &hopProvider{p: p, err: AssumeRoleError{Hop: i + 1, Hops: len(chain), RoleARN: h.RoleARN, Region: region},
		central: s.central != "" && i == 0, failureTTL: s.opts.FailureTTL,
		backoff: s.opts.FailureBackoff, backoffMax: s.opts.FailureBackoffMax, now: s.opts.Now}
	return aws.NewCredentialsCache(hp, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = s.opts.ExpiryWindow
	})
}

// hopProvider names the hop in the errors of an AssumeRoleProvider and
// remembers its failures: permanent ones for failureTTL, retryable ones for
// a backoff window that grows with each failure in a row.
//
// It is wrapped in an aws.CredentialsCache, which calls Retrieve for one
// caller at a time (its callers meanwhile wait for that call's result), so
// concurrent callers of a hop share one AssumeRole call, and those coming
// after a failure get it from memory.
type hopProvider struct {
	p                   *stscreds.AssumeRoleProvider
	err                 AssumeRoleError
	central             bool // the central role: the processor's own, not a tenant's
	failureTTL          time.Duration
	backoff, backoffMax time.Duration
	now                 func() time.Time

	mu         sync.Mutex
	failed     error     // the last failure, classified
	failedTill time.Time // until when it is the answer
	failures   int       // retryable failures in a row
}

func (h *hopProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if err := h.remembered(); err != nil {
		return aws.Credentials{}, err
	}
	c, err := h.p.Retrieve(ctx)
	if err == nil {
		h.mu.Lock()
		h.failed, h.failures = nil, 0
		h.mu.Unlock()
		return c, nil
	}
	var earlier *AssumeRoleError
	if errors.As(err, &earlier) {
		// An earlier hop failed while this hop's call was being signed: the
		// earlier hop remembers it.
		return c, err
	}
	e := h.err
	e.Err = err
	if h.central {
		// The central role is the processor's own configuration, shared by
		// every tenant: its failure (even access denied, as while an IAM
		// change propagates) says nothing about the tenant, so it is retried
		// and never remembered as permanent.
		return c, h.remember(fault.Retryable(&e))
	}
	return c, h.remember(awserr.Classify(&e))
}

// remembered returns the failure to answer with instead of calling STS, or
// nil.
func (h *hopProvider) remembered() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed == nil {
		return nil
	}
	left := h.failedTill.Sub(h.now())
	switch {
	case left <= 0:
		return nil
	case fault.IsPermanent(h.failed):
		return h.failed
	}
	return fault.WithRetryAfter(fmt.Errorf("%w (STS not asked again for %v after %d failures in a row)",
		h.failed, left.Round(time.Millisecond), h.failures), left)
}

// remember records a classified failure of the hop and returns it, with
// the backoff window as retry-after hint when it is retryable.
func (h *hopProvider) remember(err error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fault.IsPermanent(err) {
		if h.failureTTL > 0 {
			h.failed, h.failedTill = err, h.now().Add(h.failureTTL)
		}
		return err
	}
	if h.backoff <= 0 {
		return err
	}
	h.failures++
	d := backoffWindow(h.backoff, h.backoffMax, h.failures)
	h.failed, h.failedTill = err, h.now().Add(d)
	return fault.WithRetryAfter(err, d)
}

// backoffWindow returns how long a hop is answered from memory after its
// n-th retryable failure in a row: with c = min(maxWindow, base*2^(n-1)), a
// random duration between c/2 and c ("equal jitter"), so that processes
// that failed together do not all ask again together.
func backoffWindow(base, maxWindow time.Duration, n int) time.Duration {
	c := base
	for i := 1; i < n && c < maxWindow; i++ {
		c *= 2
	}
	c = min(c, maxWindow)
	half := c / 2
	return half + rand.N(c-half+1)
}

// SessionName makes s a valid role session name: characters outside
// [A-Za-z0-9_+=,.@-] become '-', it is cut to 64 characters, and an empty
// or one-character name is completed with "logdelivery".
func SessionName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+=,.@-", c) >= 0
		if !ok {
			b[i] = '-'
		}
	}
	s = string(b)
	switch len(s) {
	case 0:
		return "logdelivery"
	case 1:
		s += "-logdelivery"
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}
