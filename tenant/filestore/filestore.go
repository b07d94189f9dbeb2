// Package filestore is a tenant.Store kept in a local JSON or YAML file: a
// list of delivery configurations with the same field names as the DynamoDB
// items. It is the embedded default of the local example and suits small,
// version-controlled deployments.
//
// The file is read when the store is opened and by Reload; Watch (or
// Check) keeps the store in step with the file with last-good semantics:
// a new version is applied as a whole only when every item of it is
// usable, and refused otherwise, the store serving the last good version.
// Writes replace the file atomically (write to a temporary file, then
// rename), preserving items the store could not decode.
package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/logdelivery/logdelivery/internal/reload"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// Options configures a Store.
type Options struct {
	// Now returns the current time, for CreatedAt and UpdatedAt.
	// Default: time.Now.
	Now func() time.Time
	// Create makes Open start from an empty store when the file does not
	// exist; the file is created on the first write. Default: false (a
	// missing file is an error).
	Create bool
	// ReloadInterval is how often Watch checks the file. Default: 10s.
	ReloadInterval time.Duration
	// ReloadObserver is told the outcome of every new version Check (and
	// Watch) finds, for metrics (metrics.Reloads is one). Default: none.
	ReloadObserver ReloadObserver
	// Logger receives a line per new version applied (Info) or refused
	// (Error, naming every problem). Default: discard.
	Logger *slog.Logger
	// Validator, when set, checks every enabled, unexpired item as the
	// processor will (pass its deliver.Registry); items it refuses are
	// reported like undecodable ones (Problems, and a *tenant.ItemsError
	// from Configs) instead of being served. Default: nil, items are only
	// decoded.
	Validator tenant.Validator
}

// Store is a tenant.Store backed by a file. It is safe for concurrent use
// within one process; it does not lock the file against other processes.
type Store struct {
	path string
	opts Options

	mu   sync.RWMutex // guards mem, bad and the file
	mem  *memstore.Store
	bad  []badItem
	yaml bool
	// loaded is the content of the file the store holds: read by Open,
	// Reload or Check, or written by the store itself.
	loaded  []byte
	watcher *reload.Watcher
}

// badItem is an item of the file that could not be used, kept verbatim so
// that writes do not lose it.
type badItem struct {
	raw json.RawMessage
	err *tenant.ItemError
}

var _ tenant.Store = (*Store)(nil)

// Open reads the file at path: YAML when its name ends in .yaml or .yml,
// JSON otherwise. Items that cannot be decoded do not fail Open: they are
// reported by Problems and by Configs for their tenant.
func Open(path string, optFns ...func(*Options)) (*Store, error) {
	s := &Store{path: path}
	for _, fn := range optFns {
		fn(&s.opts)
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	ext := strings.ToLower(filepath.Ext(path))
	s.yaml = ext == ".yaml" || ext == ".yml"
	if err := s.Reload(); err != nil {
		return nil, err
	}
	if err := s.newWatcher(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads the file, replacing what the store holds. It holds the
// store's lock from the read to the swap, so that a write of this store
// (which saves the file under the same lock) is never lost to a reload
// that read the file before it.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) && s.opts.Create {
		data = []byte("[]")
		err = nil
	}
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	mem, bad, err := parse(data, s.yaml, s.check, func(o *memstore.Options) { o.Now = s.opts.Now })
	if err != nil {
		return fmt.Errorf("filestore: %s: %w", s.path, err)
	}
	s.mem, s.bad, s.loaded = mem, bad, data
	return nil
}

// parse decodes a configuration file's content into a memstore, returning
// the items it could not use separately. It fails only when the document as
// a whole is not a list.
func parse(data []byte, isYAML bool, check func(tenant.DeliveryConfig) error, optFns ...func(*memstore.Options)) (*memstore.Store, []badItem, error) {
	if isYAML {
		var err error
		if data, err = yaml.YAMLToJSON(data); err != nil {
			return nil, nil, fmt.Errorf("not valid YAML: %w", err)
		}
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || string(data) == "null" {
		data = []byte("[]")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, nil, fmt.Errorf("want a list of delivery configs: %w", err)
	}
	var configs []tenant.DeliveryConfig
	var bad []badItem
	seen := map[[2]string]bool{}
	for i, raw := range raws {
		c, err := decodeItem(raw)
		if err == nil && seen[[2]string{c.TenantID, c.Type}] {
			err = tenant.ErrExists
		}
		if err == nil {
			err = check(c)
		}
		if err != nil {
			bad = append(bad, badItem{raw: raw, err: &tenant.ItemError{
				TenantID: c.TenantID, Type: c.Type, Err: fmt.Errorf("item %d: %w", i+1, err),
			}})
			continue
		}
		seen[[2]string{c.TenantID, c.Type}] = true
		configs = append(configs, c)
	}
	mem, err := memstore.New(configs, optFns...)
	if err != nil {
		return nil, nil, err
	}
	return mem, bad, nil
}

// decodeItem decodes one item (see tenant.DecodeObject; whether its
// settings are those of its kind is the registry's to say). On error the
// returned config still carries the tenant and type when they could be
// read.
func decodeItem(raw json.RawMessage) (tenant.DeliveryConfig, error) {
	var c tenant.DeliveryConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		var keys struct {
			TenantID any `json:"tenant_id"`
			Type     any `json:"type"`
		}
		_ = json.Unmarshal(raw, &keys)
		t, _ := keys.TenantID.(string)
		typ, _ := keys.Type.(string)
		return tenant.DeliveryConfig{TenantID: t, Type: typ}, err
	}
	if c.TenantID == "" || c.Type == "" {
		return c, errors.New("tenant_id and type are required")
	}
	return c, nil
}

// check validates an item with the Validator, if any.
func (s *Store) check(c tenant.DeliveryConfig) error {
	if s.opts.Validator == nil || !c.IsEnabled() || c.Expired(s.opts.Now()) {
		return nil
	}
	return s.opts.Validator.Validate(c)
}

// Problems returns the items of the file that could not be used.
func (s *Store) Problems() []*tenant.ItemError {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*tenant.ItemError, len(s.bad))
	for i, b := range s.bad {
		out[i] = b.err
	}
	return out
}

// Configs returns the tenant's configurations, with an *tenant.ItemsError
// for those of its items that could not be decoded.
func (s *Store) Configs(ctx context.Context, tenantID string) ([]tenant.DeliveryConfig, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	configs, err := s.mem.Configs(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var itemErrs []*tenant.ItemError
	for _, b := range s.bad {
		if b.err.TenantID == tenantID {
			itemErrs = append(itemErrs, b.err)
		}
	}
	if len(itemErrs) > 0 {
		return configs, &tenant.ItemsError{Items: itemErrs}
	}
	return configs, nil
}

// Get returns one configuration.
func (s *Store) Get(ctx context.Context, tenantID, typ string) (tenant.DeliveryConfig, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mem.Get(ctx, tenantID, typ)
}

// List returns a page of all configurations.
func (s *Store) List(ctx context.Context, limit int, cursor string) ([]tenant.DeliveryConfig, string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mem.List(ctx, limit, cursor)
}

// Create stores a new configuration and saves the file.
func (s *Store) Create(ctx context.Context, cfg tenant.DeliveryConfig) (tenant.DeliveryConfig, error) {
	var out tenant.DeliveryConfig
	err := s.update(func(m *memstore.Store) (err error) {
		out, err = m.Create(ctx, cfg)
		return err
	})
	return out, err
}

// Replace overwrites a configuration and saves the file.
func (s *Store) Replace(ctx context.Context, cfg tenant.DeliveryConfig, cond tenant.Condition) (tenant.DeliveryConfig, error) {
	var out tenant.DeliveryConfig
	err := s.update(func(m *memstore.Store) (err error) {
		out, err = m.Replace(ctx, cfg, cond)
		return err
	})
	return out, err
}

// Delete removes a configuration and saves the file.
func (s *Store) Delete(ctx context.Context, tenantID, typ string, cond tenant.Condition) error {
	return s.update(func(m *memstore.Store) error { return m.Delete(ctx, tenantID, typ, cond) })
}

// update applies fn to a copy of the store and, when the file is saved,
// makes the copy current: a failed save changes nothing.
func (s *Store) update(fn func(*memstore.Store) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, err := memstore.New(s.mem.All(), func(o *memstore.Options) { o.Now = s.opts.Now })
	if err != nil {
		return err
	}
	if err := fn(next); err != nil {
		return err
	}
	if err := s.save(next); err != nil {
		return err
	}
	s.mem = next
	return nil
}

func (s *Store) save(m *memstore.Store) error {
	items := make([]json.RawMessage, 0, len(s.bad))
	for _, c := range m.All() {
		raw, err := json.Marshal(c)
		if err != nil {
			return err
		}
		items = append(items, raw)
	}
	for _, b := range s.bad {
		items = append(items, b.raw)
	}
	data, err := json.MarshalIndent(items, "", "  ")
	if err != nil {
		return err
	}
	if s.yaml {
		if data, err = yaml.JSONToYAML(data); err != nil {
			return err
		}
	} else {
		data = append(data, '\n')
	}
	if err := writeAtomic(s.path, data); err != nil {
		return err
	}
	s.loaded = data
	return nil
}
