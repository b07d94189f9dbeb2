package records

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/internal/cwbatch"
	"github.com/logdelivery/logdelivery/tenant"
)

// TestConformance runs the kind conformance suite against local files. A
// failing disk is simulated by failing the opens of log files (ENOSPC); a
// local write cannot be abandoned at a deadline, so hung writes are not
// tested.
func TestConformance(t *testing.T) {
	delivertest.RunKind(t, delivertest.KindHarness{
		Kind:      cloudwatch.Kind(),
		WriteSize: cwbatch.MaxEvents,
		NewDestination: func(t *testing.T) *delivertest.Destination {
			dir := t.TempDir()
			w, err := New(dir)
			require.NoError(t, err)
			var (
				writes atomic.Int64
				limit  atomic.Int64 // writes accepted; < 0: every write
			)
			limit.Store(-1)
			open := w.openFile
			w.openFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
				if n := limit.Load(); n >= 0 && writes.Add(1) > n {
					return nil, &os.PathError{Op: "open", Path: name, Err: syscall.ENOSPC}
				}
				return open(name, flag, perm)
			}
			return &delivertest.Destination{
				Deliverer: w,
				Config: func(tenantID string) tenant.DeliveryConfig {
					return tenant.DeliveryConfig{TenantID: tenantID, Type: cloudwatch.KindName, Settings: map[string]any{
						"log_group_name":            "/tenants/" + tenantID,
						"log_distribution_role_arn": "arn:aws:iam::222222222222:role/logs",
					}}
				},
				Received: func() int64 { return countLines(t, dir) },
				Fail: func(f delivertest.Fault, after int) bool {
					if f != delivertest.FaultRetryable {
						return false // a full disk is the failure a local file system has
					}
					writes.Store(0)
					limit.Store(int64(after))
					return true
				},
			}
		},
	})
}

// countLines returns the number of lines (events) of the log files under
// dir.
func countLines(t *testing.T, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			n++
		}
		return sc.Err()
	})
	require.NoError(t, err)
	return n
}
