package main

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunOnEmbeddedSamples(t *testing.T) {
	out := t.TempDir()
	var summary bytes.Buffer
	code, err := run(context.Background(), "", "", out, false, &summary)
	require.NoError(t, err)
	assert.Equal(t, 0, code, summary.String())
	assert.Contains(t, summary.String(), "initech - skipped: tenant has no delivery config")

	// S3 copies are byte-identical to the samples, under the S3 layout.
	samplesFS, err := fs.Sub(samples, "testdata/objects")
	require.NoError(t, err)
	src, err := fs.ReadFile(samplesFS, "prod-east-1/acme/payments-api/payments-api-7d9f8b6c4-x2kqp/1756553220-c4f5a586.log.gz")
	require.NoError(t, err)
	dst, err := os.ReadFile(filepath.Join(out, "s3", "acme-cluster-logs", "ROSA", "cluster-logs", "acme", "prod-east-1", "payments-api",
		"payments-api-7d9f8b6c4-x2kqp", "1756553220-c4f5a586.log.gz"))
	require.NoError(t, err)
	assert.Equal(t, src, dst)

	// Every event of the pod reached its stream with its own timestamp, each
	// object's events in time order. (The pod's two objects are delivered
	// concurrently, so their batches may come in either order, as with
	// CloudWatch Logs, which orders events by timestamp when read.)
	lines := readLines(t, filepath.Join(out, "cloudwatch", "acme", "cluster-logs", "prod-east-1", "payments-api", "payments-api-7d9f8b6c4-x2kqp.log"))
	require.Len(t, lines, 80, "two objects of 40 events")
	prev := map[int]time.Time{} // by minute: one object each
	for _, l := range lines {
		ts, msg, ok := strings.Cut(l, "\t")
		require.True(t, ok, l)
		at, err := time.Parse(time.RFC3339Nano, ts)
		require.NoError(t, err)
		assert.False(t, at.Before(prev[at.Minute()]), "an object's events in time order")
		prev[at.Minute()] = at
		assert.Contains(t, msg, `"msg":"handled request"`, "the container line, unchanged")
		assert.Equal(t, 2025, at.Year())
	}
	assert.Len(t, prev, 2, "events of both objects")

	// Groups select applications: globex's CloudWatch gets the API and
	// Authentication groups, never etcd; etcd goes to the archive only.
	_, err = os.Stat(filepath.Join(out, "cloudwatch", "globex", "control-plane", "hcp-prod-2", "etcd"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Len(t, readLines(t, filepath.Join(out, "cloudwatch", "globex", "control-plane", "hcp-prod-2", "oauth-server", "oauth-openshift-7b9c8d6f5-abcde.log")), 80)
	archived, err := filepath.Glob(filepath.Join(out, "s3", "globex-etcd-archive", "ROSA", "cluster-logs", "hcp-globex", "hcp-prod-2", "etcd", "etcd-0", "*.log.gz"))
	require.NoError(t, err)
	assert.Len(t, archived, 2)
	_, err = os.Stat(filepath.Join(out, "s3", "globex-logs"))
	assert.ErrorIs(t, err, fs.ErrNotExist, "the disabled destination received nothing")

	// acme's Loki config reached the in-process Loki as org acme: every
	// event of acme's objects, with its labels, nothing of other tenants.
	loki := readLines(t, filepath.Join(out, "loki", "acme.log"))
	assert.Len(t, loki, 240, "the events of acme's six objects")
	for _, l := range loki {
		parts := strings.SplitN(l, "\t", 3)
		require.Len(t, parts, 3, l)
		assert.Contains(t, parts[1], `env="local"`)
		assert.Contains(t, parts[1], `namespace="acme"`)
	}
	entries, err := os.ReadDir(filepath.Join(out, "loki"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "only acme has a Loki destination")
}

func TestRunRejectsBadInput(t *testing.T) {
	_, err := run(context.Background(), t.TempDir(), "", t.TempDir(), false, &bytes.Buffer{})
	assert.ErrorContains(t, err, "no objects found")

	cfg := filepath.Join(t.TempDir(), "configs.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"not":"a list"}`), 0o600))
	_, err = run(context.Background(), "", cfg, t.TempDir(), false, &bytes.Buffer{})
	assert.ErrorContains(t, err, "configs.json")
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	return lines
}
