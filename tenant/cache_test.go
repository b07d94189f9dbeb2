package tenant

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingStore answers from a map and counts calls per tenant. When gate
// is set, every call announces itself on entered and waits for gate.
type countingStore struct {
	mu      sync.Mutex
	configs map[string][]DeliveryConfig
	errs    map[string]error
	calls   map[string]int
	entered chan string
	gate    chan struct{}
}

func newCountingStore() *countingStore {
	return &countingStore{configs: map[string][]DeliveryConfig{}, errs: map[string]error{}, calls: map[string]int{}}
}

func (s *countingStore) Configs(ctx context.Context, tenantID string) ([]DeliveryConfig, error) {
	s.mu.Lock()
	s.calls[tenantID]++
	entered, gate := s.entered, s.gate
	s.mu.Unlock()
	if entered != nil {
		entered <- tenantID
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.errs[tenantID]; err != nil {
		var items *ItemsError
		if !errors.As(err, &items) {
			return nil, err
		}
	}
	out := cloneConfigs(s.configs[tenantID])
	return out, s.errs[tenantID]
}

func (s *countingStore) set(tenantID string, configs ...DeliveryConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configs[tenantID] = configs
}

func (s *countingStore) count(tenantID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[tenantID]
}

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

func newTestCache(store ConfigStore, optFns ...func(*CacheOptions)) (*Cache, *fakeClock) {
	clock := &fakeClock{now: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	fns := append([]func(*CacheOptions){func(o *CacheOptions) {
		o.Now = clock.Now
		o.TTL = time.Minute
		o.NegativeTTL = 10 * time.Second
	}}, optFns...)
	return NewCache(store, fns...), clock
}

func s3cfg(tenantID, bucket string) DeliveryConfig {
	return DeliveryConfig{TenantID: tenantID, Type: KindS3, Settings: map[string]any{"bucket_name": bucket}, DesiredLogs: []string{"app"}, Enabled: Bool(true)}
}

func TestCacheServesWithinTTL(t *testing.T) {
	store := newCountingStore()
	store.set("acme", s3cfg("acme", "acme-logs"))
	c, clock := newTestCache(store)
	ctx := context.Background()

	for range 3 {
		got, err := c.Configs(ctx, "acme")
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "acme-logs", got[0].Settings["bucket_name"])
	}
	assert.Equal(t, 1, store.count("acme"))

	store.set("acme", s3cfg("acme", "acme-new"))
	clock.Advance(time.Minute - time.Nanosecond)
	got, err := c.Configs(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "acme-logs", got[0].Settings["bucket_name"], "still fresh just before the TTL")
	assert.Equal(t, 1, store.count("acme"))

	clock.Advance(time.Nanosecond)
	got, err = c.Configs(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "acme-new", got[0].Settings["bucket_name"], "reloaded at the TTL")
	assert.Equal(t, 2, store.count("acme"))
}

func TestCacheNegativeTTL(t *testing.T) {
	store := newCountingStore()
	c, clock := newTestCache(store)
	ctx := context.Background()

	got, err := c.Configs(ctx, "newcomer")
	require.NoError(t, err)
	assert.NotNil(t, got, "no configs is an empty slice")
	assert.Empty(t, got)
	_, _ = c.Configs(ctx, "newcomer")
	assert.Equal(t, 1, store.count("newcomer"), "no config is cached")

	store.set("newcomer", s3cfg("newcomer", "nc-logs"))
	clock.Advance(10 * time.Second)
	got, err = c.Configs(ctx, "newcomer")
	require.NoError(t, err)
	assert.Len(t, got, 1, "a new tenant is seen after the negative TTL, well before the TTL")
	assert.Equal(t, 2, store.count("newcomer"))
}

func TestCacheDoesNotCacheErrors(t *testing.T) {
	store := newCountingStore()
	boom := errors.New("throttled")
	store.errs["acme"] = boom
	c, _ := newTestCache(store)
	ctx := context.Background()

	_, err := c.Configs(ctx, "acme")
	assert.ErrorIs(t, err, boom)
	_, err = c.Configs(ctx, "acme")
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 2, store.count("acme"), "every lookup after an error asks the store")

	store.mu.Lock()
	delete(store.errs, "acme")
	store.mu.Unlock()
	store.set("acme", s3cfg("acme", "acme-logs"))
	got, err := c.Configs(ctx, "acme")
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

func TestCacheKeepsPartialAnswers(t *testing.T) {
	store := newCountingStore()
	store.set("acme", s3cfg("acme", "acme-logs"))
	items := &ItemsError{Items: []*ItemError{{TenantID: "acme", Type: "s3:bad", Err: errors.New("corrupt")}}}
	store.errs["acme"] = items
	c, _ := newTestCache(store)
	for range 2 {
		got, err := c.Configs(context.Background(), "acme")
		require.Len(t, got, 1)
		var ie *ItemsError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, "s3:bad", ie.Items[0].Type)
	}
	assert.Equal(t, 1, store.count("acme"), "a tenant with a bad item is not reloaded every time")
}

func TestCacheSingleflight(t *testing.T) {
	store := newCountingStore()
	store.set("acme", s3cfg("acme", "acme-logs"))
	store.entered = make(chan string, 100)
	store.gate = make(chan struct{})
	c, _ := newTestCache(store)

	const n = 20
	joined := make(chan string, n)
	c.joined = func(id string) { joined <- id }

	results := make(chan []DeliveryConfig, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			got, err := c.Configs(context.Background(), "acme")
			results <- got
			errs <- err
		}()
	}
	// Every caller has started or joined the load while the store is held.
	for range n {
		select {
		case <-joined:
		case <-time.After(10 * time.Second):
			t.Fatal("callers did not reach the load")
		}
	}
	<-store.entered
	close(store.gate)
	var first []DeliveryConfig
	for i := range n {
		require.NoError(t, <-errs)
		got := <-results
		require.Len(t, got, 1)
		if i == 0 {
			first = got
		} else {
			assert.NotSame(t, &first[0], &got[0], "each caller owns its slice")
		}
	}
	assert.Equal(t, 1, store.count("acme"), "concurrent lookups make one store call")
}

func TestCacheCallerCancelDoesNotCancelLoad(t *testing.T) {
	store := newCountingStore()
	store.set("acme", s3cfg("acme", "acme-logs"))
	store.entered = make(chan string, 10)
	store.gate = make(chan struct{})
	c, _ := newTestCache(store)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Configs(ctx, "acme")
		done <- err
	}()
	<-store.entered
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled, "the caller stops waiting")

	joined := make(chan string, 1)
	c.joined = func(id string) { joined <- id }
	second := make(chan []DeliveryConfig, 1)
	go func() {
		got, _ := c.Configs(context.Background(), "acme")
		second <- got
	}()
	<-joined
	close(store.gate)
	assert.Len(t, <-second, 1, "the load goes on for the other waiters")
	assert.Equal(t, 1, store.count("acme"))
}

func TestCacheInvalidate(t *testing.T) {
	store := newCountingStore()
	store.set("acme", s3cfg("acme", "v1"))
	store.set("globex", s3cfg("globex", "g1"))
	c, _ := newTestCache(store)
	ctx := context.Background()
	_, _ = c.Configs(ctx, "acme")
	_, _ = c.Configs(ctx, "globex")

	store.set("acme", s3cfg("acme", "v2"))
	c.Invalidate("acme")
	got, _ := c.Configs(ctx, "acme")
	assert.Equal(t, "v2", got[0].Settings["bucket_name"])
	_, _ = c.Configs(ctx, "globex")
	assert.Equal(t, 1, store.count("globex"), "other tenants stay cached")

	c.InvalidateAll()
	assert.Zero(t, c.Len())
	_, _ = c.Configs(ctx, "globex")
	assert.Equal(t, 2, store.count("globex"))
}

func TestCacheInvalidateDuringLoad(t *testing.T) {
	store := newCountingStore()
	store.set("acme", s3cfg("acme", "old"))
	store.entered = make(chan string, 10)
	store.gate = make(chan struct{})
	c, _ := newTestCache(store)

	done := make(chan []DeliveryConfig, 1)
	go func() {
		got, _ := c.Configs(context.Background(), "acme")
		done <- got
	}()
	<-store.entered
	c.Invalidate("acme") // the config changes while the old value is read
	close(store.gate)
	assert.Equal(t, "old", (<-done)[0].Settings["bucket_name"])

	store.mu.Lock()
	store.entered, store.gate = nil, nil
	store.mu.Unlock()
	store.set("acme", s3cfg("acme", "new"))
	got, err := c.Configs(context.Background(), "acme")
	require.NoError(t, err)
	assert.Equal(t, "new", got[0].Settings["bucket_name"], "a load that raced an invalidation is not remembered")
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	store := newCountingStore()
	for i := range 4 {
		id := fmt.Sprintf("t%d", i)
		store.set(id, s3cfg(id, "b"))
	}
	c, _ := newTestCache(store, func(o *CacheOptions) { o.MaxTenants = 3 })
	ctx := context.Background()
	for _, id := range []string{"t0", "t1", "t2", "t0", "t3"} { // t1 is the least recently used
		_, _ = c.Configs(ctx, id)
	}
	assert.Equal(t, 3, c.Len())
	_, _ = c.Configs(ctx, "t0")
	_, _ = c.Configs(ctx, "t1")
	assert.Equal(t, 1, store.count("t0"), "t0 was kept")
	assert.Equal(t, 2, store.count("t1"), "t1 was evicted")
}

func TestCacheReturnsCopies(t *testing.T) {
	store := newCountingStore()
	store.set("acme", s3cfg("acme", "b"))
	c, _ := newTestCache(store)
	got, _ := c.Configs(context.Background(), "acme")
	got[0].DesiredLogs[0] = "changed"
	*got[0].Enabled = false
	again, _ := c.Configs(context.Background(), "acme")
	assert.Equal(t, []string{"app"}, again[0].DesiredLogs)
	assert.True(t, *again[0].Enabled)
}

func BenchmarkCacheHit(b *testing.B) {
	store := newCountingStore()
	store.set("acme", s3cfg("acme", "a"), s3cfg("acme", "b"))
	c := NewCache(store)
	ctx := context.Background()
	if _, err := c.Configs(ctx, "acme"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Configs(ctx, "acme"); err != nil {
				b.Fatal(err)
			}
		}
	})
	if n := store.count("acme"); n != 1 {
		b.Fatalf("%d store calls", n)
	}
}
