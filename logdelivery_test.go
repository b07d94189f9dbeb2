package logdelivery_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// wait bounds how long a test waits for something that must happen.
const wait = 10 * time.Second

func obj(id, key string) logdelivery.Object {
	return logdelivery.Object{ID: id, Bucket: "central", Key: key}
}

func newStore(t *testing.T, configs ...tenant.DeliveryConfig) *memstore.Store {
	t.Helper()
	s, err := memstore.New(configs)
	require.NoError(t, err)
	return s
}

func newDispatcher(t *testing.T, store tenant.ConfigStore, dl map[string]deliver.Deliverer, optFns ...func(*logdelivery.Options)) *logdelivery.Dispatcher {
	t.Helper()
	d, err := logdelivery.NewDispatcher(store, kinds(t, dl), optFns...)
	require.NoError(t, err)
	return d
}

// kinds returns a registry delivering each kind with its deliverer: the
// real cloudwatch and s3 kinds (their settings validated as in
// production), and settings-free test kinds for any other name.
func kinds(t *testing.T, dl map[string]deliver.Deliverer) *deliver.Registry {
	t.Helper()
	var ks []deliver.Kind
	for name, d := range dl {
		var k deliver.Kind
		switch name {
		case cloudwatch.KindName:
			k = cloudwatch.Kind()
		case s3.KindName:
			k = s3.Kind()
		default:
			k = delivertest.Kind(name, d, true)
		}
		k.Deliverer = d
		ks = append(ks, k)
	}
	r, err := deliver.NewRegistry(ks)
	require.NoError(t, err)
	return r
}

// byDest indexes results by object id and destination.
func byDest(rs logdelivery.Results) map[string]logdelivery.Result {
	m := map[string]logdelivery.Result{}
	for _, r := range rs {
		m[r.Object.ID+"|"+r.Destination] = r
	}
	return m
}

func TestOneDestinationFailsTheOtherIsDelivered(t *testing.T) {
	store := newStore(t, storetest.CloudWatch("acme"), storetest.S3("acme"))
	cw := &delivertest.Recorder{Func: func(context.Context, *deliver.Delivery) (deliver.Receipt, error) {
		return deliver.Receipt{Events: 3, Calls: 1}, fault.Retryable(errors.New("throttled"))
	}}
	s3 := &delivertest.Recorder{}
	d := newDispatcher(t, store, map[string]deliver.Deliverer{"cloudwatch": cw, "s3": s3})

	rs := d.Dispatch(context.Background(), obj("m1", "c1/acme/payments/pod-1/f.gz"))
	require.Len(t, rs, 2, "one result per destination")
	got := byDest(rs)

	assert.Equal(t, logdelivery.Failed, got["m1|cloudwatch"].Outcome)
	assert.True(t, fault.IsRetryable(got["m1|cloudwatch"].Err))
	assert.Contains(t, got["m1|cloudwatch"].Err.Error(), "throttled")
	assert.Equal(t, int64(3), got["m1|cloudwatch"].Receipt.Events, "a partial receipt is kept")

	assert.Equal(t, logdelivery.Delivered, got["m1|s3"].Outcome)
	assert.NoError(t, got["m1|s3"].Err)
	assert.Equal(t, 1, got["m1|s3"].Receipt.Objects)
	require.Len(t, s3.Deliveries(), 1)
	dl := s3.Deliveries()[0]
	assert.Equal(t, "acme", dl.Key.Tenant)
	assert.Equal(t, "payments", dl.Key.Application)
	assert.Equal(t, "tenant-logs-acme", dl.Config.Settings["bucket_name"])

	assert.Equal(t, []string{"m1"}, rs.RetryIDs())
	assert.Empty(t, rs.PermanentFailureIDs())
	assert.ErrorContains(t, rs.Err(), "cloudwatch")
}

func TestSlowTenantDoesNotDelayAnother(t *testing.T) {
	store := newStore(t, storetest.S3("slow"), storetest.S3("fast"))
	release := make(chan struct{})
	slowStarted := make(chan struct{}, 16)
	fastDone := make(chan struct{}, 16)
	s3 := &delivertest.Recorder{Func: func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		if d.Key.Tenant == "slow" {
			slowStarted <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return deliver.Receipt{}, ctx.Err()
			}
		} else {
			fastDone <- struct{}{}
		}
		return deliver.Receipt{Objects: 1}, nil
	}}
	// Four workers in all, at most one per tenant: the slow tenant's eight
	// objects may hold one worker, never all of them.
	d := newDispatcher(t, store, map[string]deliver.Deliverer{"s3": s3}, func(o *logdelivery.Options) {
		o.MaxConcurrency = 4
		o.MaxPerTenant = 1
	})
	var objs []logdelivery.Object
	for range 8 {
		objs = append(objs, obj("s", "c/slow/app/pod/f.gz"))
	}
	objs = append(objs, obj("f1", "c/fast/app/pod/1.gz"), obj("f2", "c/fast/app/pod/2.gz"))

	done := make(chan logdelivery.Results)
	go func() { done <- d.Dispatch(context.Background(), objs...) }()

	select {
	case <-slowStarted:
	case <-time.After(wait):
		t.Fatal("the slow tenant's delivery never started")
	}
	for i := range 2 {
		select {
		case <-fastDone:
		case <-time.After(wait):
			t.Fatalf("fast tenant's delivery %d did not finish while the slow tenant was blocked", i+1)
		}
	}
	select {
	case <-done:
		t.Fatal("Dispatch returned while a delivery was still blocked")
	default:
	}
	close(release)
	var rs logdelivery.Results
	select {
	case rs = <-done:
	case <-time.After(wait):
		t.Fatal("Dispatch did not return after the slow destination recovered")
	}
	assert.Equal(t, 10, rs.Count(logdelivery.Delivered))
}

func TestConcurrencyIsBounded(t *testing.T) {
	store := newStore(t, storetest.S3("a"), storetest.S3("b"), storetest.S3("c"))
	var inflight, peak atomic.Int32
	started := make(chan struct{})
	release := make(chan struct{})
	rec := &delivertest.Recorder{Func: func(context.Context, *deliver.Delivery) (deliver.Receipt, error) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		started <- struct{}{}
		<-release
		inflight.Add(-1)
		return deliver.Receipt{}, nil
	}}
	d := newDispatcher(t, store, map[string]deliver.Deliverer{"s3": rec}, func(o *logdelivery.Options) { o.MaxConcurrency = 2 })
	var objs []logdelivery.Object
	for _, tn := range []string{"a", "b", "c"} {
		for range 3 {
			objs = append(objs, obj(tn, "c/"+tn+"/app/pod/f.gz"))
		}
	}
	done := make(chan logdelivery.Results)
	go func() { done <- d.Dispatch(context.Background(), objs...) }()
	for range len(objs) {
		select {
		case <-started:
		case <-time.After(wait):
			t.Fatal("a delivery never started")
		}
		release <- struct{}{}
	}
	rs := <-done
	assert.Equal(t, 9, rs.Count(logdelivery.Delivered))
	assert.LessOrEqual(t, peak.Load(), int32(2), "never more deliveries in flight than MaxConcurrency")
}

func TestSkipsAndConfigFailures(t *testing.T) {
	disabled := storetest.S3("acme")
	disabled.Type = "s3:disabled"
	disabled.Enabled = tenant.Bool(false)
	expired := storetest.S3("acme")
	expired.Type = "s3:expired"
	expired.TTL = 1000
	filtered := storetest.CloudWatch("acme")
	filtered.Type = "cloudwatch:audit"
	filtered.Groups = []string{"api"}
	invalid := storetest.S3("acme")
	invalid.Type = "s3:invalid"
	invalid.Settings["bucket_name"] = "Not A Bucket"
	unknownGroup := storetest.S3("acme")
	unknownGroup.Type = "s3:typo"
	unknownGroup.Groups = []string{"API", "Authentcation"}
	unknownKind := tenant.DeliveryConfig{TenantID: "acme", Type: "loki"}
	store := newStore(t, storetest.S3("acme"), disabled, expired, filtered, invalid, unknownGroup, unknownKind)

	rec := &delivertest.Recorder{}
	d := newDispatcher(t, store, map[string]deliver.Deliverer{"s3": rec, "cloudwatch": rec})
	rs := d.Dispatch(context.Background(),
		obj("m1", "c/acme/payments/pod/f.gz"),
		obj("m2", "c/acme/kube-apiserver/pod/f.gz"),
		obj("m3", "c/nobody/app/pod/f.gz"),
		obj("m4", "not/a/valid/key"),
	)
	got := byDest(rs)

	for _, id := range []string{"m1", "m2"} {
		assert.Equal(t, logdelivery.Delivered, got[id+"|s3"].Outcome, id)
		assert.Equal(t, logdelivery.Skipped, got[id+"|s3:disabled"].Outcome, id)
		assert.Equal(t, logdelivery.ReasonDisabled, got[id+"|s3:disabled"].Reason)
		assert.Equal(t, logdelivery.ReasonExpired, got[id+"|s3:expired"].Reason)
		inv := got[id+"|s3:invalid"]
		assert.Equal(t, logdelivery.Failed, inv.Outcome)
		assert.ErrorIs(t, inv.Err, tenant.ErrInvalidConfig)
		assert.False(t, fault.IsRetryable(inv.Err))
		assert.ErrorContains(t, got[id+"|s3:typo"].Err, `"Authentcation" is not an application group`,
			"a misspelt group fails loudly instead of silently missing logs")
		assert.ErrorContains(t, got[id+"|loki"].Err, `"loki" is not a known destination kind`)
		assert.True(t, fault.IsPermanent(got[id+"|loki"].Err))
	}
	assert.Equal(t, logdelivery.Skipped, got["m1|cloudwatch:audit"].Outcome)
	assert.Equal(t, logdelivery.ReasonFiltered, got["m1|cloudwatch:audit"].Reason)
	assert.Equal(t, logdelivery.Delivered, got["m2|cloudwatch:audit"].Outcome, "kube-apiserver is in the API group")

	assert.Equal(t, logdelivery.Skipped, got["m3|"].Outcome)
	assert.Equal(t, logdelivery.ReasonNoConfig, got["m3|"].Reason)

	assert.Equal(t, logdelivery.Failed, got["m4|"].Outcome)
	assert.False(t, fault.IsRetryable(got["m4|"].Err), "a bad key is permanent")

	assert.Len(t, rec.Deliveries(), 3, "m1→s3, m2→s3, m2→cloudwatch:audit")
	assert.Empty(t, rs.RetryIDs(), "only permanent failures")
	assert.Equal(t, []string{"m1", "m2", "m4"}, rs.PermanentFailureIDs())
}

// brokenStore fails for one tenant and reports a bad item for another.
type brokenStore struct{ tenant.ConfigStore }

func (b brokenStore) Configs(ctx context.Context, id string) ([]tenant.DeliveryConfig, error) {
	switch id {
	case "down":
		return nil, errors.New("connection reset")
	case "partial":
		return []tenant.DeliveryConfig{storetest.S3("partial")},
			&tenant.ItemsError{Items: []*tenant.ItemError{{TenantID: "partial", Type: "cloudwatch", Err: errors.New("bad ttl")}}}
	}
	return b.ConfigStore.Configs(ctx, id)
}

func TestStoreFailuresStayWithTheirTenant(t *testing.T) {
	rec := &delivertest.Recorder{}
	d := newDispatcher(t, brokenStore{newStore(t, storetest.S3("ok"))}, map[string]deliver.Deliverer{"s3": rec})
	rs := d.Dispatch(context.Background(),
		obj("down", "c/down/app/pod/f.gz"),
		obj("partial", "c/partial/app/pod/f.gz"),
		obj("ok", "c/ok/app/pod/f.gz"),
	)
	got := byDest(rs)
	assert.Equal(t, logdelivery.Failed, got["down|"].Outcome)
	assert.True(t, fault.IsRetryable(got["down|"].Err), "a store outage is retried")
	assert.ErrorContains(t, got["down|"].Err, `tenant "down"`)

	assert.Equal(t, logdelivery.Failed, got["partial|cloudwatch"].Outcome, "the bad item is reported as its destination")
	assert.False(t, fault.IsRetryable(got["partial|cloudwatch"].Err))
	assert.Equal(t, logdelivery.Delivered, got["partial|s3"].Outcome, "the tenant's good item still delivers")
	assert.Equal(t, logdelivery.Delivered, got["ok|s3"].Outcome)
	assert.Equal(t, []string{"down"}, rs.RetryIDs())
}

func TestDeadlineReserve(t *testing.T) {
	rec := &delivertest.Recorder{}
	d := newDispatcher(t, newStore(t, storetest.S3("acme")), map[string]deliver.Deliverer{"s3": rec},
		func(o *logdelivery.Options) { o.DeadlineReserve = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	rs := d.Dispatch(ctx, obj("m1", "c/acme/app/pod/f.gz"))
	require.Len(t, rs, 1)
	assert.ErrorIs(t, rs[0].Err, logdelivery.ErrDeadline)
	assert.True(t, fault.IsRetryable(rs[0].Err))
	assert.Empty(t, rec.Deliveries(), "nothing started that could not finish")
	assert.Equal(t, []string{"m1"}, rs.RetryIDs())

	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	rs = newDispatcher(t, newStore(t, storetest.S3("acme")), map[string]deliver.Deliverer{"s3": rec}).
		Dispatch(cancelled, obj("m2", "c/acme/app/pod/f.gz"))
	assert.Equal(t, []string{"m2"}, rs.RetryIDs(), "work not done because the context ended is retried")
}

func TestPanicIsContained(t *testing.T) {
	boom := &delivertest.Recorder{Func: func(context.Context, *deliver.Delivery) (deliver.Receipt, error) { panic("kaboom") }}
	ok := &delivertest.Recorder{}
	d := newDispatcher(t, newStore(t, storetest.S3("acme"), storetest.CloudWatch("acme")),
		map[string]deliver.Deliverer{"s3": boom, "cloudwatch": ok})
	got := byDest(d.Dispatch(context.Background(), obj("m", "c/acme/app/pod/f.gz")))
	assert.ErrorIs(t, got["m|s3"].Err, logdelivery.ErrPanic)
	assert.Equal(t, logdelivery.Delivered, got["m|cloudwatch"].Outcome)
}

func TestNoOpener(t *testing.T) {
	rec := &delivertest.Recorder{Func: func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		_, err := d.Open(ctx)
		return deliver.Receipt{}, err
	}}
	d := newDispatcher(t, newStore(t, storetest.S3("acme")), map[string]deliver.Deliverer{"s3": rec})
	rs := d.Dispatch(context.Background(), obj("m", "c/acme/app/pod/f.gz"))
	assert.ErrorIs(t, rs[0].Err, logdelivery.ErrNoOpener)
	assert.False(t, fault.IsRetryable(rs[0].Err))
}

type observer struct {
	mu sync.Mutex
	rs logdelivery.Results
}

func (o *observer) ObserveResult(_ context.Context, r logdelivery.Result) {
	o.mu.Lock()
	o.rs = append(o.rs, r)
	o.mu.Unlock()
}

func TestObserverSeesEveryResult(t *testing.T) {
	obs := &observer{}
	d := newDispatcher(t, newStore(t, storetest.S3("acme")), map[string]deliver.Deliverer{"s3": &delivertest.Recorder{}},
		func(o *logdelivery.Options) { o.Observer = obs })
	rs := d.Dispatch(context.Background(), obj("a", "c/acme/app/pod/f.gz"), obj("b", "bad"), obj("c", "c/x/app/pod/f.gz"))
	assert.Len(t, obs.rs, len(rs))
	assert.Equal(t, []string{"a", "b", "c"}, []string{rs[0].Object.ID, rs[1].Object.ID, rs[2].Object.ID}, "results follow input order")
}

func TestNewDispatcherRejectsNil(t *testing.T) {
	_, err := logdelivery.NewDispatcher(nil, kinds(t, nil))
	assert.Error(t, err)
	_, err = logdelivery.NewDispatcher(newStore(t), nil)
	assert.Error(t, err)
}

func TestPerTenantLimitSpansDispatchCalls(t *testing.T) {
	var inflight, peak atomic.Int32
	started := make(chan struct{})
	release := make(chan struct{})
	rec := &delivertest.Recorder{Func: func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		n := inflight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		started <- struct{}{}
		<-release
		inflight.Add(-1)
		return deliver.Receipt{}, nil
	}}
	d := newDispatcher(t, newStore(t, storetest.S3("slow")), map[string]deliver.Deliverer{"s3": rec},
		func(o *logdelivery.Options) { o.MaxPerTenant = 1 })
	var wg sync.WaitGroup
	for _, f := range []string{"a", "b", "c"} {
		wg.Go(func() { d.Dispatch(context.Background(), obj(f, "c/slow/app/pod/"+f+".gz")) })
	}
	for range 3 {
		select {
		case <-started:
		case <-time.After(wait):
			t.Fatal("a delivery never started")
		}
		release <- struct{}{}
	}
	wg.Wait()
	assert.Equal(t, int32(1), peak.Load(), "one delivery of the tenant at a time across Dispatch calls")
}

// deniedStore fails like DynamoDB after an IAM change: a permanent error.
type deniedStore struct{}

func (deniedStore) Configs(context.Context, string) ([]tenant.DeliveryConfig, error) {
	return nil, fault.Permanent(errors.New("AccessDeniedException: not authorized to perform dynamodb:Query"))
}

func TestStoreErrorsAreAlwaysRetried(t *testing.T) {
	d := newDispatcher(t, deniedStore{}, map[string]deliver.Deliverer{"s3": &delivertest.Recorder{}})
	rs := d.Dispatch(context.Background(), obj("m1", "c/acme/app/pod/f.gz"))
	require.Len(t, rs, 1)
	assert.True(t, fault.IsRetryable(rs[0].Err), "the processor's own access problem must not drop the tenant's logs")
	assert.ErrorContains(t, rs[0].Err, "AccessDeniedException")
	assert.Equal(t, []string{"m1"}, rs.RetryIDs())
}

// Results.Err and RetryIDs answer the retry question alike, also when some
// objects failed permanently and others retryably.
func TestResultsErrAgreesWithRetryIDs(t *testing.T) {
	store := newStore(t, storetest.S3("acme"), storetest.S3("globex"))
	s3 := &delivertest.Recorder{Func: func(_ context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		if d.Key.Tenant == "acme" {
			return deliver.Receipt{}, fault.Permanent(errors.New("NoSuchBucket"))
		}
		return deliver.Receipt{}, fault.Retryable(errors.New("SlowDown"))
	}}
	d := newDispatcher(t, store, map[string]deliver.Deliverer{"s3": s3})

	rs := d.Dispatch(context.Background(), obj("m1", "c/acme/app/pod/f.gz"), obj("m2", "c/globex/app/pod/f.gz"))
	assert.Equal(t, []string{"m2"}, rs.RetryIDs())
	assert.Equal(t, []string{"m1"}, rs.PermanentFailureIDs())
	err := rs.Err()
	assert.True(t, fault.IsRetryable(err), "some object needs a retry: %v", err)
	assert.NotErrorIs(t, err, fault.ErrPermanent, "errors.Is agrees")
	var de *logdelivery.DispatchError
	require.ErrorAs(t, err, &de)
	assert.Len(t, de.Failures, 2, "every failure is listed")
	assert.ErrorContains(t, err, "NoSuchBucket")

	rs = d.Dispatch(context.Background(), obj("m1", "c/acme/app/pod/f.gz"))
	assert.True(t, fault.IsPermanent(rs.Err()))
	assert.Empty(t, rs.RetryIDs())

	assert.NoError(t, logdelivery.Results{}.Err())
}

// A kind the registry knows without a deliverer (a registry made for a
// configuration API) fails its configs permanently, naming the kind.
func TestKindWithoutDeliverer(t *testing.T) {
	kinds, err := deliver.NewRegistry([]deliver.Kind{s3.Kind()})
	require.NoError(t, err)
	d, err := logdelivery.NewDispatcher(newStore(t, storetest.S3("acme")), kinds)
	require.NoError(t, err)
	rs := d.Dispatch(context.Background(), obj("m1", "c/acme/app/pod/f.gz"))
	require.Len(t, rs, 1)
	assert.ErrorIs(t, rs[0].Err, logdelivery.ErrNoDeliverer)
	assert.True(t, fault.IsPermanent(rs[0].Err))
}
