package tenant

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// IdentityCache is an IdentityStore that remembers another's answers, as
// Cache does for configs: identities for CacheOptions.TTL, "no identity"
// for NegativeTTL, errors not at all; concurrent lookups of a tenant share
// one load; at most MaxTenants are held. It is safe for concurrent use.
type IdentityCache struct {
	store IdentityStore
	opts  CacheOptions
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]*list.Element // of *identityEntry
	lru     *list.List
}

type identityEntry struct {
	tenantID string
	id       Identity
	missing  bool // the store has none
	expires  time.Time
}

var _ IdentityStore = (*IdentityCache)(nil)

// NewIdentityCache returns an IdentityCache in front of store, with the
// options and defaults of NewCache.
func NewIdentityCache(store IdentityStore, optFns ...func(*CacheOptions)) *IdentityCache {
	c := &IdentityCache{store: store, entries: map[string]*list.Element{}, lru: list.New()}
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

// Identity returns the tenant's identity from memory, or from the store.
func (c *IdentityCache) Identity(ctx context.Context, tenantID string) (Identity, error) {
	c.mu.Lock()
	if el, ok := c.entries[tenantID]; ok {
		e := el.Value.(*identityEntry)
		if c.opts.Now().Before(e.expires) {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			if e.missing {
				return Identity{}, fmt.Errorf("tenant %q: %w", tenantID, ErrNoIdentity)
			}
			return e.id.Clone(), nil
		}
		c.lru.Remove(el)
		delete(c.entries, tenantID)
	}
	c.mu.Unlock()

	ch := c.group.DoChan(tenantID, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.LoadTimeout)
		defer cancel()
		id, err := c.store.Identity(lctx, tenantID)
		switch {
		case err == nil:
			c.remember(&identityEntry{tenantID: tenantID, id: id.Clone(), expires: c.opts.Now().Add(c.opts.TTL)})
		case errors.Is(err, ErrNoIdentity):
			c.remember(&identityEntry{tenantID: tenantID, missing: true, expires: c.opts.Now().Add(c.opts.NegativeTTL)})
		}
		return id, err
	})
	select {
	case <-ctx.Done():
		return Identity{}, fmt.Errorf("identity of tenant %q: %w", tenantID, context.Cause(ctx))
	case r := <-ch:
		return r.Val.(Identity).Clone(), r.Err
	}
}

func (c *IdentityCache) remember(e *identityEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[e.tenantID]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.entries[e.tenantID] = c.lru.PushFront(e)
	for c.lru.Len() > c.opts.MaxTenants {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.entries, oldest.Value.(*identityEntry).tenantID)
	}
}

// Invalidate drops the tenant's entry.
func (c *IdentityCache) Invalidate(tenantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[tenantID]; ok {
		c.lru.Remove(el)
		delete(c.entries, tenantID)
	}
}
