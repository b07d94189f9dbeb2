package logdelivery_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/limits"
	"github.com/logdelivery/logdelivery/tenant/filestore"
)

// Configs and overrides reloaded while deliveries run: every delivery
// sees a valid version of each, never an invalid one, and once invalid
// versions are written, behaviour stays that of the last good ones.
func TestReloadUnderConcurrentDeliveries(t *testing.T) {
	dir := t.TempDir()
	configsPath, overridesPath := filepath.Join(dir, "configs.yaml"), filepath.Join(dir, "overrides.yaml")
	write := func(path, s string) {
		tmp := path + ".tmp"
		require.NoError(t, os.WriteFile(tmp, []byte(s), 0o600))
		require.NoError(t, os.Rename(tmp, path))
	}
	configs := []string{
		"- {tenant_id: acme, type: rec}\n",
		"- {tenant_id: acme, type: rec}\n- {tenant_id: acme, type: \"rec:two\"}\n",
	}
	const badConfigs = "- {tenant_id: acme, type: rec}\n- {tenant_id: acme, type: kafka}\n- {tenant_id: acme}\n"
	overrides := []string{
		"overrides: {acme: {events_per_second: 1000000, events_burst: 1000000}}\n",
		"overrides: {acme: {events_per_second: 2000000, events_burst: 1000000, max_concurrent_deliveries: 8}}\n",
	}
	const badOverrides = "overrides: {acme: {events_per_second: 1, max_concurrent_deliveries: -1, rate: 3}}\n"
	write(configsPath, configs[0])
	write(overridesPath, overrides[0])

	dl := &counting{}
	kinds := recordKinds(t, map[string]deliver.Deliverer{"rec": dl})
	store, err := filestore.Open(configsPath, func(o *filestore.Options) { o.Validator = kinds })
	require.NoError(t, err)
	lim, err := limits.New()
	require.NoError(t, err)
	of, err := limits.OpenOverridesFile(overridesPath, lim)
	require.NoError(t, err)
	objects := newObjects()
	key := objects.add(t, "c1/acme/shop/pod/1764496800-a.json.gz", 20)
	d, err := logdelivery.NewDispatcher(store, kinds, func(o *logdelivery.Options) { o.Opener, o.Limits = objects, lim })
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				rs := d.Dispatch(context.Background(), obj("m", key))
				if !assert.NotEmpty(t, rs) {
					return
				}
				for _, r := range rs {
					if !assert.Equal(t, logdelivery.Delivered, r.Outcome, "%s: %v", r.Destination, r.Err) {
						return
					}
					assert.Contains(t, []string{"rec", "rec:two"}, r.Destination)
				}
			}
		})
	}
	for i := range 60 {
		switch i % 3 {
		case 0:
			write(configsPath, configs[i%2])
			write(overridesPath, overrides[i%2])
		case 1:
			write(configsPath, badConfigs)
			write(overridesPath, badOverrides)
		case 2:
			write(configsPath, configs[(i+1)%2])
			write(overridesPath, overrides[(i+1)%2])
		}
		_, _ = store.Check()
		_, _ = of.Check()
	}
	cancel()
	wg.Wait()

	// The last good versions, then invalid ones: nothing changes.
	write(configsPath, configs[1])
	write(overridesPath, overrides[1])
	_, err = store.Check()
	require.NoError(t, err)
	_, err = of.Check()
	require.NoError(t, err)
	before := d.Dispatch(context.Background(), obj("m", key))
	require.Len(t, before, 2)
	limitsBefore := lim.Limits("acme", "rec")

	write(configsPath, badConfigs)
	write(overridesPath, badOverrides)
	_, err = store.Check()
	var ie *filestore.InvalidError
	require.ErrorAs(t, err, &ie)
	assert.Len(t, ie.Items, 2, "every unusable item named")
	_, err = of.Check()
	var ve *limits.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Len(t, ve.Problems, 2, "every problem named")

	after := d.Dispatch(context.Background(), obj("m", key))
	require.Len(t, after, 2)
	for i := range after {
		assert.Equal(t, before[i].Destination, after[i].Destination)
		assert.Equal(t, logdelivery.Delivered, after[i].Outcome)
		assert.Equal(t, int64(20), after[i].Receipt.Events)
	}
	assert.Equal(t, limitsBefore, lim.Limits("acme", "rec"))
	assert.Equal(t, limits.Limits{EventsPerSecond: 2000000, EventsBurst: 1000000, MaxConcurrentDeliveries: 8}, limitsBefore)
}
