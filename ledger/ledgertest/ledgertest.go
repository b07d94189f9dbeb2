// Package ledgertest is the conformance suite of ledger.Ledger
// implementations. Every ledger of this module runs it; run it against your
// own too:
//
//	ledgertest.Run(t, func(t *testing.T, now func() time.Time, ttl time.Duration) ledger.Ledger { … })
package ledgertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/ledger"
)

// Open returns a new, empty ledger whose clock is now and whose entries
// live for ttl.
type Open func(t *testing.T, now func() time.Time, ttl time.Duration) ledger.Ledger

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func key(obj string) ledger.Key {
	return ledger.Key{Bucket: "central", Object: obj, Version: "v1", Tenant: "acme", Destination: "cloudwatch", Revision: "r1"}
}

// Run runs the suite.
func Run(t *testing.T, open Open) {
	fresh := func(t *testing.T) (ledger.Ledger, *clock) {
		c := &clock{t: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)}
		return open(t, c.now, time.Hour), c
	}
	t.Run("Missing", func(t *testing.T) {
		l, _ := fresh(t)
		_, ok, err := l.Get(ctx(t), key("a"))
		require.NoError(t, err)
		assert.False(t, ok)
	})
	t.Run("SaveThenDone", func(t *testing.T) {
		l, _ := fresh(t)
		k := key("c1/acme/app/pod/f.gz")
		require.NoError(t, l.Save(ctx(t), k, []byte(`{"s":10}`)))
		e, ok, err := l.Get(ctx(t), k)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, ledger.Started, e.State)
		assert.Equal(t, []byte(`{"s":10}`), e.Checkpoint)
		require.NoError(t, l.Save(ctx(t), k, []byte(`{"s":20}`)))
		e, _, _ = l.Get(ctx(t), k)
		assert.Equal(t, []byte(`{"s":20}`), e.Checkpoint, "a save replaces the checkpoint")
		require.NoError(t, l.Done(ctx(t), k))
		e, ok, err = l.Get(ctx(t), k)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, ledger.Done, e.State)
		require.NoError(t, l.Save(ctx(t), k, []byte(`{"s":1}`)))
		e, _, _ = l.Get(ctx(t), k)
		assert.Equal(t, ledger.Done, e.State, "a late save never undoes Done")
	})
	t.Run("DoneWithoutSave", func(t *testing.T) {
		l, _ := fresh(t)
		require.NoError(t, l.Done(ctx(t), key("b")))
		e, ok, err := l.Get(ctx(t), key("b"))
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, ledger.Done, e.State)
	})
	t.Run("EveryFieldCounts", func(t *testing.T) {
		l, _ := fresh(t)
		base := key("x")
		require.NoError(t, l.Done(ctx(t), base))
		for name, k := range map[string]ledger.Key{
			"bucket":      {Bucket: "other", Object: "x", Version: "v1", Tenant: "acme", Destination: "cloudwatch", Revision: "r1"},
			"object":      key("y"),
			"version":     {Bucket: "central", Object: "x", Version: "v2", Tenant: "acme", Destination: "cloudwatch", Revision: "r1"},
			"tenant":      {Bucket: "central", Object: "x", Version: "v1", Tenant: "globex", Destination: "cloudwatch", Revision: "r1"},
			"destination": {Bucket: "central", Object: "x", Version: "v1", Tenant: "acme", Destination: "s3", Revision: "r1"},
			"revision":    {Bucket: "central", Object: "x", Version: "v1", Tenant: "acme", Destination: "cloudwatch", Revision: "r2"},
			"ambiguous":   {Bucket: "centralx", Object: "", Version: "v1", Tenant: "acme", Destination: "cloudwatch", Revision: "r1"},
		} {
			_, ok, err := l.Get(ctx(t), k)
			require.NoError(t, err)
			assert.False(t, ok, "another %s is another delivery", name)
		}
	})
	t.Run("AwkwardKeys", func(t *testing.T) {
		l, _ := fresh(t)
		k := ledger.Key{Bucket: "central", Object: "c 1/ümlaut/../%2F/" + string(make([]byte, 900)), Tenant: "acme", Destination: "s3:archive"}
		require.NoError(t, l.Save(ctx(t), k, make([]byte, 64<<10)))
		e, ok, err := l.Get(ctx(t), k)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Len(t, e.Checkpoint, 64<<10, "a 64 KiB checkpoint fits")
	})
	t.Run("ReturnsCopies", func(t *testing.T) {
		l, _ := fresh(t)
		cp := []byte("abc")
		require.NoError(t, l.Save(ctx(t), key("c"), cp))
		cp[0] = 'x'
		e, _, _ := l.Get(ctx(t), key("c"))
		assert.Equal(t, []byte("abc"), e.Checkpoint)
		e.Checkpoint[0] = 'y'
		e, _, _ = l.Get(ctx(t), key("c"))
		assert.Equal(t, []byte("abc"), e.Checkpoint)
	})
	t.Run("Expiry", func(t *testing.T) {
		l, c := fresh(t)
		require.NoError(t, l.Done(ctx(t), key("d")))
		c.add(59 * time.Minute)
		_, ok, err := l.Get(ctx(t), key("d"))
		require.NoError(t, err)
		assert.True(t, ok, "kept for its TTL")
		c.add(2 * time.Minute)
		_, ok, err = l.Get(ctx(t), key("d"))
		require.NoError(t, err)
		assert.False(t, ok, "gone after it")
	})
	t.Run("Concurrent", func(t *testing.T) {
		l, _ := fresh(t)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				k := key(fmt.Sprintf("o%d", i%4))
				for j := range 10 {
					assert.NoError(t, l.Save(ctx(t), k, []byte(fmt.Sprint(j))))
				}
				assert.NoError(t, l.Done(ctx(t), k))
			})
		}
		wg.Wait()
		for i := range 4 {
			e, ok, err := l.Get(ctx(t), key(fmt.Sprintf("o%d", i)))
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, ledger.Done, e.State)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		l, _ := fresh(t)
		c, cancel := context.WithCancel(context.Background())
		cancel()
		_, _, err := l.Get(c, key("e"))
		assert.Error(t, err)
		assert.Error(t, l.Done(c, key("e")))
	})
}
