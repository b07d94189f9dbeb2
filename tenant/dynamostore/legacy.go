package dynamostore

import (
	"context"

	"github.com/logdelivery/logdelivery/tenant"
)

// NormalizeLegacy returns cfg as the reference implementation's processor
// reads it, where this library reads it otherwise: desired_logs [""] (one
// empty name) means every application there (models.DeliveryConfig's
// ApplicationEnabled), and is refused by tenant validation here (no
// application is named ""). NormalizeLegacy drops such a list, so that
// the config delivers every application. Other lists, including those
// holding "" next to real names, are returned unchanged and stay invalid.
func NormalizeLegacy(cfg tenant.DeliveryConfig) tenant.DeliveryConfig {
	if len(cfg.DesiredLogs) == 1 && cfg.DesiredLogs[0] == "" {
		cfg.DesiredLogs = nil
	}
	return cfg
}

// EmptyDesiredLogsMeanAll returns a store reading through s whose configs
// pass through NormalizeLegacy: the compatibility option for tables
// written for the reference's processor. When s is a tenant.Store, so is
// the result (writes go to s unchanged). Items are not rewritten: a
// config written back through a configuration API loses the [""].
func EmptyDesiredLogsMeanAll(s tenant.ConfigStore) tenant.ConfigStore {
	if st, ok := s.(tenant.Store); ok {
		return legacyStore{Store: st}
	}
	return legacyConfigs{s}
}

type legacyConfigs struct{ s tenant.ConfigStore }

func (l legacyConfigs) Configs(ctx context.Context, tenantID string) ([]tenant.DeliveryConfig, error) {
	cfgs, err := l.s.Configs(ctx, tenantID)
	return normalizeAll(cfgs), err
}

type legacyStore struct{ tenant.Store }

func (l legacyStore) Configs(ctx context.Context, tenantID string) ([]tenant.DeliveryConfig, error) {
	cfgs, err := l.Store.Configs(ctx, tenantID)
	return normalizeAll(cfgs), err
}

func (l legacyStore) Get(ctx context.Context, tenantID, typ string) (tenant.DeliveryConfig, error) {
	cfg, err := l.Store.Get(ctx, tenantID, typ)
	return NormalizeLegacy(cfg), err
}

func (l legacyStore) List(ctx context.Context, limit int, cursor string) ([]tenant.DeliveryConfig, string, error) {
	cfgs, next, err := l.Store.List(ctx, limit, cursor)
	return normalizeAll(cfgs), next, err
}

func normalizeAll(cfgs []tenant.DeliveryConfig) []tenant.DeliveryConfig {
	for i := range cfgs {
		cfgs[i] = NormalizeLegacy(cfgs[i])
	}
	return cfgs
}
