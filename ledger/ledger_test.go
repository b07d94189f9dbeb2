package ledger_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/ledger"
	"github.com/logdelivery/logdelivery/ledger/ledgertest"
)

func TestMemoryConformance(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T, now func() time.Time, ttl time.Duration) ledger.Ledger {
		return ledger.NewMemory(func(o *ledger.MemoryOptions) { o.Now, o.TTL = now, ttl })
	})
}

func TestFileConformance(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T, now func() time.Time, ttl time.Duration) ledger.Ledger {
		l, err := ledger.OpenFile(t.TempDir(), func(o *ledger.FileOptions) { o.Now, o.TTL = now, ttl })
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		return l
	})
}

// A File ledger survives its process: a new one over the same directory
// sees every entry; a corrupt entry is a retryable failure, never a skip.
func TestFileSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	k := ledger.Key{Bucket: "b", Object: "o", Tenant: "t", Destination: "s3"}
	l, err := ledger.OpenFile(dir)
	require.NoError(t, err)
	require.NoError(t, l.Done(context.Background(), k))
	require.NoError(t, l.Close())
	again, err := ledger.OpenFile(dir)
	require.NoError(t, err)
	defer again.Close()
	e, ok, err := again.Get(context.Background(), k)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, ledger.Done, e.State)

	require.NoError(t, os.WriteFile(dir+"/"+k.ID()+".json", []byte("{not json"), 0o644))
	_, _, err = again.Get(context.Background(), k)
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err))
}

func TestKeyID(t *testing.T) {
	a := ledger.Key{Bucket: "ab", Object: "c"}
	b := ledger.Key{Bucket: "a", Object: "bc"}
	assert.NotEqual(t, a.ID(), b.ID(), "fields are length-prefixed: no two keys share an id")
	assert.Len(t, a.ID(), 64)
	assert.Contains(t, ledger.Key{Bucket: "b", Object: "o", Version: "v", Tenant: "t", Destination: "d", Revision: "r"}.String(), "s3://b/o@v → t/d")
}
