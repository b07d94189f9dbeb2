package tenant

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Defaults of CacheOptions.
const (
	DefaultCacheTTL         = 60 * time.Second
	DefaultCacheNegativeTTL = 30 * time.Second
	DefaultCacheMaxTenants  = 10000
	DefaultCacheLoadTimeout = 30 * time.Second
)

// CacheOptions configures a Cache.
type CacheOptions struct {
	// TTL is how long a tenant's configurations are served from memory.
	// Default: DefaultCacheTTL (60s).
	TTL time.Duration

	// NegativeTTL is how long "this tenant has no configuration" is served
	// from memory. Keep it short enough for newly onboarded tenants.
	// Default: DefaultCacheNegativeTTL (30s).
	NegativeTTL time.Duration

	// MaxTenants bounds the tenants held; the least recently used is
	// evicted first. Default: DefaultCacheMaxTenants (10,000).
	MaxTenants int

	// LoadTimeout bounds one load from the store. A load is shared by every
	// caller waiting for the tenant, so it does not stop when the caller
	// that started it gives up. Default: DefaultCacheLoadTimeout (30s).
	LoadTimeout time.Duration

	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// Cache is a ConfigStore that remembers another ConfigStore's answers, for
// processes that look up the same tenants again and again (a Lambda
// container keeps it across invocations). It is safe for concurrent use.
//
//   - Answers are kept for TTL; "no configuration" for NegativeTTL.
//   - Concurrent lookups of a tenant that is not cached make one call to the
//     store and share its answer.
//   - Errors are not cached: the next lookup asks the store again (waiters
//     of the same call share its error). An answer with unusable items (a
//     *ItemsError next to the good configs) is an answer and is cached.
//   - At most MaxTenants tenants are held, least recently used evicted.
//   - Invalidate and InvalidateAll drop entries at once, also those being
//     loaded at that moment.
type Cache struct {
	store ConfigStore
	opts  CacheOptions
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]*list.Element // of *cacheEntry
	lru     *list.List               // front: most recently used
	epoch   uint64                   // bumped by every invalidation

	// joined, when set, is called after a caller has started or joined a
	// load (for tests).
	joined func(tenantID string)
}

type cacheEntry struct {
	tenantID string
	configs  []DeliveryConfig
	err      error // nil or *ItemsError
	expires  time.Time
}

type cacheResult struct {
	configs []DeliveryConfig
	err     error
}

var _ ConfigStore = (*Cache)(nil)

// NewCache returns a Cache in front of store.
func NewCache(store ConfigStore, optFns ...func(*CacheOptions)) *Cache {
	c := &Cache{store: store, entries: map[string]*list.Element{}, lru: list.New()}
	for _, fn := range optFns {
		fn(&c.opts)
	}
	if c.opts.TTL <= 0 {
		c.opts.TTL = DefaultCacheTTL
	}
	if c.opts.NegativeTTL <= 0 {
		c.opts.NegativeTTL = DefaultCacheNegativeTTL
	}
	if c.opts.MaxTenants <= 0 {
		c.opts.MaxTenants = DefaultCacheMaxTenants
	}
	if c.opts.LoadTimeout <= 0 {
		c.opts.LoadTimeout = DefaultCacheLoadTimeout
	}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	return c
}

// Configs returns the tenant's configurations from memory, or from the
// store when they are not cached or have expired. The caller owns the
// returned slice.
func (c *Cache) Configs(ctx context.Context, tenantID string) ([]DeliveryConfig, error) {
	c.mu.Lock()
	if e, ok := c.lookup(tenantID); ok {
		c.mu.Unlock()
		return cloneConfigs(e.configs), e.err
	}
	epoch := c.epoch
	c.mu.Unlock()

	// The flight key names the epoch, so that a lookup after an
	// invalidation never joins a load that started before it.
	ch := c.group.DoChan(strconv.FormatUint(epoch, 10)+"\x00"+tenantID, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.LoadTimeout)
		defer cancel()
		configs, err := c.store.Configs(lctx, tenantID)
		var items *ItemsError
		if err == nil || errors.As(err, &items) {
			c.remember(tenantID, epoch, configs, err)
		}
		return cacheResult{configs: configs, err: err}, nil
	})
	if c.joined != nil {
		c.joined(tenantID)
	}
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("configs of tenant %q: %w", tenantID, context.Cause(ctx))
	case r := <-ch:
		res := r.Val.(cacheResult)
		return cloneConfigs(res.configs), res.err
	}
}

// lookup returns the live entry of tenantID, dropping an expired one.
// c.mu is held.
func (c *Cache) lookup(tenantID string) (*cacheEntry, bool) {
	el, ok := c.entries[tenantID]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !c.opts.Now().Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, tenantID)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e, true
}

// remember stores a load's answer unless an invalidation happened since it
// started.
func (c *Cache) remember(tenantID string, epoch uint64, configs []DeliveryConfig, err error) {
	ttl := c.opts.TTL
	if len(configs) == 0 && err == nil {
		ttl = c.opts.NegativeTTL
	}
	e := &cacheEntry{tenantID: tenantID, configs: cloneConfigs(configs), err: err, expires: c.opts.Now().Add(ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return
	}
	if el, ok := c.entries[tenantID]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.entries[tenantID] = c.lru.PushFront(e)
	for c.lru.Len() > c.opts.MaxTenants {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).tenantID)
	}
}

// Invalidate drops the tenant's entry, so that the next lookup asks the
// store. Loads in progress are not remembered.
func (c *Cache) Invalidate(tenantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[tenantID]; ok {
		c.lru.Remove(el)
		delete(c.entries, tenantID)
	}
	c.epoch++
}

// InvalidateAll drops every entry. Loads in progress are not remembered.
func (c *Cache) InvalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	c.lru.Init()
	c.epoch++
}

// Len returns the number of tenants held, expired entries included until
// they are next looked up or evicted.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// cloneConfigs returns a deep copy of in; never nil.
func cloneConfigs(in []DeliveryConfig) []DeliveryConfig {
	out := make([]DeliveryConfig, len(in))
	for i, c := range in {
		out[i] = c.Clone()
	}
	return out
}
