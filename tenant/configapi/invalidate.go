package configapi

import (
	"context"

	"github.com/logdelivery/logdelivery/tenant"
)

// Invalidator drops a tenant's cached configurations; a *tenant.Cache is
// one.
type Invalidator interface {
	Invalidate(tenantID string)
}

// invalidating is a store that invalidates the tenant of every write, so
// that a cache in front of the same store serves the write at once.
type invalidating struct {
	tenant.Store
	inv Invalidator
}

// Every write invalidates, whatever its outcome: a write that failed with
// a timeout may have happened.

func (s invalidating) Create(ctx context.Context, cfg tenant.DeliveryConfig) (tenant.DeliveryConfig, error) {
	defer s.inv.Invalidate(cfg.TenantID)
	return s.Store.Create(ctx, cfg)
}

func (s invalidating) Replace(ctx context.Context, cfg tenant.DeliveryConfig, cond tenant.Condition) (tenant.DeliveryConfig, error) {
	defer s.inv.Invalidate(cfg.TenantID)
	return s.Store.Replace(ctx, cfg, cond)
}

func (s invalidating) Delete(ctx context.Context, tenantID, typ string, cond tenant.Condition) error {
	defer s.inv.Invalidate(tenantID)
	return s.Store.Delete(ctx, tenantID, typ, cond)
}
