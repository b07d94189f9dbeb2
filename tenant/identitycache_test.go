package tenant

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type countingIdentities struct {
	mu    sync.Mutex
	ids   map[string]Identity
	calls int
	fail  error
}

func (s *countingIdentities) Identity(_ context.Context, tenantID string) (Identity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		return Identity{}, s.fail
	}
	id, ok := s.ids[tenantID]
	if !ok {
		return Identity{}, fmt.Errorf("x: %w", ErrNoIdentity)
	}
	return id, nil
}

func TestIdentityCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	store := &countingIdentities{ids: map[string]Identity{"acme": {TenantID: "acme", Accounts: []string{"222222222222"}}}}
	c := NewIdentityCache(store, func(o *CacheOptions) {
		o.TTL, o.NegativeTTL = time.Minute, 10*time.Second
		o.Now = func() time.Time { return now }
	})
	ctx := context.Background()
	for range 3 {
		id, err := c.Identity(ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, []string{"222222222222"}, id.Accounts)
		id.Accounts[0] = "changed"
	}
	assert.Equal(t, 1, store.calls, "served from memory, as copies")

	_, err := c.Identity(ctx, "nobody")
	assert.ErrorIs(t, err, ErrNoIdentity)
	_, err = c.Identity(ctx, "nobody")
	assert.ErrorIs(t, err, ErrNoIdentity)
	assert.Equal(t, 2, store.calls, "no identity is remembered too")

	now = now.Add(11 * time.Second)
	_, _ = c.Identity(ctx, "nobody")
	assert.Equal(t, 3, store.calls, "for NegativeTTL only")

	store.fail = errors.New("throttled")
	now = now.Add(time.Minute)
	_, err = c.Identity(ctx, "acme")
	assert.ErrorContains(t, err, "throttled")
	store.fail = nil
	_, err = c.Identity(ctx, "acme")
	require.NoError(t, err, "errors are not remembered")

	c.Invalidate("acme")
	calls := store.calls
	_, _ = c.Identity(ctx, "acme")
	assert.Equal(t, calls+1, store.calls, "an invalidated tenant is loaded again")
}
