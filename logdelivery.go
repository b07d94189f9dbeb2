// Package logdelivery delivers multi-tenant log objects from a central
// bucket to each tenant's own destinations.
//
// A Dispatcher takes objects (typically from S3 event notifications, see
// ParseNotification), works out from each object key whose logs it holds,
// looks up that tenant's delivery configurations in a tenant.ConfigStore,
// validates each through its destination kind (a deliver.Registry), and
// fans the object out to every enabled destination whose selection selects
// it, in parallel. Every (object, destination) pair ends in its own Result:
// Delivered, Skipped with a reason, or Failed with an error classified as
// retryable or permanent (see package fault).
//
// Isolation is the point: one tenant or destination failing, throttled or
// slow never cancels, blocks or starves another. Failures are collected per
// delivery, never shared through a cancelled context; concurrency is
// bounded globally, per tenant and per destination, so a slow tenant holds
// at most its own share of the workers and a hung destination only its own
// slots.
package logdelivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/decode"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/ledger"
	"github.com/logdelivery/logdelivery/limits"
	"github.com/logdelivery/logdelivery/selector"
	"github.com/logdelivery/logdelivery/tenant"
)

// Object is a log object to dispatch.
type Object struct {
	// ID is the caller's identifier (for example the SQS message id), echoed
	// in results and returned by Results.RetryIDs.
	ID        string
	Bucket    string
	Key       string // decoded object key
	VersionID string
	// ETag and Sequencer come from the notification: with VersionID they
	// are the object's identity in the ledger (a new ETag is new content
	// under the same key). Empty when unknown.
	ETag      string
	Sequencer string
	Size      int64
	// Time is when the object was written (event time or LastModified): the
	// timestamp of records that carry none, and the start of end-to-end
	// latency.
	Time time.Time
}

func (o Object) deliverObject() deliver.Object {
	return deliver.Object{Bucket: o.Bucket, Key: o.Key, VersionID: o.VersionID, ETag: o.ETag, Size: o.Size, Time: o.Time}
}

// Errors the Dispatcher reports in results, matched with errors.Is.
var (
	// ErrNoDeliverer: a config names a kind the registry knows but has no
	// deliverer for. It is permanent.
	ErrNoDeliverer = errors.New("no deliverer for this destination kind")
	// ErrDeadline: the delivery was not started because too little time was
	// left before the context's deadline. It is retryable.
	ErrDeadline = errors.New("not started: too close to the deadline")
	// ErrNoOpener: a deliverer needed the object's content but the
	// Dispatcher has no Opener.
	ErrNoOpener = errors.New("no object opener configured")
	// ErrNoIdentity: the Dispatcher has identities and the tenant has none.
	// It is retryable: the operator has to record the tenant's accounts.
	ErrNoIdentity = tenant.ErrNoIdentity
	// ErrPanic: a deliverer panicked. The panic is recovered, logged with its
	// stack, and reported as a retryable failure of that delivery only.
	ErrPanic = errors.New("deliverer panicked")
)

// Options configures a Dispatcher.
type Options struct {
	// Template parses object keys. Default: keyparse.Default(), the layout
	// {cluster_id}/{namespace}/{application}/{pod_name}/{file}.
	Template *keyparse.Template
	// Opener opens objects of the central bucket for deliverers that read
	// them (Delivery.Open and Delivery.Records). Default: none; such
	// deliveries fail permanently with ErrNoOpener.
	Opener deliver.Opener
	// Decode configures how objects are decoded into records.
	Decode DecodeOptions
	// MaxConcurrency bounds the deliveries and config lookups in flight
	// across all tenants, and with it peak memory: a delivery that decodes
	// records (CloudWatch) holds about 15–20 MB whatever the object's size,
	// a copy (S3) almost nothing. Default: 32.
	MaxConcurrency int
	// MaxPerTenant bounds the deliveries in flight for one tenant, across
	// concurrent Dispatch calls, so that a slow tenant holds at most this
	// many of the MaxConcurrency workers. Default: MaxConcurrency/4, at
	// least 1. It must not exceed MaxConcurrency.
	MaxPerTenant int
	// MaxPerDestination bounds the deliveries in flight to one destination
	// (one config of one tenant), so that a hung destination holds only its
	// own slots and never all of its tenant's. Default: MaxPerTenant/2, at
	// least 1. It must not exceed MaxPerTenant.
	MaxPerDestination int
	// DeliveryTimeout bounds each delivery. Default: 0, no bound beyond the
	// context's.
	DeliveryTimeout time.Duration
	// DeadlineReserve is how much time before the context's deadline the
	// Dispatcher stops starting deliveries; those not started fail with the
	// retryable ErrDeadline. In Lambda, leave enough to report results.
	// Default: 0 (deliveries start until the deadline passes).
	DeadlineReserve time.Duration
	// Identities are the operator's records of tenants (tenant.Identity):
	// with them, every config is bound to its tenant's accounts (a role or
	// bucket of another account is refused, permanently) and every tenant's
	// roles are assumed with the tenant's own ExternalId. A tenant without
	// an identity gets nothing delivered (retryably, until the operator
	// records one). Default: nil, the seed's compatibility mode: configs
	// may name any account's roles and buckets and the ExternalId is the
	// config's or the central account id; NewDispatcher logs a warning.
	Identities tenant.IdentityStore
	// ExternalIDs derives the ExternalId of a tenant whose identity has
	// none (credentials.ExternalIDs.ExternalID). Default: nil, identities
	// must carry theirs.
	ExternalIDs func(tenantID string) string
	// Ledger records what was delivered where (package ledger): with it, a
	// delivery done before (a retry, a duplicate notification, a replay) is
	// skipped with ReasonDelivered, and one that saved a checkpoint resumes
	// after it, so each (object, destination) is delivered once. Default:
	// nil, at-least-once: a retried object is delivered again everywhere.
	Ledger ledger.Ledger
	// Limits holds each tenant's deliveries to each destination kind to
	// its limits (package limits): events and bytes per second, concurrent
	// deliveries. A delivery is admitted before it takes any shared slot,
	// and waits for its rate without holding one; one that cannot get its
	// tokens within the limiter's MaxWait fails retryably with a
	// retry-after hint (limits.ErrLimited), the records it sent before
	// kept (with a ledger, its retry resumes after them). Default: nil, no
	// limits beyond MaxPerTenant and MaxPerDestination.
	Limits *limits.Limiter
	// Observer is told about every result as it is produced. Default: none.
	Observer Observer
	// Logger receives warnings (unknown groups, invalid configs) and errors.
	// Default: discard.
	Logger *slog.Logger
	// Now returns the current time, for TTLs and deadlines.
	// Default: time.Now.
	Now func() time.Time
}

// Observer is told about every result as the Dispatcher produces it, for
// metrics. ObserveResult must be safe for concurrent use and must not
// block.
type Observer interface {
	ObserveResult(ctx context.Context, r Result)
}

// Dispatcher fans log objects out to their tenants' destinations. It is
// safe for concurrent use.
type Dispatcher struct {
	store        tenant.ConfigStore
	kinds        *deliver.Registry
	opts         Options
	sem          *semaphore.Weighted // all deliveries and lookups
	tenants      keyedLimiter        // deliveries per tenant, across Dispatch calls
	destinations keyedLimiter        // deliveries per (tenant, config type)
	decodePool   decode.Pool         // buffers and decompressors lent to record readers
	closeOnce    sync.Once
	closeErr     error
}

// NewDispatcher returns a Dispatcher reading configurations from store and
// delivering to the kinds of the registry, each config through the
// deliverer of its kind.
func NewDispatcher(store tenant.ConfigStore, kinds *deliver.Registry, optFns ...func(*Options)) (*Dispatcher, error) {
	if store == nil {
		return nil, errors.New("logdelivery: nil config store")
	}
	if kinds == nil {
		return nil, errors.New("logdelivery: nil kind registry")
	}
	d := &Dispatcher{store: store, kinds: kinds}
	for _, fn := range optFns {
		fn(&d.opts)
	}
	o := &d.opts
	switch {
	case o.MaxConcurrency < 0, o.MaxPerTenant < 0, o.MaxPerDestination < 0:
		return nil, errors.New("logdelivery: MaxConcurrency, MaxPerTenant and MaxPerDestination must not be negative")
	case o.DeliveryTimeout < 0, o.DeadlineReserve < 0:
		return nil, errors.New("logdelivery: DeliveryTimeout and DeadlineReserve must not be negative")
	case o.Decode.MaxDecompressedBytes < 0, o.Decode.MaxLineBytes < 0:
		return nil, errors.New("logdelivery: Decode.MaxDecompressedBytes and Decode.MaxLineBytes must not be negative")
	}
	if o.Template == nil {
		o.Template = keyparse.Default()
	}
	if o.MaxConcurrency == 0 {
		o.MaxConcurrency = 32
	}
	if o.MaxPerTenant == 0 {
		o.MaxPerTenant = max(1, o.MaxConcurrency/4)
	}
	if o.MaxPerDestination == 0 {
		o.MaxPerDestination = max(1, o.MaxPerTenant/2)
	}
	switch {
	case o.MaxPerTenant > o.MaxConcurrency:
		return nil, fmt.Errorf("logdelivery: MaxPerTenant (%d) exceeds MaxConcurrency (%d)", o.MaxPerTenant, o.MaxConcurrency)
	case o.MaxPerDestination > o.MaxPerTenant:
		return nil, fmt.Errorf("logdelivery: MaxPerDestination (%d) exceeds MaxPerTenant (%d)", o.MaxPerDestination, o.MaxPerTenant)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Identities == nil {
		o.Logger.Warn("logdelivery: no tenant identities (Options.Identities): tenants' configs may name any account's roles and buckets, and every tenant role is assumed with the same ExternalId; a tenant can make the processor deliver into another tenant's account (confused deputy)")
	}
	d.sem = semaphore.NewWeighted(int64(o.MaxConcurrency))
	d.tenants = keyedLimiter{limit: o.MaxPerTenant, slots: map[string]*keyedSlots{}}
	d.destinations = keyedLimiter{limit: o.MaxPerDestination, slots: map[string]*keyedSlots{}}
	return d, nil
}

// Close releases what the registry's deliverers hold (HTTP transports,
// producers) by closing the registry. Call it once no Dispatch is running;
// later calls return the first call's result.
func (d *Dispatcher) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.kinds.Close() })
	return d.closeErr
}

// Kinds returns the registry of destination kinds the Dispatcher delivers
// to.
func (d *Dispatcher) Kinds() *deliver.Registry { return d.kinds }

// Dispatch delivers objs and returns one Result per (object, destination),
// or one per object when no destination applies (bad key, no config, store
// failure). Objects are dispatched together, so a slow tenant never holds
// up another tenant's objects. Results are ordered as objs, then by
// destination type.
//
// Dispatch never cancels one delivery because another failed. When ctx is
// done, deliveries not yet started fail with retryable errors.
func (d *Dispatcher) Dispatch(ctx context.Context, objs ...Object) Results {
	c := &collector{d: d, ctx: ctx}
	byTenant := map[string][]indexed{}
	var tenants []string
	for i, obj := range objs {
		key, err := d.opts.Template.Parse(obj.Key)
		if err != nil {
			c.add(Result{index: i, Object: obj, Outcome: Failed, Err: fault.Permanent(err)})
			continue
		}
		if _, ok := byTenant[key.Tenant]; !ok {
			tenants = append(tenants, key.Tenant)
		}
		byTenant[key.Tenant] = append(byTenant[key.Tenant], indexed{i, obj, key})
	}
	var wg sync.WaitGroup // no shared context: one tenant's failure cancels nothing
	for _, t := range tenants {
		wg.Go(func() { d.dispatchTenant(c, t, byTenant[t]) })
	}
	wg.Wait()
	slices.SortStableFunc(c.results, func(a, b Result) int {
		if n := cmp.Compare(a.index, b.index); n != 0 {
			return n
		}
		return cmp.Compare(a.Destination, b.Destination)
	})
	return c.results
}

type indexed struct {
	index int
	obj   Object
	key   keyparse.Key
}

// collector gathers results from concurrent deliveries.
type collector struct {
	d   *Dispatcher
	ctx context.Context

	mu      sync.Mutex
	results Results
}

func (c *collector) add(r Result) {
	if r.Outcome == Failed && r.Err == nil {
		r.Err = fault.Retryable(errors.New("failed without an error"))
	}
	if c.d.opts.Observer != nil {
		c.d.opts.Observer.ObserveResult(c.ctx, r)
	}
	c.mu.Lock()
	c.results = append(c.results, r)
	c.mu.Unlock()
}

func (d *Dispatcher) dispatchTenant(c *collector, tenantID string, objs []indexed) {
	ctx := c.ctx
	configs, err := d.lookup(ctx, tenantID)
	var itemsErr *tenant.ItemsError
	if err != nil && !errors.As(err, &itemsErr) {
		// A store failure says nothing about the objects: whatever its
		// class (throttling, or access denied after an IAM change), the
		// objects are retried, never dropped; a dead-letter queue sets aside
		// what keeps failing.
		err = fault.AlwaysRetryable(&storeError{tenantID: tenantID, err: err})
		for _, o := range objs {
			c.add(Result{index: o.index, Object: o.obj, Key: o.key, Outcome: Failed, Err: err})
		}
		return
	}
	if itemsErr != nil {
		for _, it := range itemsErr.Items {
			d.opts.Logger.Warn("unusable delivery config", "tenant", tenantID, "type", it.Type, "error", it.Err)
			for _, o := range objs {
				c.add(Result{index: o.index, Object: o.obj, Key: o.key, Destination: it.Type,
					Outcome: Failed, Err: fault.Permanent(it)})
			}
		}
	}
	if len(configs) == 0 && itemsErr == nil {
		for _, o := range objs {
			c.add(Result{index: o.index, Object: o.obj, Key: o.key, Outcome: Skipped, Reason: ReasonNoConfig})
		}
		return
	}

	id, err := d.identity(ctx, tenantID)
	if err != nil {
		for _, o := range objs {
			c.add(Result{index: o.index, Object: o.obj, Key: o.key, Outcome: Failed, Err: err})
		}
		return
	}
	now := d.opts.Now()
	plans := make([]plan, len(configs))
	for i, cfg := range configs {
		if cfg.TenantID == "" {
			cfg.TenantID = tenantID
		}
		plans[i] = d.plan(cfg, id, now)
	}
	var wg sync.WaitGroup
	for _, o := range objs {
		var jobs []job
		for i := range plans {
			p := &plans[i]
			r := Result{index: o.index, Object: o.obj, Key: o.key, Destination: p.cfg.Type, Config: p.cfg}
			switch {
			case p.err != nil:
				r.Outcome, r.Err = Failed, p.err
			case p.reason != "":
				r.Outcome, r.Reason = Skipped, p.reason
			case p.sel.Object(o.key) == selector.None:
				r.Outcome, r.Reason = Skipped, ReasonFiltered
			default:
				jobs = append(jobs, job{o: o, plan: p})
				continue
			}
			c.add(r)
		}
		src := d.newSource(ctx, o, jobs)
		for _, j := range jobs {
			rd := src.reading(j.plan)
			wg.Go(func() {
				defer rd.done()
				c.add(d.deliver(ctx, j, rd))
			})
		}
	}
	wg.Wait()
}

// plan is what to do with one config for every object of a Dispatch call:
// deliver with dl what sel selects, skip for reason, or fail with err.
type plan struct {
	cfg      tenant.DeliveryConfig
	identity *tenant.Identity
	settings deliver.Settings
	dl       deliver.Deliverer
	records  bool // the kind reads records
	sel      selector.Selector
	fields   deliver.Fields // the optional record metadata the selector and the settings read
	revision string
	reason   string
	err      error
}

// job is one (object, destination) delivery to make.
type job struct {
	o    indexed
	plan *plan
}

// storeError is a failed config lookup.
type storeError struct {
	tenantID string
	err      error
}

func (e *storeError) Error() string {
	return fmt.Sprintf("looking up delivery configs of tenant %q: %v", e.tenantID, e.err)
}

func (e *storeError) Unwrap() error { return e.err }

// identity returns the tenant's identity, with its ExternalId, or nil
// without identities. Failures, a missing identity included, are the
// operator's to fix and so retryable.
func (d *Dispatcher) identity(ctx context.Context, tenantID string) (*tenant.Identity, error) {
	if d.opts.Identities == nil {
		return nil, nil
	}
	if err := d.sem.Acquire(ctx, 1); err != nil {
		return nil, fault.Retryable(err)
	}
	id, err := d.opts.Identities.Identity(ctx, tenantID)
	d.sem.Release(1)
	switch {
	case errors.Is(err, tenant.ErrNoIdentity):
		return nil, fault.AlwaysRetryable(fmt.Errorf("tenant %q has no identity record: the operator must record its accounts before anything is delivered: %w", tenantID, err))
	case err != nil:
		return nil, fault.AlwaysRetryable(fmt.Errorf("looking up the identity of tenant %q: %w", tenantID, err))
	case id.TenantID != tenantID:
		return nil, fault.AlwaysRetryable(fmt.Errorf("the identity store answered for tenant %q with the identity of %q", tenantID, id.TenantID))
	}
	if err := id.Validate(); err != nil {
		return nil, fault.AlwaysRetryable(fmt.Errorf("the identity of tenant %q is invalid: %w", tenantID, err))
	}
	if id.ExternalID == "" {
		if d.opts.ExternalIDs == nil {
			return nil, fault.AlwaysRetryable(fmt.Errorf("tenant %q has no ExternalId: issue one in its identity or set Options.ExternalIDs", tenantID))
		}
		id.ExternalID = d.opts.ExternalIDs(tenantID)
	}
	return &id, nil
}

// plan validates one config through its kind, once per Dispatch call, and
// binds it to the tenant's identity, if any.
func (d *Dispatcher) plan(cfg tenant.DeliveryConfig, id *tenant.Identity, now time.Time) plan {
	p := plan{cfg: cfg, identity: id}
	switch {
	case !cfg.IsEnabled():
		p.reason = ReasonDisabled
		return p
	case cfg.Expired(now):
		p.reason = ReasonExpired
		return p
	}
	settings, err := d.kinds.Settings(cfg)
	if err != nil {
		d.opts.Logger.Warn("invalid delivery config", "tenant", cfg.TenantID, "type", cfg.Type, "error", err)
		p.err = fault.Permanent(err)
		return p
	}
	if id != nil {
		if err := d.kinds.Bind(cfg, settings, *id); err != nil {
			d.opts.Logger.Warn("delivery config reaches outside its tenant's accounts", "tenant", cfg.TenantID, "type", cfg.Type, "error", err)
			p.err = fault.Permanent(err)
			return p
		}
	}
	kind, _ := d.kinds.Kind(cfg.Kind())
	if kind.Deliverer == nil {
		p.err = fault.Permanent(fmt.Errorf("%w %q (config %s/%s)", ErrNoDeliverer, cfg.Kind(), cfg.TenantID, cfg.Type))
		return p
	}
	sel, err := selector.ForConfig(cfg, d.kinds.Groups())
	if err != nil { // the registry validated groups and rules: not expected
		p.err = fault.Permanent(err)
		return p
	}
	p.settings, p.dl, p.records, p.sel = settings, kind.Deliverer, kind.Records, sel
	p.revision = cfg.Revision()
	p.fields = sel.Fields()
	if rf, ok := settings.(deliver.RecordFielder); ok {
		p.fields |= rf.RecordFields()
	}
	return p
}

// lookup reads a tenant's configs, holding a worker slot only while it
// waits for the store.
func (d *Dispatcher) lookup(ctx context.Context, tenantID string) ([]tenant.DeliveryConfig, error) {
	if err := d.sem.Acquire(ctx, 1); err != nil {
		return nil, fault.Retryable(err)
	}
	defer d.sem.Release(1)
	return d.store.Configs(ctx, tenantID)
}

func (d *Dispatcher) deliver(ctx context.Context, j job, rd *reading) (r Result) {
	o, cfg := j.o, j.plan.cfg
	r = Result{index: o.index, Object: o.obj, Key: o.key, Destination: cfg.Type, Config: cfg, Outcome: Failed}
	if err := d.checkDeadline(ctx); err != nil {
		r.Err = err
		return r
	}
	var entry ledger.Entry
	var lkey ledger.Key
	if d.opts.Ledger != nil {
		lkey = d.ledgerKey(j)
		var (
			ok  bool
			err error
		)
		if entry, ok, err = d.ledgerGet(ctx, lkey); err != nil {
			r.Err = fault.Retryable(fmt.Errorf("reading the ledger of %s: %w", lkey, err))
			return r
		}
		if ok && entry.State == ledger.Done {
			r.Outcome, r.Reason = Skipped, ReasonDelivered
			return r
		}
	}
	// The tenant's limits first, then the destination's slot, then the
	// tenant's, then a shared one, so that a delivery waiting on a
	// narrower limit never holds a wider slot: a hung destination holds
	// only its own slots, a rate-limited tenant none.
	permit, err := d.admit(ctx, j)
	if err != nil {
		r.Err = err
		return r
	}
	if permit != nil {
		defer permit.Release()
	}
	release, err := d.destinations.acquire(ctx, cfg.TenantID+"\x00"+cfg.Type)
	if err != nil {
		r.Err = fault.Retryable(fmt.Errorf("waiting for a delivery slot of %s/%s: %w", cfg.TenantID, cfg.Type, err))
		return r
	}
	defer release()
	releaseTenant, err := d.tenants.acquire(ctx, cfg.TenantID)
	if err != nil {
		r.Err = fault.Retryable(fmt.Errorf("waiting for a delivery slot of tenant %q: %w", cfg.TenantID, err))
		return r
	}
	defer releaseTenant()
	shared := &sharedSlot{sem: d.sem}
	if err := shared.acquire(ctx); err != nil {
		r.Err = fault.Retryable(fmt.Errorf("waiting for a delivery slot: %w", err))
		return r
	}
	defer shared.release()
	if rated(permit) {
		rd.limit(permit, shared)
	}
	// Waiting for the slot may have eaten the time that was left.
	if err := d.checkDeadline(ctx); err != nil {
		r.Err = err
		return r
	}
	if d.opts.DeliveryTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.opts.DeliveryTimeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			d.opts.Logger.Error("deliverer panicked", "tenant", cfg.TenantID, "type", cfg.Type,
				"key", o.obj.Key, "panic", p, "stack", string(debug.Stack()))
			r.Outcome, r.Err = Failed, fault.Retryable(fmt.Errorf("%w: %v", ErrPanic, p))
		}
	}()
	r.Started = d.opts.Now()
	dl := d.delivery(j, rd)
	if d.opts.Ledger != nil {
		dl.Checkpoint = entry.Checkpoint
		dl.Progress = func(ctx context.Context, cp []byte) error { return d.opts.Ledger.Save(ctx, lkey, cp) }
	}
	receipt, err := j.plan.dl.Deliver(ctx, dl)
	r.Duration = d.opts.Now().Sub(r.Started)
	r.Receipt = receipt
	if err != nil {
		r.Err = fmt.Errorf("delivering %s/%s to %s/%s: %w", o.obj.Bucket, o.obj.Key, cfg.TenantID, cfg.Type, err)
		return r
	}
	r.Outcome = Delivered
	if d.opts.Ledger != nil {
		// The delivery happened: a failure to record it costs a duplicate
		// if the object comes again, never the delivery itself.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerTimeout)
		defer cancel()
		if err := d.opts.Ledger.Done(dctx, lkey); err != nil {
			d.opts.Logger.Error("delivered, but the ledger could not record it: a repeat of the object would deliver it again",
				"delivery", lkey.String(), "error", err)
		}
	}
	return r
}

// ledgerTimeout bounds the ledger write that records a finished delivery,
// which runs even when the delivery's context ended just after it.
const ledgerTimeout = 10 * time.Second

// ledgerKey returns the ledger key of a job.
func (d *Dispatcher) ledgerKey(j job) ledger.Key {
	version := j.o.obj.VersionID
	if version == "" {
		version = j.o.obj.ETag
	}
	return ledger.Key{Bucket: j.o.obj.Bucket, Object: j.o.obj.Key, Version: version,
		Tenant: j.plan.cfg.TenantID, Destination: j.plan.cfg.Type, Revision: j.plan.revision}
}

// ledgerGet reads an entry, holding a shared slot only while it waits.
func (d *Dispatcher) ledgerGet(ctx context.Context, k ledger.Key) (ledger.Entry, bool, error) {
	if err := d.sem.Acquire(ctx, 1); err != nil {
		return ledger.Entry{}, false, err
	}
	defer d.sem.Release(1)
	return d.opts.Ledger.Get(ctx, k)
}

func (d *Dispatcher) checkDeadline(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fault.Retryable(fmt.Errorf("%w: %w", ErrDeadline, err))
	}
	if dl, ok := ctx.Deadline(); ok && dl.Sub(d.opts.Now()) < d.opts.DeadlineReserve {
		return fault.Retryable(fmt.Errorf("%w (%s left, reserve %s)", ErrDeadline, dl.Sub(d.opts.Now()).Round(time.Millisecond), d.opts.DeadlineReserve))
	}
	return nil
}

// delivery builds the request handed to a deliverer.
func (d *Dispatcher) delivery(j job, rd *reading) *deliver.Delivery {
	return &deliver.Delivery{
		Object:   rd.src.obj,
		Key:      j.o.key,
		Config:   j.plan.cfg,
		Settings: j.plan.settings,
		Identity: j.plan.identity,
		Open:     rd.src.open,
		Records:  rd.records,
	}
}

// keyedLimiter bounds the deliveries in flight per key (a tenant, or a
// tenant's destination) across all Dispatch calls of a Dispatcher. Slots
// of idle keys are dropped.
type keyedLimiter struct {
	limit int

	mu    sync.Mutex
	slots map[string]*keyedSlots
}

type keyedSlots struct {
	ch   chan struct{}
	refs int // acquirers holding or waiting for a slot
}

// acquire waits for a slot of key and returns its release.
func (l *keyedLimiter) acquire(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	s := l.slots[key]
	if s == nil {
		s = &keyedSlots{ch: make(chan struct{}, l.limit)}
		l.slots[key] = s
	}
	s.refs++
	l.mu.Unlock()

	done := func() {
		l.mu.Lock()
		if s.refs--; s.refs == 0 {
			delete(l.slots, key)
		}
		l.mu.Unlock()
	}
	select {
	case s.ch <- struct{}{}:
		return func() { <-s.ch; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
