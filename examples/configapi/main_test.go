package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/configapi"
)

const (
	secretA = "secret-a-0123456789"
	secretB = "secret-b-0123456789"
)

func TestLoadKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(file, []byte("# rotation 2026\n\nops-new:"+secretB+"\n"), 0o600))
	keys, err := loadKeys(" ops-old:"+secretA+" , team:"+secretA, file)
	require.NoError(t, err)
	assert.Equal(t, configapi.Keys{
		"ops-old": []byte(secretA), // white space around entries is dropped
		"team":    []byte(secretA),
		"ops-new": []byte(secretB),
	}, keys)

	for name, tc := range map[string]struct{ list, file, want string }{
		"none":        {want: "no signing keys"},
		"no colon":    {list: "justasecretvalue", want: `key "just…" is not id:secret`},
		"empty id":    {list: ":" + secretA, want: "is not id:secret"},
		"short":       {list: "k:short", want: "shorter than 16 bytes"},
		"twice":       {list: "k:" + secretA + ",k:" + secretB, want: `key id "k" is given twice`},
		"twice file":  {list: "ops-new:" + secretA, file: file, want: "line 3"},
		"no file":     {file: filepath.Join(t.TempDir(), "missing"), want: "CONFIG_API_KEYS_FILE"},
		"id with tab": {list: "a\tb:" + secretA, want: "white space"},
	} {
		_, err := loadKeys(tc.list, tc.file)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
		assert.NotContains(t, err.Error(), secretA, "%s: errors never show secrets", name)
	}
}

func TestGrants(t *testing.T) {
	keys := configapi.Keys{"ops": []byte(secretA), "team": []byte(secretB)}
	g, err := parseGrants("ops=*, team=acme|globex", keys)
	require.NoError(t, err)
	ctx := context.Background()
	ops, team, other := configapi.Principal{ID: "ops"}, configapi.Principal{ID: "team"}, configapi.Principal{ID: "other"}
	assert.NoError(t, g.Authorize(ctx, ops, configapi.ActionList, ""))
	assert.NoError(t, g.Authorize(ctx, ops, configapi.ActionWrite, "initech"))
	assert.NoError(t, g.Authorize(ctx, team, configapi.ActionWrite, "globex"))
	assert.ErrorIs(t, g.Authorize(ctx, team, configapi.ActionRead, "initech"), configapi.ErrForbidden)
	assert.ErrorIs(t, g.Authorize(ctx, team, configapi.ActionList, ""), configapi.ErrForbidden)
	assert.ErrorIs(t, g.Authorize(ctx, other, configapi.ActionRead, "acme"), configapi.ErrForbidden)

	for _, bad := range []string{"ops", "ops=", "nobody=*", "ops=*,ops=acme", "team=-bad-"} {
		_, err := parseGrants(bad, keys)
		assert.Error(t, err, bad)
	}
}

// serve runs the binary with vars until stop, which cancels ctx (through
// cancel) and requires a graceful shutdown. It returns the address served.
func serve(t *testing.T, ctx context.Context, cancel context.CancelFunc, vars map[string]string) (addr string, stop func()) {
	t.Helper()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, env(vars), ready) }()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run ended early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	return addr, func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, "graceful shutdown")
		case <-time.After(30 * time.Second):
			t.Fatal("server did not shut down")
		}
	}
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// The binary serves the API over a file store, answers signed requests
// within its grants, and shuts down gracefully when its context ends.
func TestRunWithFileStore(t *testing.T) {
	file := filepath.Join(t.TempDir(), "configs.json")
	vars := map[string]string{
		"CONFIG_API_ADDR":      "127.0.0.1:0",
		"TENANT_CONFIG_FILE":   file,
		"CONFIG_API_KEYS":      "ops:" + secretA + ",team:" + secretB,
		"CONFIG_API_GRANTS":    "ops=*,team=acme",
		"CONFIG_API_LOG_LEVEL": "warn",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, stop := serve(t, ctx, cancel, vars)

	team, err := configapi.NewClient("http://"+addr, "team", []byte(secretB))
	require.NoError(t, err)
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	require.NoError(t, team.Health(rctx))
	_, err = team.Create(rctx, tenant.DeliveryConfig{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-logs"}})
	require.NoError(t, err)
	_, err = team.Create(rctx, tenant.DeliveryConfig{TenantID: "globex", Type: "s3", Settings: map[string]any{"bucket_name": "globex-logs"}})
	assert.ErrorIs(t, err, configapi.ErrForbidden, "team may only use acme")
	_, _, err = team.List(rctx, 10, "")
	assert.ErrorIs(t, err, configapi.ErrForbidden)

	ops, err := configapi.NewClient("http://"+addr, "ops", []byte(secretA))
	require.NoError(t, err)
	items, _, err := ops.List(rctx, 10, "")
	require.NoError(t, err)
	require.Len(t, items, 1)

	stop()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var stored []tenant.DeliveryConfig
	require.NoError(t, json.Unmarshal(data, &stored))
	require.Len(t, stored, 1)
	assert.Equal(t, "acme-logs", stored[0].Settings["bucket_name"], "the write reached the file")
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	keys := "k:" + secretA
	for name, tc := range map[string]struct {
		vars map[string]string
		want string
	}{
		"no store":   {map[string]string{"CONFIG_API_KEYS": keys}, "set TENANT_CONFIG_FILE or TENANT_CONFIG_TABLE"},
		"two stores": {map[string]string{"CONFIG_API_KEYS": keys, "TENANT_CONFIG_FILE": "f", "TENANT_CONFIG_TABLE": "t"}, "only one"},
		"no keys":    {map[string]string{"TENANT_CONFIG_FILE": filepath.Join(dir, "c.json")}, "no signing keys"},
		"bad grants": {map[string]string{"CONFIG_API_KEYS": keys, "CONFIG_API_GRANTS": "x=*"}, "CONFIG_API_GRANTS"},
		"bad level":  {map[string]string{"CONFIG_API_LOG_LEVEL": "loud"}, "CONFIG_API_LOG_LEVEL"},
		"bad body limit": {map[string]string{"CONFIG_API_KEYS": keys, "TENANT_CONFIG_FILE": filepath.Join(dir, "c.json"),
			"CONFIG_API_MAX_BODY_BYTES": "-1"}, "CONFIG_API_MAX_BODY_BYTES"},
		"bad file": {map[string]string{"CONFIG_API_KEYS": keys, "TENANT_CONFIG_FILE": dir}, "filestore"},
	} {
		err := run(context.Background(), env(tc.vars), nil)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
}
