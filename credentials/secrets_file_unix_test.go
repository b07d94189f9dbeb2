//go:build unix

package credentials_test

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/fault"
)

// A FIFO is refused before it is opened: opening it would block.
func TestFileSecretsFIFO(t *testing.T) {
	dir := secretsDir(t, map[string]string{"acme/x": ""})
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "acme", "fifo"), 0o600))
	f := newFileSecrets(t, dir)
	_, err := fileSecret(t, f, "acme", "file:acme/fifo")
	assert.True(t, fault.IsPermanent(err))
	assert.Contains(t, err.Error(), "acme/fifo is not a regular file")
}
