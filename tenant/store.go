package tenant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ConfigStore looks up the delivery configurations of a tenant. It is all
// the dispatcher needs of a store.
type ConfigStore interface {
	// Configs returns every delivery configuration of the tenant, ordered
	// by type (as strings compare: "s3" < "s3-eu" < "s3:archive"): an
	// empty, non-nil slice and a nil error when it has none. Disabled and
	// expired configs are returned too; callers decide what to do with
	// them. The configs are the caller's: changing them changes nothing
	// stored.
	//
	// When some stored items cannot be decoded, Configs returns the others
	// together with an *ItemsError naming the bad ones, so that one broken
	// item never hides a tenant's valid destinations.
	//
	// A lookup that needs a call to a backend fails when ctx is done; a
	// store that answers from memory (a Cache) may answer anyway. The
	// conformance suite is storetest.RunConfigStore.
	Configs(ctx context.Context, tenantID string) ([]DeliveryConfig, error)
}

// Store is a ConfigStore that can also be written, as configuration APIs
// need. Implementations set CreatedAt and UpdatedAt themselves.
type Store interface {
	ConfigStore

	// Get returns one configuration, or an error wrapping ErrNotFound.
	Get(ctx context.Context, tenantID, typ string) (DeliveryConfig, error)
	// Create stores a new configuration and returns it as stored. It fails
	// with ErrExists when the tenant already has one of that type.
	Create(ctx context.Context, cfg DeliveryConfig) (DeliveryConfig, error)
	// Replace overwrites an existing configuration and returns it as stored.
	// It fails with ErrNotFound when there is none, and with ErrConflict when
	// cond.IfUpdatedAt is set and differs from the stored UpdatedAt.
	Replace(ctx context.Context, cfg DeliveryConfig, cond Condition) (DeliveryConfig, error)
	// Delete removes a configuration. It fails with ErrNotFound when there is
	// none and with ErrConflict as Replace does.
	Delete(ctx context.Context, tenantID, typ string, cond Condition) error
	// List returns up to limit configurations of all tenants, ordered by
	// tenant id then type, starting after cursor (empty: from the start),
	// and the cursor of the next page ("" after the last page). Cursors are
	// opaque strings.
	List(ctx context.Context, limit int, cursor string) (configs []DeliveryConfig, next string, err error)
}

// Condition guards a write.
type Condition struct {
	// IfUpdatedAt, when set, must equal the stored UpdatedAt.
	IfUpdatedAt string
}

// Sentinel errors of stores, matched with errors.Is.
var (
	ErrNotFound = errors.New("delivery config not found")
	ErrExists   = errors.New("delivery config already exists")
	ErrConflict = errors.New("delivery config was changed concurrently")
	// ErrInvalidCursor is returned by List for a cursor it did not issue.
	ErrInvalidCursor = errors.New("invalid list cursor")
)

// ItemError is a stored item that could not be decoded or is invalid.
type ItemError struct {
	TenantID string
	Type     string // sort key, when it could be read
	Err      error
}

func (e *ItemError) Error() string {
	return fmt.Sprintf("delivery config %s/%s: %v", e.TenantID, e.Type, e.Err)
}

func (e *ItemError) Unwrap() error { return e.Err }

// ItemsError lists the items of a lookup that could not be used.
type ItemsError struct {
	Items []*ItemError
}

func (e *ItemsError) Error() string {
	msgs := make([]string, len(e.Items))
	for i, it := range e.Items {
		msgs[i] = it.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap returns the item errors, for errors.Is and errors.As.
func (e *ItemsError) Unwrap() []error {
	errs := make([]error, len(e.Items))
	for i, it := range e.Items {
		errs[i] = it
	}
	return errs
}

// Stamp returns the CreatedAt and UpdatedAt a store writes for a config
// replacing old (exists false: a new config) at now. UpdatedAt is RFC 3339
// with nanoseconds in UTC and always differs from old.UpdatedAt, so that it
// can serve as a version for conditional writes.
func Stamp(old DeliveryConfig, exists bool, now time.Time) (createdAt, updatedAt string) {
	now = now.UTC()
	updatedAt = now.Format(time.RFC3339Nano)
	for exists && updatedAt == old.UpdatedAt {
		now = now.Add(time.Nanosecond)
		updatedAt = now.Format(time.RFC3339Nano)
	}
	createdAt = updatedAt
	if exists && old.CreatedAt != "" {
		createdAt = old.CreatedAt
	}
	return createdAt, updatedAt
}
