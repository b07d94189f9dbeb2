package logdelivery_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/tenant"
)

// memObjects is an Opener of gzip NDJSON objects held in memory that
// counts its opens.
type memObjects struct {
	mu    sync.Mutex
	data  map[string][]byte
	opens map[string]int
}

func newObjects() *memObjects {
	return &memObjects{data: map[string][]byte{}, opens: map[string]int{}}
}

// add stores an object of n events and returns its key.
func (m *memObjects) add(t *testing.T, key string, n int) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := range n {
		fmt.Fprintf(zw, `{"message":"line %06d","timestamp":"2026-11-30T10:00:00.%06dZ","kubernetes":{"pod_name":"pod","container_name":"api","pod_labels":{"app":"shop"}}}`+"\n", i, i)
	}
	require.NoError(t, zw.Close())
	m.mu.Lock()
	m.data[key] = buf.Bytes()
	m.mu.Unlock()
	return key
}

func (m *memObjects) Open(_ context.Context, obj deliver.Object) (*deliver.Body, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.opens[obj.Key]++
	b, ok := m.data[obj.Key]
	if !ok {
		return nil, fmt.Errorf("no object %s", obj.Key)
	}
	return &deliver.Body{ReadCloser: io.NopCloser(bytes.NewReader(b)), Size: int64(len(b)), ContentEncoding: "gzip"}, nil
}

func (m *memObjects) openCount(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.opens[key]
}

// reading returns a deliverer that reads every record of its deliveries,
// waiting on gate (if not nil) after each batch of 100 records, and
// records the messages it got per object.
type reading struct {
	gate chan struct{}

	mu   sync.Mutex
	got  map[string][]string
	busy chan struct{} // receives once a delivery read its first record
}

func newReading() *reading {
	return &reading{got: map[string][]string{}, busy: make(chan struct{}, 64)}
}

func (r *reading) Deliver(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
	rr, err := d.Records(ctx)
	if err != nil {
		return deliver.Receipt{}, err
	}
	defer rr.Close()
	var msgs []string
	for {
		rec, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return deliver.Receipt{}, err
		}
		if len(msgs) == 0 {
			r.busy <- struct{}{}
		}
		msgs = append(msgs, rec.Message)
		if r.gate != nil && len(msgs)%100 == 0 {
			select {
			case <-r.gate:
			case <-ctx.Done():
				return deliver.Receipt{}, ctx.Err()
			}
		}
	}
	r.mu.Lock()
	r.got[d.Object.Key] = msgs
	r.mu.Unlock()
	return deliver.Receipt{Events: int64(len(msgs))}, nil
}

func (r *reading) messages(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[key]
}

func lines(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("line %06d", i)
	}
	return out
}

// recordKinds returns a registry of record kinds delivered by dl.
func recordKinds(t testing.TB, dl map[string]deliver.Deliverer) *deliver.Registry {
	t.Helper()
	var ks []deliver.Kind
	for name, d := range dl {
		ks = append(ks, delivertest.Kind(name, d, true))
	}
	r, err := deliver.NewRegistry(ks)
	require.NoError(t, err)
	return r
}

// Three record destinations of one tenant: one GetObject and one decode per
// object, every destination gets every selected record.
func TestRecordDestinationsShareOneDecode(t *testing.T) {
	objects := newObjects()
	key := objects.add(t, "c1/acme/shop/pod/1764496800-a.json.gz", 5000)
	a, b, c := newReading(), newReading(), newReading()
	store := newStore(t,
		tenant.DeliveryConfig{TenantID: "acme", Type: "a"},
		tenant.DeliveryConfig{TenantID: "acme", Type: "b"},
		tenant.DeliveryConfig{TenantID: "acme", Type: "c", Match: []tenant.MatchRule{{Select: &tenant.MatchCriteria{Labels: map[string]string{"app": "other"}}}}},
	)
	d, err := logdelivery.NewDispatcher(store, recordKinds(t, map[string]deliver.Deliverer{"a": a, "b": b, "c": c}),
		func(o *logdelivery.Options) { o.Opener = objects })
	require.NoError(t, err)

	rs := d.Dispatch(context.Background(), obj("m1", key))
	require.Len(t, rs, 3)
	for _, r := range rs {
		assert.Equal(t, logdelivery.Delivered, r.Outcome, "%s: %v", r.Destination, r.Err)
	}
	assert.Equal(t, 1, objects.openCount(key), "one GetObject (and so one decode) for three record destinations")
	assert.Equal(t, lines(5000), a.messages(key))
	assert.Equal(t, lines(5000), b.messages(key))
	assert.Empty(t, c.messages(key), "c's match rules select nothing of it: its own selection, from the shared decode")
}

// A hung record destination holds neither the download nor the others: they
// finish while it hangs, and once released it still gets every record,
// reading the object again on its own.
func TestHungRecordDestinationDoesNotHoldTheOthers(t *testing.T) {
	objects := newObjects()
	key := objects.add(t, "c1/acme/shop/pod/1764496800-a.json.gz", 20000)
	fast1, fast2, hung := newReading(), newReading(), newReading()
	hung.gate = make(chan struct{})
	store := newStore(t,
		tenant.DeliveryConfig{TenantID: "acme", Type: "fast1"},
		tenant.DeliveryConfig{TenantID: "acme", Type: "fast2"},
		tenant.DeliveryConfig{TenantID: "acme", Type: "hung"},
	)
	d, err := logdelivery.NewDispatcher(store, recordKinds(t, map[string]deliver.Deliverer{"fast1": fast1, "fast2": fast2, "hung": hung}),
		func(o *logdelivery.Options) { o.Opener = objects })
	require.NoError(t, err)

	done := make(chan logdelivery.Results, 1)
	go func() { done <- d.Dispatch(context.Background(), obj("m1", key)) }()
	deadline := time.Now().Add(wait)
	for len(fast1.messages(key)) == 0 || len(fast2.messages(key)) == 0 {
		require.True(t, time.Now().Before(deadline), "the fast destinations did not finish while one hung")
		time.Sleep(5 * time.Millisecond)
	}
	assert.Equal(t, lines(20000), fast1.messages(key))
	assert.Equal(t, lines(20000), fast2.messages(key))
	assert.Empty(t, hung.messages(key), "the hung one is still hung")

	close(hung.gate) // release it
	rs := <-done
	for _, r := range rs {
		assert.Equal(t, logdelivery.Delivered, r.Outcome, "%s: %v", r.Destination, r.Err)
	}
	assert.Equal(t, lines(20000), hung.messages(key), "the hung destination gets every record once, in order")
	assert.Equal(t, 2, objects.openCount(key), "the shared read, and the hung destination's own")
}

// A destination that fails at once does not fail or hold the others.
func TestFailingRecordDestinationLeavesTheShare(t *testing.T) {
	objects := newObjects()
	key := objects.add(t, "c1/acme/shop/pod/1764496800-a.json.gz", 3000)
	ok := newReading()
	broken := deliver.DelivererFunc(func(context.Context, *deliver.Delivery) (deliver.Receipt, error) {
		return deliver.Receipt{}, fmt.Errorf("destination down")
	})
	store := newStore(t, tenant.DeliveryConfig{TenantID: "acme", Type: "ok"}, tenant.DeliveryConfig{TenantID: "acme", Type: "broken"})
	d, err := logdelivery.NewDispatcher(store, recordKinds(t, map[string]deliver.Deliverer{"ok": ok, "broken": broken}),
		func(o *logdelivery.Options) { o.Opener = objects })
	require.NoError(t, err)
	got := byDest(d.Dispatch(context.Background(), obj("m1", key)))
	assert.Equal(t, logdelivery.Delivered, got["m1|ok"].Outcome)
	assert.Equal(t, logdelivery.Failed, got["m1|broken"].Outcome)
	assert.Equal(t, lines(3000), ok.messages(key))
	assert.Equal(t, 1, objects.openCount(key), "a destination that never reads does not cost a re-read")
}

// The reproduction of the issue: with MaxPerTenant=2, a hung destination
// held the tenant's slots and blocked 3 of 4 deliveries to the tenant's other
// destination. Slots are per destination now: it holds only its own.
func TestHungDestinationHoldsOnlyItsOwnSlots(t *testing.T) {
	release := make(chan struct{})
	var hungStarted atomic.Int32
	hung := deliver.DelivererFunc(func(ctx context.Context, _ *deliver.Delivery) (deliver.Receipt, error) {
		hungStarted.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return deliver.Receipt{Objects: 1}, nil
	})
	healthy := &delivertest.Recorder{}
	store := newStore(t, tenant.DeliveryConfig{TenantID: "acme", Type: "hung"}, tenant.DeliveryConfig{TenantID: "acme", Type: "healthy"})
	kinds := recordKinds(t, map[string]deliver.Deliverer{"hung": hung, "healthy": healthy})
	d, err := logdelivery.NewDispatcher(store, kinds, func(o *logdelivery.Options) { o.MaxPerTenant = 2 })
	require.NoError(t, err)

	done := make(chan logdelivery.Results, 1)
	go func() {
		done <- d.Dispatch(context.Background(), obj("m1", "c/acme/app/pod/1.gz"), obj("m2", "c/acme/app/pod/2.gz"),
			obj("m3", "c/acme/app/pod/3.gz"), obj("m4", "c/acme/app/pod/4.gz"))
	}()
	deadline := time.Now().Add(wait)
	for len(healthy.Deliveries()) < 4 {
		require.True(t, time.Now().Before(deadline), "healthy destination got %d of 4 deliveries while the other hung", len(healthy.Deliveries()))
		time.Sleep(5 * time.Millisecond)
	}
	assert.Equal(t, int32(1), hungStarted.Load(), "the hung destination holds one slot (MaxPerDestination = MaxPerTenant/2)")
	close(release)
	rs := <-done
	assert.Equal(t, 8, rs.Count(logdelivery.Delivered))
}

type closer struct {
	delivertest.Recorder
	closed atomic.Int32
}

func (c *closer) Close() error { c.closed.Add(1); return nil }

func TestDispatcherCloseClosesDeliverers(t *testing.T) {
	c := &closer{}
	d := newDispatcher(t, newStore(t), map[string]deliver.Deliverer{"webhook": c})
	require.NoError(t, d.Close())
	require.NoError(t, d.Close())
	assert.Equal(t, int32(1), c.closed.Load(), "closed once, however often the Dispatcher is")
}

func TestNewDispatcherRejectsInvalidOptions(t *testing.T) {
	kinds := recordKinds(t, nil)
	for name, fn := range map[string]func(*logdelivery.Options){
		"negative concurrency":        func(o *logdelivery.Options) { o.MaxConcurrency = -1 },
		"per tenant over global":      func(o *logdelivery.Options) { o.MaxConcurrency, o.MaxPerTenant = 4, 5 },
		"per destination over tenant": func(o *logdelivery.Options) { o.MaxPerTenant, o.MaxPerDestination = 2, 3 },
		"negative timeout":            func(o *logdelivery.Options) { o.DeliveryTimeout = -time.Second },
		"negative line limit":         func(o *logdelivery.Options) { o.Decode.MaxLineBytes = -1 },
	} {
		_, err := logdelivery.NewDispatcher(newStore(t), kinds, fn)
		assert.Error(t, err, name)
	}
}

// labelSettings ask for pod labels, as a destination that turns them into
// labels of its own does.
type labelSettings struct{}

func (*labelSettings) Validate(tenant.DeliveryConfig) []tenant.FieldError { return nil }
func (*labelSettings) RecordFields() deliver.Fields                       { return deliver.FieldLabels | deliver.FieldHost }

func TestSettingsAskForRecordFields(t *testing.T) {
	objects := newObjects()
	key := objects.add(t, "c1/acme/shop/pod/1764496800-a.json.gz", 3)
	var labels []map[string]string
	kind := deliver.Kind{Name: "labelled", Records: true, NewSettings: func() deliver.Settings { return new(labelSettings) },
		Deliverer: deliver.DelivererFunc(func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
			rr, err := d.Records(ctx)
			if err != nil {
				return deliver.Receipt{}, err
			}
			defer rr.Close()
			for {
				rec, err := rr.Next()
				if err != nil {
					return deliver.Receipt{}, nil
				}
				labels = append(labels, rec.Labels)
			}
		})}
	kinds, err := deliver.NewRegistry([]deliver.Kind{kind})
	require.NoError(t, err)
	d, err := logdelivery.NewDispatcher(newStore(t, tenant.DeliveryConfig{TenantID: "acme", Type: "labelled"}), kinds,
		func(o *logdelivery.Options) { o.Opener = objects })
	require.NoError(t, err)
	d.Dispatch(context.Background(), obj("m1", key))
	require.Len(t, labels, 3)
	assert.Equal(t, map[string]string{"app": "shop"}, labels[0], "decoded for the settings that asked, though no selector needs them")
}
