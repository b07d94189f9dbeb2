package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/limits"
)

type recordedReloads struct{ errs []error }

func (r *recordedReloads) Reloaded(_ string, err error) { r.errs = append(r.errs, err) }

func TestReadLive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "overrides.yaml")
	require.NoError(t, os.WriteFile(path, []byte("overrides:\n  acme:\n    events_per_second: 500\n    kinds: {cloudwatch: {max_concurrent_deliveries: 2}}\n"), 0o600))
	env := map[string]string{"LIMITS_FILE": path, "LIMITS_MAX_WAIT": "2s", "CONFIG_RELOAD_INTERVAL": "5ms"}
	getenv := func(k string) string { return env[k] }
	logger := slog.New(slog.DiscardHandler)

	lv, err := readLive(getenv, logger)
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, lv.limiter.MaxWait())
	assert.Equal(t, limits.Limits{EventsPerSecond: 500, MaxConcurrentDeliveries: 2}, lv.limiter.Limits("acme", "cloudwatch"))
	assert.Equal(t, []string{limits.SourceOverrides}, lv.sources)

	// The file is polled: a valid version is applied, an invalid one
	// refused (the last good one stays), and observed either way.
	rec := &recordedReloads{}
	lv.observers.add(nil, rec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lv.watch(ctx)
	require.NoError(t, os.WriteFile(path, []byte("overrides: {acme: {events_per_second: 10, kinds: {kafka: {}}}}\n"), 0o600))
	deadline := time.Now().Add(10 * time.Second)
	for lv.overrides.Status().Err == nil {
		require.True(t, time.Now().Before(deadline), "the invalid version was not seen")
		time.Sleep(5 * time.Millisecond)
	}
	assert.ErrorContains(t, lv.overrides.Status().Err, "overrides.acme.kinds.kafka: unknown destination kind")
	assert.Equal(t, 500.0, lv.limiter.Limits("acme", "cloudwatch").EventsPerSecond, "the last good version stays")
	require.NoError(t, os.WriteFile(path, []byte("overrides: {acme: {events_per_second: 10}}\n"), 0o600))
	for lv.limiter.Limits("acme", "cloudwatch").EventsPerSecond != 10 {
		require.True(t, time.Now().Before(deadline), "the valid version was not applied")
		time.Sleep(5 * time.Millisecond)
	}
	cancel()

	// An invalid file fails the start.
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("overrides: {acme: {rate: 1}}"), 0o600))
	env["LIMITS_FILE"] = bad
	_, err = readLive(getenv, logger)
	assert.ErrorContains(t, err, "overrides.acme.rate: unknown limit")
	env["LIMITS_FILE"] = filepath.Join(dir, "missing.yaml")
	_, err = readLive(getenv, logger)
	assert.True(t, errors.Is(err, os.ErrNotExist), "%v", err)

	for k, v := range map[string]string{"LIMITS_MAX_WAIT": "soon", "CONFIG_RELOAD_INTERVAL": "-1s"} {
		env = map[string]string{"LIMITS_FILE": path, k: v}
		_, err = readLive(getenv, logger)
		assert.ErrorContains(t, err, k)
	}

	// Without LIMITS_FILE, no limits.
	env = map[string]string{}
	lv, err = readLive(getenv, logger)
	require.NoError(t, err)
	assert.Nil(t, lv.limiter)
}
