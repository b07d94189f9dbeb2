// Package cloudwatch delivers log records into a CloudWatch Logs group in
// the tenant's own AWS account, through a role chain.
//
// # Batching
//
// Records are streamed from the object and packed by internal/cwbatch into
// PutLogEvents calls that respect every limit of the API (10,000 events,
// 1,048,576 bytes counting each message's UTF-8 length plus 26, a 24 hour
// span), each batch as full as the record order allows. Messages over
// Options.MaxEventSize are truncated on a UTF-8 boundary (Receipt.Truncated)
// and events the API would reject anyway (older than 14 days, more than 2
// hours ahead of Options.Now) are dropped and counted (Receipt.Dropped).
//
// # Ordering
//
// Memory is bounded: an object is never sorted as a whole. Each batch is
// sorted stably by timestamp before it is sent, batches of one stream are
// sent one after another in the order of the object, and within this
// Deliverer at most one PutLogEvents call is in flight per stream (a
// per-stream lock), so two deliveries to one stream interleave only at
// batch boundaries. CloudWatch Logs accepts batches whose time ranges
// overlap and returns events in timestamp order when read, so collector
// output, which is nearly in time order, reads back in order. Batches of
// different streams of one delivery are sent in parallel, bounded by
// Options.Concurrency.
//
// # API calls
//
// No Describe* calls: PutLogEvents is tried first. On ResourceNotFound the
// stream is created (and, with Options.CreateLogGroup, the group, with
// Options.RetentionDays) and the batch is sent again. Events the service
// reports in rejectedLogEventsInfo are counted in Receipt.Rejected and
// never resent.
//
// # Retries
//
// The SDK client's own retryer is disabled (aws.NopRetryer) so that retries
// do not multiply: this package retries throttling, 5xx and timeouts with
// jittered exponential backoff, at most Options.MaxAttempts times per
// batch, and never sleeps past the context deadline. After a final failure
// no further batch of the delivery is sent; the error is a *DeliveryError
// saying how many events were delivered and how many were not, classified
// as retryable or permanent.
package cloudwatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/awserr"
	"github.com/logdelivery/logdelivery/internal/cwbatch"
	"github.com/logdelivery/logdelivery/internal/reqbody"
	"github.com/logdelivery/logdelivery/keyparse"
)

// DefaultStreamTemplate names one log stream per pod.
const DefaultStreamTemplate = "{cluster_id}/{application}/{pod_name}"

// Event size limits for Options.MaxEventSize.
const (
	// MaxEventSize is the largest message under the current 1 MB event
	// limit (1,048,576 - 26 bytes): the default.
	MaxEventSize = cwbatch.MaxEventSize
	// LegacyMaxEventSize is the largest message under the older 256 KB
	// limit (262,144 - 26 bytes), for partitions that still enforce it.
	LegacyMaxEventSize = cwbatch.LegacyMaxEventSize
)

// maxOpenBytes bounds the events held in open batches of one delivery; past
// it every open batch is sent. It only matters for objects that mix many
// streams.
const maxOpenBytes = 8 << 20

// Client is the part of the CloudWatch Logs API the deliverer uses;
// *cloudwatchlogs.Client implements it.
type Client interface {
	PutLogEvents(ctx context.Context, params *cloudwatchlogs.PutLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutLogEventsOutput, error)
	CreateLogStream(ctx context.Context, params *cloudwatchlogs.CreateLogStreamInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogStreamOutput, error)
	CreateLogGroup(ctx context.Context, params *cloudwatchlogs.CreateLogGroupInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error)
	PutRetentionPolicy(ctx context.Context, params *cloudwatchlogs.PutRetentionPolicyInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutRetentionPolicyOutput, error)
}

// Options configure a Deliverer.
type Options struct {
	// AWSConfig is the base configuration of the default client: endpoint,
	// HTTP client, logging. Its credentials are not used (they come from the
	// chain) and its retryer is replaced (see the package doc). Default:
	// the zero Config, which reaches the real AWS endpoints.
	AWSConfig aws.Config
	// Region is used when a config has no target_region. Default:
	// AWSConfig.Region. A delivery with neither fails permanently.
	Region string
	// NewClient builds a client for a region and credentials. Default: a
	// cloudwatchlogs.Client from AWSConfig with retries disabled, an HTTP
	// client shared by every client of this Deliverer, and its own
	// PutLogEvents body writer (pooled buffers; see serialize.go), one
	// client per region and credentials provider, reused by later
	// deliveries.
	NewClient func(region string, creds aws.CredentialsProvider) Client
	// StreamTemplate names the log stream of a record, formatted with
	// keyparse from the object key, overridden by the record's own cluster,
	// namespace, application and pod when set. ':' and '*', which stream
	// names may not contain, become '_'. Default: DefaultStreamTemplate.
	StreamTemplate string
	// MaxEventSize is the largest message in bytes; longer ones are
	// truncated. Default (and maximum): MaxEventSize. Use
	// LegacyMaxEventSize where the 256 KB limit applies.
	MaxEventSize int
	// CreateLogGroup creates a missing log group (with RetentionDays). By
	// default a missing group is a permanent error: tenants own their group.
	CreateLogGroup bool
	// RetentionDays is set on groups this Deliverer creates (0: never
	// expire).
	RetentionDays int32
	// Concurrency bounds the batches of one delivery that are queued or in
	// flight, and thereby its memory. Default: 4.
	Concurrency int
	// MaxAttempts bounds the PutLogEvents attempts of one batch on
	// retryable errors. Default: 6.
	MaxAttempts int
	// RetryBase and RetryMax bound the backoff between attempts: with
	// c = min(RetryMax, RetryBase*2^(attempt-1)), a random duration between
	// c/2 and c ("equal jitter"). Defaults: 200ms and 10s.
	RetryBase, RetryMax time.Duration
	// SessionName names the tenant's role session. Default:
	// "logdelivery-" + the tenant id (credentials makes it valid).
	SessionName func(d *deliver.Delivery) string
	// Now is the clock events are judged too old or too new against.
	// Default: time.Now.
	Now func() time.Time
	// Logger receives debug and warning messages. Default: none.
	Logger *slog.Logger
}

// Deliverer delivers records to CloudWatch Logs. It is safe for concurrent
// use.
type Deliverer struct {
	chain    credentials.CredentialChain
	opts     Options
	template *keyparse.Template
	log      *slog.Logger

	mu    sync.Mutex
	locks map[string]*streamLock
}

type streamLock struct {
	ch   chan struct{} // one slot: the holder's
	refs int
}

// New returns a Deliverer that obtains credentials from chain. It fails
// only on invalid options.
func New(chain credentials.CredentialChain, optFns ...func(*Options)) (*Deliverer, error) {
	if chain == nil {
		return nil, errors.New("cloudwatch: nil credential chain")
	}
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.StreamTemplate == "" {
		o.StreamTemplate = DefaultStreamTemplate
	}
	tmpl, err := keyparse.New(o.StreamTemplate)
	if err != nil {
		return nil, fmt.Errorf("cloudwatch: stream template: %w", err)
	}
	if o.Region == "" {
		o.Region = o.AWSConfig.Region
	}
	if o.MaxEventSize <= 0 || o.MaxEventSize > MaxEventSize {
		o.MaxEventSize = MaxEventSize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 200 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 10 * time.Second
	}
	if o.SessionName == nil {
		o.SessionName = func(d *deliver.Delivery) string { return "logdelivery-" + d.Config.TenantID }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewClient == nil {
		o.NewClient = newClients(o.AWSConfig)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{chain: chain, opts: o, template: tmpl, log: log, locks: map[string]*streamLock{}}, nil
}

// maxClients bounds the clients the default NewClient keeps: past it the
// cache starts over, so that a processor serving many tenants does not
// hold a client per role for ever.
const maxClients = 1024

// newClients returns the default NewClient: SDK clients from base, one per
// region and credentials provider, sharing one HTTP client and one pool of
// request bodies.
func newClients(awsConfig aws.Config) func(region string, creds aws.CredentialsProvider) Client {
	base := awsConfig.Copy()
	if base.HTTPClient == nil {
		base.HTTPClient = awshttp.NewBuildableClient()
	}
	bodies := &reqbody.Pool{}
	type key struct {
		region string
		creds  aws.CredentialsProvider
	}
	var mu sync.Mutex
	clients := map[key]Client{}
	build := func(region string, creds aws.CredentialsProvider) Client {
		cfg := base.Copy()
		cfg.Region = region
		cfg.Credentials = creds
		return cloudwatchlogs.NewFromConfig(cfg, func(co *cloudwatchlogs.Options) {
			co.Retryer = aws.NopRetryer{}
			co.APIOptions = append(co.APIOptions, withBodyWriter(bodies))
		})
	}
	return func(region string, creds aws.CredentialsProvider) Client {
		// Credential chains cache their providers, so a tenant's role
		// gives the same provider every time; one that is not comparable
		// (a func) gets a client of its own.
		if creds == nil || !reflect.TypeOf(creds).Comparable() {
			return build(region, creds)
		}
		k := key{region, creds}
		mu.Lock()
		defer mu.Unlock()
		if c, ok := clients[k]; ok {
			return c
		}
		if len(clients) >= maxClients {
			clear(clients)
		}
		c := build(region, creds)
		clients[k] = c
		return c
	}
}

// mustAccount returns the account of a role ARN the settings validated.
func mustAccount(roleARN string) string {
	r, _ := credentials.ParseRoleARN(roleARN)
	return r.Account
}

// DeliveryError reports a delivery that stopped on a failed batch. It wraps
// the failure and is itself marked retryable or permanent (package fault).
type DeliveryError struct {
	Region, Group, Stream string
	// Delivered events were accepted by CloudWatch Logs; NotDelivered
	// events were read from the object and not accepted. Records of the
	// object not read yet are in neither count.
	Delivered, NotDelivered int64
	Err                     error
}

func (e *DeliveryError) Error() string {
	where := fmt.Sprintf("log group %q", e.Group)
	if e.Stream != "" {
		where += fmt.Sprintf(" stream %q", e.Stream)
	}
	return fmt.Sprintf("cloudwatch: %s in %s: %v (%d events delivered, %d not delivered)",
		where, e.Region, e.Err, e.Delivered, e.NotDelivered)
}

// Unwrap returns the underlying failure.
func (e *DeliveryError) Unwrap() error { return e.Err }

// credentials returns the credentials and region of a delivery: the
// central role, then the tenant's role with its ExternalId (the
// identity's when there are identities).
func (dv *Deliverer) credentials(ctx context.Context, d *deliver.Delivery, st *Settings) (aws.CredentialsProvider, string, error) {
	cfg := d.Config
	region := cfg.TargetRegion
	if region == "" {
		region = dv.opts.Region
	}
	if region == "" {
		return nil, "", fault.Permanent(fmt.Errorf("cloudwatch: config %s/%s has no target_region and no default region is set", cfg.TenantID, cfg.Type))
	}
	var hops []credentials.Hop
	if st.LogDistributionRoleARN != "" {
		// With tenant identities the operator's record decides the
		// ExternalId and the role's account; the seed's external_id only
		// counts without them.
		externalID := st.ExternalID
		if d.Identity != nil {
			if msg := d.Identity.AccountProblem(mustAccount(st.LogDistributionRoleARN)); msg != "" {
				return nil, "", fault.Permanent(fmt.Errorf("cloudwatch: %s/%s: log_distribution_role_arn: %s", cfg.TenantID, cfg.Type, msg))
			}
			externalID = d.Identity.ExternalID
		}
		hops = append(hops, credentials.Hop{
			RoleARN:     st.LogDistributionRoleARN,
			ExternalID:  externalID,
			SessionName: dv.opts.SessionName(d),
		})
	}
	creds, err := dv.chain.Provider(ctx, region, hops...)
	if err != nil {
		return nil, "", awserr.Classify(fmt.Errorf("cloudwatch: credentials for %s/%s: %w", cfg.TenantID, cfg.Type, err))
	}
	return creds, region, nil
}

// Deliver sends the records of d to the config's log group. It implements
// deliver.Deliverer.
func (dv *Deliverer) Deliver(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
	st, err := deliver.SettingsOf[Settings](d, Kind())
	if err != nil {
		return deliver.Receipt{}, err
	}
	if d.Records == nil {
		return deliver.Receipt{}, fault.Permanent(errors.New("cloudwatch: delivery has no record reader"))
	}
	creds, region, err := dv.credentials(ctx, d, st)
	if err != nil {
		return deliver.Receipt{}, err
	}
	rr, err := d.Records(ctx)
	if err != nil {
		return deliver.Receipt{}, fmt.Errorf("cloudwatch: open records of %s: %w", d.Object.Key, err)
	}
	defer rr.Close()

	r := &run{
		dv:      dv,
		ctx:     ctx,
		client:  dv.opts.NewClient(region, creds),
		region:  region,
		group:   st.LogGroupName,
		owner:   st.LogDistributionRoleARN,
		key:     d.Key,
		now:     dv.opts.Now(),
		sem:     make(chan struct{}, dv.opts.Concurrency),
		streams: map[streamID]*streamState{},
		saved:   map[string]int64{},
		resume:  map[string]int64{},
		save:    d.Progress,
	}
	if len(d.Checkpoint) > 0 {
		var cp checkpoint
		if err := json.Unmarshal(d.Checkpoint, &cp); err != nil {
			dv.log.Warn("cloudwatch: unreadable checkpoint ignored; the delivery starts over", "object", d.Object.Key, "error", err)
		} else {
			maps.Copy(r.resume, cp.Streams)
			maps.Copy(r.saved, cp.Streams)
		}
	}
	readErr := r.read(rr)
	r.flushAll()
	r.wg.Wait()

	rcpt := r.rcpt
	rcpt.Undecoded = rr.Stats().Undecoded()
	rcpt.Location = r.location()
	if err := r.result(); err != nil {
		return rcpt, err
	}
	if readErr != nil {
		return rcpt, fmt.Errorf("cloudwatch: reading %s (records before the error were delivered): %w", d.Object.Key, readErr)
	}
	return rcpt, nil
}

// streamID identifies the record fields a stream name depends on.
type streamID struct{ cluster, namespace, application, pod string }

type streamState struct {
	name string
	b    *cwbatch.Batcher
	done chan struct{} // closed when the stream's last submitted batch is finished
	// consumed counts the stream's records read so far, in object order,
	// those skipped on resume and those dropped included: a batch ends at
	// a position, which its acceptance saves as the stream's checkpoint.
	consumed int64
	skip     int64 // records an earlier attempt delivered, still to skip
}

// checkpoint is a cloudwatch delivery's progress: per stream name, how many
// of the stream's records (in object order) the accepted batches covered.
type checkpoint struct {
	Streams map[string]int64 `json:"streams"`
}

// run is one delivery in progress.
type run struct {
	dv     *Deliverer
	ctx    context.Context
	client Client
	region string
	group  string
	// owner identifies the destination's account: the tenant's role (two
	// tenants may use the same group and stream names in their accounts).
	owner string
	key   keyparse.Key
	now   time.Time
	sem   chan struct{}
	wg    sync.WaitGroup

	streams   map[streamID]*streamState
	last      *streamState
	lastID    streamID
	openBytes int
	first     string           // first stream name, for the receipt's location
	resume    map[string]int64 // the checkpoint resumed from, by stream name
	save      func(context.Context, []byte) error

	stopped atomic.Bool // a batch failed: send and read no more
	saveMu  sync.Mutex  // one checkpoint write at a time, in order

	mu           sync.Mutex // guards the fields below
	rcpt         deliver.Receipt
	failErr      error  // the first failure
	failStream   string // the stream it happened on
	notDelivered int64  // events of failed or abandoned batches
	saved        map[string]int64
}

func (r *run) failed() bool { return r.stopped.Load() }

// fail records the first failure of the run and counts events that were
// not delivered because of it.
func (r *run) fail(stream string, err error, notDelivered int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failErr == nil && err != nil {
		r.failErr, r.failStream = err, stream
		r.stopped.Store(true)
	}
	r.notDelivered += int64(notDelivered)
}

// result returns the run's classified error, or nil.
func (r *run) result() error {
	if r.failErr == nil {
		return nil
	}
	return awserr.Classify(&DeliveryError{
		Region: r.region, Group: r.group, Stream: r.failStream,
		Delivered: r.rcpt.Events, NotDelivered: r.notDelivered, Err: r.failErr,
	})
}

func (r *run) read(rr deliver.RecordReader) error {
	for n := 0; ; n++ {
		if r.failed() {
			return nil
		}
		if n%1024 == 0 && r.ctx.Err() != nil {
			r.fail("", r.ctx.Err(), 0)
			return nil
		}
		rec, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		st, err := r.stream(rec)
		if err != nil {
			r.fail("", fault.Permanent(err), 0)
			return nil
		}
		if st.skip > 0 {
			st.skip--
			st.consumed++
			r.mu.Lock()
			r.rcpt.Resumed++
			r.mu.Unlock()
			continue
		}
		pos := st.consumed // the stream's records before this one
		st.consumed++
		ev, out := cwbatch.Prepare(rec.Message, rec.Time, r.now, r.dv.opts.MaxEventSize)
		if out != cwbatch.Kept {
			r.mu.Lock()
			if out.Dropped() {
				r.rcpt.Dropped++
			} else {
				r.rcpt.Truncated++
			}
			r.mu.Unlock()
			if out.Dropped() {
				continue
			}
		}
		if full := st.b.Add(ev); full != nil {
			r.openBytes -= full.Bytes
			r.submit(st, full, pos)
		}
		r.openBytes += ev.Size()
		if r.openBytes > maxOpenBytes {
			r.flushAll()
		}
	}
}

// stream returns the state of the record's stream.
func (r *run) stream(rec deliver.Record) (*streamState, error) {
	id := streamID{rec.Cluster, rec.Namespace, rec.Application, rec.Pod}
	if r.last != nil && id == r.lastID {
		return r.last, nil
	}
	st := r.streams[id]
	if st == nil {
		name, err := r.streamName(id)
		if err != nil {
			return nil, err
		}
		st = &streamState{name: name, b: cwbatch.New(cwbatch.Limits{}), skip: r.resume[name]}
		// Records naming the same stream through different fields share it.
		for _, other := range r.streams {
			if other.name == name {
				st = other
				break
			}
		}
		r.streams[id] = st
		if r.first == "" {
			r.first = name
		}
	}
	r.last, r.lastID = st, id
	return st, nil
}

// streamName formats the stream name of a record: the object key's fields,
// overridden by the record's where set and valid.
func (r *run) streamName(id streamID) (string, error) {
	k := r.key
	override := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	withRecord := k
	override(&withRecord.Cluster, id.cluster)
	override(&withRecord.Namespace, id.namespace)
	override(&withRecord.Application, id.application)
	override(&withRecord.Pod, id.pod)
	name, err := r.dv.template.Format(withRecord)
	if err != nil {
		if name, err = r.dv.template.Format(k); err != nil {
			return "", fmt.Errorf("cloudwatch: stream name from template %q: %w", r.dv.template, err)
		}
	}
	return sanitizeStreamName(name), nil
}

// sanitizeStreamName replaces the characters stream names may not contain
// and cuts the name to the 512 bytes allowed.
func sanitizeStreamName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == ':' || r == '*' {
			return '_'
		}
		return r
	}, s)
	if len(s) > 512 {
		s = cwbatch.TruncateUTF8(s, 512)
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "_")
	}
	return s
}

func (r *run) location() string {
	if r.first == "" {
		return fmt.Sprintf("cloudwatch:%s:%s", r.region, r.group)
	}
	return fmt.Sprintf("cloudwatch:%s:%s:%s", r.region, r.group, r.first)
}

// flushAll submits every open batch.
func (r *run) flushAll() {
	seen := map[*streamState]bool{}
	for _, st := range r.streams {
		if seen[st] {
			continue
		}
		seen[st] = true
		if b := st.b.Flush(); b != nil {
			r.submit(st, b, st.consumed)
		}
	}
	r.openBytes = 0
}

// submit queues a batch of a stream, which ends at position end of the
// stream's records. It blocks while Concurrency batches are queued or in
// flight. Batches of one stream are sent in submission order.
func (r *run) submit(st *streamState, b *cwbatch.Batch, end int64) {
	select {
	case r.sem <- struct{}{}:
	case <-r.ctx.Done():
		r.fail(st.name, r.ctx.Err(), len(b.Events))
		return
	}
	prev, done := st.done, make(chan struct{})
	st.done = done
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(done)
		defer func() { <-r.sem }()
		if prev != nil {
			<-prev
		}
		if r.failed() {
			r.fail(st.name, nil, len(b.Events))
			return
		}
		if r.send(st.name, b) {
			r.progress(st.name, end)
		}
	}()
}

// progress saves the checkpoint once a batch of stream, ending at position
// end, was accepted. A failed save stops the delivery, retryably, so that a
// retry resumes from what was saved rather than duplicating more.
func (r *run) progress(stream string, end int64) {
	if r.save == nil {
		return
	}
	r.mu.Lock()
	r.saved[stream] = max(r.saved[stream], end)
	cp, _ := json.Marshal(checkpoint{Streams: maps.Clone(r.saved)})
	r.mu.Unlock()
	// Batches of several streams may save at once; the ledger keeps the
	// last write, and each write holds every stream's latest position.
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	if err := r.save(r.ctx, cp); err != nil {
		r.fail(stream, fault.Retryable(fmt.Errorf("saving the delivery's checkpoint: %w", err)), 0)
	}
}

// send delivers one batch with retries, records the outcome and reports
// whether the batch was accepted.
func (r *run) send(stream string, b *cwbatch.Batch) bool {
	events := make([]types.InputLogEvent, len(b.Events))
	for i := range b.Events {
		events[i] = types.InputLogEvent{Timestamp: &b.Events[i].Timestamp, Message: &b.Events[i].Message}
	}
	in := &cloudwatchlogs.PutLogEventsInput{
		LogGroupName:  aws.String(r.group),
		LogStreamName: aws.String(stream),
		LogEvents:     events,
	}
	calls, out, err := r.put(stream, in)

	if err != nil {
		r.fail(stream, fmt.Errorf("PutLogEvents of %d events: %w", len(events), err), len(events))
	}
	r.mu.Lock()
	r.rcpt.Calls += calls
	if err != nil {
		r.mu.Unlock()
		return false
	}
	lo, hi := rejected(out.RejectedLogEventsInfo, len(events))
	r.rcpt.Rejected += int64(lo + len(events) - hi)
	r.rcpt.Events += int64(hi - lo)
	for _, e := range b.Events[lo:hi] {
		r.rcpt.Bytes += int64(len(e.Message))
	}
	r.mu.Unlock()
	if lo > 0 || hi < len(events) {
		r.dv.log.Warn("cloudwatch: events rejected", "group", r.group, "stream", stream,
			"too_old_or_expired", lo, "too_new", len(events)-hi)
	}
	return true
}

// rejected returns the range [lo, hi) of events accepted given the
// rejection info: tooOld/expired end indexes are exclusive ends of a
// rejected prefix, tooNew start index is the inclusive start of a rejected
// suffix.
func rejected(info *types.RejectedLogEventsInfo, n int) (lo, hi int) {
	hi = n
	if info == nil {
		return 0, n
	}
	if v := info.TooOldLogEventEndIndex; v != nil {
		lo = max(lo, int(*v))
	}
	if v := info.ExpiredLogEventEndIndex; v != nil {
		lo = max(lo, int(*v))
	}
	if v := info.TooNewLogEventStartIndex; v != nil {
		hi = min(hi, int(*v))
	}
	lo = min(max(lo, 0), n)
	hi = max(min(hi, n), lo)
	return lo, hi
}

// put calls PutLogEvents with retries and on-demand creation, holding the
// stream's lock during each attempt. It returns the number of API calls.
func (r *run) put(stream string, in *cloudwatchlogs.PutLogEventsInput) (int, *cloudwatchlogs.PutLogEventsOutput, error) {
	calls, created := 0, false
	for attempt := 1; ; attempt++ {
		out, n, err := r.attempt(stream, in, !created)
		calls += n
		if err == nil {
			return calls, out, nil
		}
		if err == errCreated {
			// The stream was just created: send again at once, not an attempt.
			created = true
			attempt--
			continue
		}
		// A stream created a moment ago may not be visible yet: wait for it.
		notYet := created && awserr.Code(err) == "ResourceNotFoundException"
		if (!awserr.IsRetryable(err) && !notYet) || r.ctx.Err() != nil {
			return calls, nil, err
		}
		if attempt >= r.dv.opts.MaxAttempts {
			return calls, nil, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		wait := r.backoff(attempt)
		if dl, ok := r.ctx.Deadline(); ok && time.Until(dl) < wait {
			return calls, nil, fmt.Errorf("no time for attempt %d before the deadline: %w", attempt+1, err)
		}
		r.dv.log.Debug("cloudwatch: retrying PutLogEvents", "group", r.group, "stream", stream, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-r.ctx.Done():
			t.Stop()
			return calls, nil, fmt.Errorf("%w (waiting to retry after: %v)", r.ctx.Err(), err)
		}
	}
}

func (r *run) backoff(attempt int) time.Duration {
	ceil := r.dv.opts.RetryBase << min(attempt-1, 30)
	if ceil <= 0 || ceil > r.dv.opts.RetryMax {
		ceil = r.dv.opts.RetryMax
	}
	half := ceil / 2
	return half + time.Duration(rand.Int64N(int64(ceil-half)+1))
}

// errCreated tells put that the stream was missing and has been created.
var errCreated = errors.New("log stream created")

// attempt makes one PutLogEvents call under the stream's lock and, when the
// stream or group is missing and mayCreate is set, creates it.
func (r *run) attempt(stream string, in *cloudwatchlogs.PutLogEventsInput, mayCreate bool) (*cloudwatchlogs.PutLogEventsOutput, int, error) {
	unlock, err := r.dv.lock(r.ctx, r.owner+"\x00"+r.region+"\x00"+r.group+"\x00"+stream)
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	out, err := r.client.PutLogEvents(r.ctx, in)
	if err == nil {
		return out, 1, nil
	}
	if awserr.Code(err) != "ResourceNotFoundException" || !mayCreate {
		return nil, 1, err
	}
	n, cerr := r.create(stream)
	if cerr != nil {
		return nil, 1 + n, cerr
	}
	return nil, 1 + n, errCreated
}

// create creates the stream, and the group when it is missing and the
// options allow it.
func (r *run) create(stream string) (int, error) {
	calls := 1
	_, err := r.client.CreateLogStream(r.ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &r.group, LogStreamName: &stream})
	switch code := awserr.Code(err); {
	case err == nil, code == "ResourceAlreadyExistsException":
		r.dv.log.Debug("cloudwatch: created log stream", "group", r.group, "stream", stream)
		return calls, nil
	case code != "ResourceNotFoundException":
		return calls, fmt.Errorf("create log stream: %w", err)
	case !r.dv.opts.CreateLogGroup:
		return calls, fault.Permanent(fmt.Errorf("log group does not exist (the tenant must create it, or enable Options.CreateLogGroup): %w", err))
	}
	calls++
	_, err = r.client.CreateLogGroup(r.ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &r.group})
	if err != nil && awserr.Code(err) != "ResourceAlreadyExistsException" {
		return calls, fmt.Errorf("create log group: %w", err)
	}
	if err == nil && r.dv.opts.RetentionDays > 0 {
		calls++
		if _, err := r.client.PutRetentionPolicy(r.ctx, &cloudwatchlogs.PutRetentionPolicyInput{
			LogGroupName: &r.group, RetentionInDays: aws.Int32(r.dv.opts.RetentionDays),
		}); err != nil {
			return calls, fmt.Errorf("set retention of new log group: %w", err)
		}
	}
	r.dv.log.Info("cloudwatch: created log group", "group", r.group, "region", r.region)
	calls++
	_, err = r.client.CreateLogStream(r.ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &r.group, LogStreamName: &stream})
	if err != nil && awserr.Code(err) != "ResourceAlreadyExistsException" {
		return calls, fmt.Errorf("create log stream: %w", err)
	}
	return calls, nil
}

// lock takes the per-stream lock of key and returns its release. It gives
// up when ctx is done, so a delivery never waits past its deadline behind
// another delivery to the same stream.
func (dv *Deliverer) lock(ctx context.Context, key string) (func(), error) {
	dv.mu.Lock()
	l := dv.locks[key]
	if l == nil {
		l = &streamLock{ch: make(chan struct{}, 1)}
		dv.locks[key] = l
	}
	l.refs++
	dv.mu.Unlock()
	done := func() {
		dv.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(dv.locks, key)
		}
		dv.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; done() }, nil
	case <-ctx.Done():
		done()
		return nil, fmt.Errorf("waiting for the log stream: %w", ctx.Err())
	}
}
