package file_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/deliver/file"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/tenant"
)

const conformanceBucket = "tenant-logs"

// TestConformance runs the kind conformance suite against a local
// directory. A failing disk is simulated by a regular file where the
// bucket's directory must be (every write fails); a local copy is one
// write that cannot be abandoned at a deadline, so partial and hung writes
// are not tested.
func TestConformance(t *testing.T) {
	delivertest.RunKind(t, delivertest.KindHarness{
		Kind: s3.Kind(),
		NewDestination: func(t *testing.T) *delivertest.Destination {
			dir := t.TempDir()
			d, err := file.New(dir)
			require.NoError(t, err)
			bucket := filepath.Join(dir, conformanceBucket)
			return &delivertest.Destination{
				Deliverer: d,
				Config: func(tenantID string) tenant.DeliveryConfig {
					return tenant.DeliveryConfig{TenantID: tenantID, Type: s3.KindName, Settings: map[string]any{
						"bucket_name": conformanceBucket,
					}}
				},
				Received: func() int64 { return countFiles(t, dir, bucket) },
				Fail: func(f delivertest.Fault, after int) bool {
					if f != delivertest.FaultRetryable || after != 0 {
						return false
					}
					// Keep what was delivered (Received counts it), block the rest.
					if _, err := os.Stat(bucket); err == nil {
						require.NoError(t, os.Rename(bucket, bucket+".before-fault"))
					}
					require.NoError(t, os.WriteFile(bucket, nil, 0o644))
					return true
				},
			}
		},
	})
}

// countFiles returns the number of files (delivered objects) under dir,
// but for the file blocking the bucket and temporary files.
func countFiles(t *testing.T, dir, blocker string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || path == blocker || strings.Contains(e.Name(), ".tmp-") {
			return err
		}
		n++
		return nil
	})
	require.NoError(t, err)
	return n
}
