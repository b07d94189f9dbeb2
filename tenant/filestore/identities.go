package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// Identities is a tenant.IdentityStore kept in a local JSON or YAML file
// (a list of identities: tenant_id, accounts, external_id), the operator's
// records for local and small deployments. The file is read by
// OpenIdentities; a file with an invalid identity is refused as a whole.
// Writes replace the file atomically. It is safe for concurrent use within
// one process.
type Identities struct {
	path string
	yaml bool

	mu  sync.RWMutex
	mem *memstore.Identities
	ids map[string]tenant.Identity
}

var _ tenant.IdentityStore = (*Identities)(nil)

// OpenIdentities reads the identity file at path (YAML when its name ends
// in .yaml or .yml). A missing file is an empty store, created on the first
// write.
func OpenIdentities(path string) (*Identities, error) {
	ext := strings.ToLower(filepath.Ext(path))
	s := &Identities{path: path, yaml: ext == ".yaml" || ext == ".yml"}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		data = []byte("[]")
	case err != nil:
		return nil, fmt.Errorf("filestore: %w", err)
	}
	if s.yaml {
		if data, err = yaml.YAMLToJSON(data); err != nil {
			return nil, fmt.Errorf("filestore: %s: not valid YAML: %w", path, err)
		}
	}
	if data = bytes.TrimSpace(data); len(data) == 0 || string(data) == "null" {
		data = []byte("[]")
	}
	var ids []tenant.Identity
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ids); err != nil {
		return nil, fmt.Errorf("filestore: %s: want a list of tenant identities: %w", path, err)
	}
	if s.mem, err = memstore.NewIdentities(ids...); err != nil {
		return nil, fmt.Errorf("filestore: %s: %w", path, err)
	}
	s.ids = map[string]tenant.Identity{}
	for _, id := range ids {
		s.ids[id.TenantID] = id.Clone()
	}
	return s, nil
}

// Identity returns the tenant's identity.
func (s *Identities) Identity(ctx context.Context, tenantID string) (tenant.Identity, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mem.Identity(ctx, tenantID)
}

// Put stores id, validated, and saves the file.
func (s *Identities) Put(ctx context.Context, id tenant.Identity) error {
	return s.update(ctx, func(ids map[string]tenant.Identity) error {
		if err := id.Validate(); err != nil {
			return fmt.Errorf("filestore: %w", err)
		}
		ids[id.TenantID] = id.Clone()
		return nil
	})
}

// Delete removes the tenant's identity and saves the file.
func (s *Identities) Delete(ctx context.Context, tenantID string) error {
	return s.update(ctx, func(ids map[string]tenant.Identity) error {
		delete(ids, tenantID)
		return nil
	})
}

// update applies fn to a copy of the identities and, once the file is
// saved, makes the copy current.
func (s *Identities) update(ctx context.Context, fn func(map[string]tenant.Identity) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]tenant.Identity, len(s.ids)+1)
	for k, v := range s.ids {
		next[k] = v.Clone()
	}
	if err := fn(next); err != nil {
		return err
	}
	list := make([]tenant.Identity, 0, len(next))
	for _, id := range next {
		list = append(list, id)
	}
	slices.SortFunc(list, func(a, b tenant.Identity) int { return strings.Compare(a.TenantID, b.TenantID) })
	mem, err := memstore.NewIdentities(list...)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if s.yaml {
		if data, err = yaml.JSONToYAML(data); err != nil {
			return err
		}
	}
	if err := writeAtomic(s.path, data); err != nil {
		return err
	}
	s.mem, s.ids = mem, next
	return nil
}

// writeAtomic replaces the file at path with data: written to a temporary
// file in the same directory, synced, then renamed over it.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("filestore: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("filestore: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	return nil
}
