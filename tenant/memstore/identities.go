package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/logdelivery/logdelivery/tenant"
)

// Identities is an in-memory tenant.IdentityStore with the writes an
// operator needs. It is safe for concurrent use.
type Identities struct {
	mu  sync.RWMutex
	ids map[string]tenant.Identity
}

var _ tenant.IdentityStore = (*Identities)(nil)

// NewIdentities returns a store holding copies of ids, each validated. Two
// identities of one tenant are an error.
func NewIdentities(ids ...tenant.Identity) (*Identities, error) {
	s := &Identities{ids: make(map[string]tenant.Identity, len(ids))}
	for _, id := range ids {
		if err := id.Validate(); err != nil {
			return nil, fmt.Errorf("memstore: %w", err)
		}
		if _, dup := s.ids[id.TenantID]; dup {
			return nil, fmt.Errorf("memstore: two identities of tenant %q", id.TenantID)
		}
		s.ids[id.TenantID] = id.Clone()
	}
	return s, nil
}

// Identity returns a copy of the tenant's identity.
func (s *Identities) Identity(ctx context.Context, tenantID string) (tenant.Identity, error) {
	if err := ctx.Err(); err != nil {
		return tenant.Identity{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.ids[tenantID]
	if !ok {
		return tenant.Identity{}, fmt.Errorf("memstore: tenant %q: %w", tenantID, tenant.ErrNoIdentity)
	}
	return id.Clone(), nil
}

// Put stores id, validated, replacing the tenant's identity if any.
func (s *Identities) Put(ctx context.Context, id tenant.Identity) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := id.Validate(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[id.TenantID] = id.Clone()
	return nil
}

// Delete removes the tenant's identity.
func (s *Identities) Delete(ctx context.Context, tenantID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, tenantID)
	return nil
}
