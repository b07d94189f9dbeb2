package credentials

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/logdelivery/logdelivery/fault"
)

// FileSecretsOptions configure a FileSecrets. The zero value of each field
// is its default; invalid values are an error of NewFileSecrets.
type FileSecretsOptions struct {
	// NamePrefix is the default confinement rule's prefix (see
	// NamePrefixRule), with TenantIDPlaceholder for the tenant id. It must
	// not be set together with Allow. Default: DefaultFileNamePrefix, so
	// that tenant acme may use file:acme/....
	NamePrefix string
	// Allow is the tenant-confinement rule, called on every request before
	// the file is opened. Default: NamePrefixRule(NamePrefix).
	Allow AllowFunc
	// MaxSize is the largest file accepted, in bytes; larger files are a
	// permanent error. Must not be negative. Default: 64 KiB, the largest
	// Secrets Manager value.
	MaxSize int64
}

// FileSecrets resolves file: references (Secrets) to the contents of files
// under one directory chosen by the operator: the local default, where
// no AWS service holds the secrets. Files are opened through an os.Root,
// so that no reference can reach outside the directory, not even through
// a symbolic link; links inside the directory are followed, so the
// operator decides what they share. Each request reads the file again
// (there is no cache: a rewritten file is seen at once); one trailing
// newline ("\n" or "\r\n") is removed, as editors and echo add one.
//
// Every request is first checked: the tenant id (ValidateSecretTenantID)
// and the Allow rule (by default, names under the tenant's NamePrefix); a
// refusal is a permanent error. A file that does not exist, cannot be
// opened or read for lack of permission, is not a regular file, is larger
// than MaxSize or lies outside the directory is a permanent error; other
// I/O failures are retryable. Errors are *SecretError and never contain
// the file's contents.
//
// It is safe for concurrent use; Close releases the directory.
type FileSecrets struct {
	root    *os.Root
	allow   AllowFunc
	maxSize int64
}

// NewFileSecrets returns a FileSecrets for the files under dir, which must
// exist and be a directory.
func NewFileSecrets(dir string, optFns ...func(*FileSecretsOptions)) (*FileSecrets, error) {
	var o FileSecretsOptions
	for _, fn := range optFns {
		fn(&o)
	}
	switch {
	case o.MaxSize < 0:
		return nil, fmt.Errorf("credentials: NewFileSecrets: negative MaxSize %d", o.MaxSize)
	case o.NamePrefix != "" && o.Allow != nil:
		return nil, errors.New("credentials: NewFileSecrets: set NamePrefix or Allow, not both (an Allow rule can use NamePrefixRule itself)")
	}
	if o.MaxSize == 0 {
		o.MaxSize = 64 << 10
	}
	if o.Allow == nil {
		if o.NamePrefix == "" {
			o.NamePrefix = DefaultFileNamePrefix
		}
		rule, err := NamePrefixRule(o.NamePrefix)
		if err != nil {
			return nil, fmt.Errorf("credentials: NewFileSecrets: NamePrefix: %w", err)
		}
		o.Allow = rule
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("credentials: NewFileSecrets: %w", err)
	}
	return &FileSecrets{root: root, allow: o.Allow, maxSize: o.MaxSize}, nil
}

// Close releases the directory; later requests fail.
func (f *FileSecrets) Close() error { return f.root.Close() }

var fileServices = []string{ServiceFile}

// Secret returns the contents of the file ref names, less one trailing
// newline, if tenantID may use it (see FileSecrets). The error is a
// *SecretError.
func (f *FileSecrets) Secret(_ context.Context, tenantID string, ref SecretRef) (Secret, error) {
	if err := checkAllowed(tenantID, ref, fileServices, f.allow); err != nil {
		return Secret{}, &SecretError{TenantID: tenantID, Ref: ref, Err: err}
	}
	v, err := f.read(ref.Name())
	if err != nil {
		return Secret{}, &SecretError{TenantID: tenantID, Ref: ref, Err: err}
	}
	return v, nil
}

func (f *FileSecrets) read(name string) (Secret, error) {
	// Stat first, so that a FIFO or device is refused before an open that
	// could block on it.
	fi, err := f.root.Stat(name)
	if err != nil {
		return Secret{}, classifyOpen(err)
	}
	if !fi.Mode().IsRegular() {
		return Secret{}, fault.Permanent(fmt.Errorf("%s is not a regular file", name))
	}
	file, err := f.root.Open(name)
	if err != nil {
		return Secret{}, classifyOpen(err)
	}
	defer file.Close()
	if fi, err = file.Stat(); err != nil {
		return Secret{}, fault.Retryable(err)
	}
	if !fi.Mode().IsRegular() {
		return Secret{}, fault.Permanent(fmt.Errorf("%s is not a regular file", name))
	}
	b, err := io.ReadAll(io.LimitReader(file, f.maxSize+1))
	if err != nil {
		return Secret{}, fault.Retryable(fmt.Errorf("reading %s: %w", name, err))
	}
	if int64(len(b)) > f.maxSize {
		return Secret{}, fault.Permanent(fmt.Errorf("%s is larger than %d bytes", name, f.maxSize))
	}
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	return NewSecret(s), nil
}

// classifyOpen classifies a failure to stat or open a file: running out
// of file descriptors is retryable; everything else (no such file, no
// permission, a path that escapes the directory) is the operator's or the
// tenant's to fix. Errors of os.Root name the file, not its contents.
func classifyOpen(err error) error {
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		return fault.Retryable(err)
	}
	return fault.Permanent(err)
}
