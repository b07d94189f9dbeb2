// Package memstore is an in-memory tenant.Store, for tests and for
// embedding small static configurations.
package memstore

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/logdelivery/logdelivery/tenant"
)

// Options configures a Store.
type Options struct {
	// Now returns the current time, for CreatedAt and UpdatedAt.
	// Default: time.Now.
	Now func() time.Time
}

// Store is an in-memory tenant.Store. It is safe for concurrent use.
type Store struct {
	opts Options

	mu    sync.RWMutex
	items map[itemKey]tenant.DeliveryConfig
}

type itemKey struct{ tenantID, typ string }

var _ tenant.Store = (*Store)(nil)

// New returns a Store holding copies of configs, stored as given
// (timestamps untouched). Two configs with the same tenant and type are an
// error.
func New(configs []tenant.DeliveryConfig, optFns ...func(*Options)) (*Store, error) {
	s := &Store{items: make(map[itemKey]tenant.DeliveryConfig, len(configs))}
	for _, fn := range optFns {
		fn(&s.opts)
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	for _, c := range configs {
		k := itemKey{c.TenantID, c.Type}
		if _, dup := s.items[k]; dup {
			return nil, fmt.Errorf("memstore: %s/%s: %w", c.TenantID, c.Type, tenant.ErrExists)
		}
		s.items[k] = c.Clone()
	}
	return s, nil
}

// Configs returns the tenant's configurations ordered by type.
func (s *Store) Configs(ctx context.Context, tenantID string) ([]tenant.DeliveryConfig, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []tenant.DeliveryConfig{}
	for k, c := range s.items {
		if k.tenantID == tenantID {
			out = append(out, c.Clone())
		}
	}
	slices.SortFunc(out, func(a, b tenant.DeliveryConfig) int { return cmp.Compare(a.Type, b.Type) })
	return out, nil
}

// Get returns one configuration.
func (s *Store) Get(ctx context.Context, tenantID, typ string) (tenant.DeliveryConfig, error) {
	if err := ctx.Err(); err != nil {
		return tenant.DeliveryConfig{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.items[itemKey{tenantID, typ}]
	if !ok {
		return tenant.DeliveryConfig{}, fmt.Errorf("%s/%s: %w", tenantID, typ, tenant.ErrNotFound)
	}
	return c.Clone(), nil
}

// Create stores a new configuration.
func (s *Store) Create(ctx context.Context, cfg tenant.DeliveryConfig) (tenant.DeliveryConfig, error) {
	return s.write(ctx, cfg, func(old tenant.DeliveryConfig, exists bool) error {
		if exists {
			return tenant.ErrExists
		}
		return nil
	})
}

// Replace overwrites an existing configuration.
func (s *Store) Replace(ctx context.Context, cfg tenant.DeliveryConfig, cond tenant.Condition) (tenant.DeliveryConfig, error) {
	return s.write(ctx, cfg, func(old tenant.DeliveryConfig, exists bool) error {
		return check(old, exists, cond)
	})
}

// Delete removes a configuration.
func (s *Store) Delete(ctx context.Context, tenantID, typ string, cond tenant.Condition) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := itemKey{tenantID, typ}
	old, exists := s.items[k]
	if err := check(old, exists, cond); err != nil {
		return fmt.Errorf("%s/%s: %w", tenantID, typ, err)
	}
	delete(s.items, k)
	return nil
}

// List returns a page of all configurations.
func (s *Store) List(ctx context.Context, limit int, cursor string) ([]tenant.DeliveryConfig, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		return nil, "", fmt.Errorf("memstore: list limit %d must be positive", limit)
	}
	var after itemKey
	if cursor != "" {
		var err error
		if after, err = decodeCursor(cursor); err != nil {
			return nil, "", err
		}
	}
	s.mu.RLock()
	keys := make([]itemKey, 0, len(s.items))
	for k := range s.items {
		if cursor == "" || compareKeys(k, after) > 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareKeys)
	next := ""
	if len(keys) > limit {
		keys = keys[:limit]
		next = encodeCursor(keys[limit-1])
	}
	out := make([]tenant.DeliveryConfig, len(keys))
	for i, k := range keys {
		out[i] = s.items[k].Clone()
	}
	s.mu.RUnlock()
	return out, next, nil
}

// All returns every configuration, ordered by tenant and type.
func (s *Store) All() []tenant.DeliveryConfig {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]tenant.DeliveryConfig, 0, len(s.items))
	for _, c := range s.items {
		out = append(out, c.Clone())
	}
	slices.SortFunc(out, func(a, b tenant.DeliveryConfig) int {
		return compareKeys(itemKey{a.TenantID, a.Type}, itemKey{b.TenantID, b.Type})
	})
	return out
}

func (s *Store) write(ctx context.Context, cfg tenant.DeliveryConfig, precond func(old tenant.DeliveryConfig, exists bool) error) (tenant.DeliveryConfig, error) {
	if err := ctx.Err(); err != nil {
		return tenant.DeliveryConfig{}, err
	}
	if cfg.TenantID == "" || cfg.Type == "" {
		return tenant.DeliveryConfig{}, fmt.Errorf("memstore: tenant_id and type are required: %w", tenant.ErrInvalidConfig)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := itemKey{cfg.TenantID, cfg.Type}
	old, exists := s.items[k]
	if err := precond(old, exists); err != nil {
		return tenant.DeliveryConfig{}, fmt.Errorf("%s/%s: %w", cfg.TenantID, cfg.Type, err)
	}
	cfg = cfg.Clone()
	cfg.CreatedAt, cfg.UpdatedAt = tenant.Stamp(old, exists, s.opts.Now())
	s.items[k] = cfg
	return cfg.Clone(), nil
}

func check(old tenant.DeliveryConfig, exists bool, cond tenant.Condition) error {
	if !exists {
		return tenant.ErrNotFound
	}
	if cond.IfUpdatedAt != "" && cond.IfUpdatedAt != old.UpdatedAt {
		return tenant.ErrConflict
	}
	return nil
}

func compareKeys(a, b itemKey) int {
	if c := cmp.Compare(a.tenantID, b.tenantID); c != 0 {
		return c
	}
	return cmp.Compare(a.typ, b.typ)
}

func encodeCursor(k itemKey) string {
	return base64.RawURLEncoding.EncodeToString([]byte(k.tenantID + "\x00" + k.typ))
}

func decodeCursor(c string) (itemKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return itemKey{}, tenant.ErrInvalidCursor
	}
	t, typ, ok := strings.Cut(string(b), "\x00")
	if !ok {
		return itemKey{}, tenant.ErrInvalidCursor
	}
	return itemKey{t, typ}, nil
}
