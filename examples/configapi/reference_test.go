package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant/configapi"
)

// CONFIG_API_MODE=reference serves the reference's contract, signed as its
// clients sign (api/README.md, "Signature Generation"), below
// CONFIG_API_PATH_PREFIX.
func TestRunReferenceMode(t *testing.T) {
	const psk = "reference-psk-0123456789"
	vars := map[string]string{
		"CONFIG_API_ADDR":        "127.0.0.1:0",
		"TENANT_CONFIG_FILE":     filepath.Join(t.TempDir(), "configs.json"),
		"CONFIG_API_KEYS":        "ocm:" + psk,
		"CONFIG_API_MODE":        "reference",
		"CONFIG_API_PATH_PREFIX": "/prod",
		"CONFIG_API_LOG_LEVEL":   "warn",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, stop := serve(t, ctx, cancel, vars)
	defer stop()

	do := func(method, path, body string, sign bool) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+"/prod"+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if sign {
			// container/integration/api_helpers.go signs the path below the stage.
			configapi.SignReferenceRequest(req, []byte(body), []byte(psk), time.Now(), path)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	status, body := do(http.MethodGet, "/api/v1/health", "", false)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "healthy", body["status"])
	status, _ = do(http.MethodGet, "/api/v1/delivery-configs", "", false)
	assert.Equal(t, http.StatusUnauthorized, status)
	status, body = do(http.MethodPost, "/api/v1/tenants/acme/delivery-configs", `{"tenant_id": "acme", "type": "s3", "bucket_name": "acme-logs"}`, true)
	require.Equal(t, http.StatusCreated, status, body)
	status, body = do(http.MethodGet, "/api/v1/tenants/acme/delivery-configs", "", true)
	require.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 1, body["data"].(map[string]any)["count"])
}

func TestRunReferenceModeOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.json")
	for name, tc := range map[string]struct {
		vars map[string]string
		want string
	}{
		"bad mode":         {map[string]string{"CONFIG_API_MODE": "legacy"}, "CONFIG_API_MODE"},
		"none when native": {map[string]string{"CONFIG_API_AUTH": "none", "TENANT_CONFIG_FILE": file}, "CONFIG_API_AUTH"},
		"bad replay": {map[string]string{"CONFIG_API_MODE": "reference", "CONFIG_API_KEYS": "k:" + secretA, "TENANT_CONFIG_FILE": file,
			"CONFIG_API_REPLAY": "sometimes"}, "CONFIG_API_REPLAY"},
		"bad prefix": {map[string]string{"CONFIG_API_MODE": "reference", "CONFIG_API_AUTH": "none", "TENANT_CONFIG_FILE": file,
			"CONFIG_API_PATH_PREFIX": "prod"}, "PathPrefix"},
	} {
		err := run(context.Background(), env(tc.vars), nil)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
	get := referenceDefaults(env(map[string]string{}))
	assert.Equal(t, "tenant-configurations", get("TENANT_CONFIG_TABLE"), "the reference's table name")
	get = referenceDefaults(env(map[string]string{"TENANT_CONFIG_FILE": file}))
	assert.Equal(t, "", get("TENANT_CONFIG_TABLE"))
}

// Behind an authorizer (CONFIG_API_AUTH=none), the reference's integration
// client (tests/integration/conftest.py APIClient) sends no signature at all.
func TestRunReferenceModeBehindAnAuthorizer(t *testing.T) {
	vars := map[string]string{
		"CONFIG_API_ADDR":      "127.0.0.1:0",
		"TENANT_CONFIG_FILE":   filepath.Join(t.TempDir(), "configs.json"),
		"CONFIG_API_MODE":      "reference",
		"CONFIG_API_AUTH":      "none",
		"CONFIG_API_LOG_LEVEL": "error",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, stop := serve(t, ctx, cancel, vars)
	defer stop()
	resp, err := http.Get("http://" + addr + "/api/v1/tenants/acme/delivery-configs")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
