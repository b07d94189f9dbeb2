package ledger

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Memory is a Ledger in memory: for tests and single-process runs, whose
// guarantee ends with the process. It is safe for concurrent use.
type Memory struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]Entry
}

var _ Ledger = (*Memory)(nil)

// MemoryOptions configures a Memory ledger.
type MemoryOptions struct {
	// TTL is how long an entry is kept after its last change. Default:
	// DefaultTTL.
	TTL time.Duration
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// NewMemory returns an empty Memory ledger.
func NewMemory(optFns ...func(*MemoryOptions)) *Memory {
	o := MemoryOptions{TTL: DefaultTTL, Now: time.Now}
	for _, fn := range optFns {
		fn(&o)
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Memory{ttl: o.TTL, now: o.Now, entries: map[string]Entry{}}
}

// Get returns the entry of k.
func (m *Memory) Get(ctx context.Context, k Key) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[k.ID()]
	if !ok || m.now().Sub(e.Updated) >= m.ttl {
		return Entry{}, false, nil
	}
	e.Checkpoint = slices.Clone(e.Checkpoint)
	return e, true, nil
}

// Save records a checkpoint of k, unless k is Done.
func (m *Memory) Save(ctx context.Context, k Key, checkpoint []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id := k.ID()
	if e, ok := m.entries[id]; ok && e.State == Done && m.now().Sub(e.Updated) < m.ttl {
		return nil
	}
	m.entries[id] = Entry{State: Started, Checkpoint: slices.Clone(checkpoint), Updated: m.now()}
	return nil
}

// Done marks k complete.
func (m *Memory) Done(ctx context.Context, k Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[k.ID()] = Entry{State: Done, Updated: m.now()}
	return nil
}

// Len returns the number of entries held, expired ones included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
