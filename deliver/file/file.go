// Package file delivers log objects to a local directory: the local
// analogue of the S3 destination, used by the embedded default
// (go run ./examples/local). It also opens objects from a local directory
// standing in for the central bucket.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
)

// DefaultKeyTemplate lays out delivered objects as the S3 destination does.
const DefaultKeyTemplate = "{bucket_prefix}{tenant_id}/{cluster_id}/{application}/{pod_name}/{file}"

// Options configures a Deliverer.
type Options struct {
	// KeyTemplate lays out destination paths below Dir/{bucket_name}.
	// Default: DefaultKeyTemplate.
	KeyTemplate string
}

// Deliverer copies each object to Dir/{bucket_name}/{key from the template}.
// Copies are atomic (written to a temporary file, then renamed), so a
// repeated delivery leaves one identical file.
type Deliverer struct {
	dir  string
	tmpl *keyparse.Template
}

// New returns a Deliverer writing below dir, which is created if needed.
func New(dir string, optFns ...func(*Options)) (*Deliverer, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.KeyTemplate == "" {
		o.KeyTemplate = DefaultKeyTemplate
	}
	tmpl, err := keyparse.New(o.KeyTemplate)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	return &Deliverer{dir: dir, tmpl: tmpl}, nil
}

// Kind returns the s3 kind delivered by d: configs of kind s3 (with their
// s3.Settings) are copied into local directories named by their bucket.
func (d *Deliverer) Kind() deliver.Kind {
	k := s3.Kind()
	k.Deliverer = d
	return k
}

// Deliver copies the object.
func (d *Deliverer) Deliver(ctx context.Context, dl *deliver.Delivery) (deliver.Receipt, error) {
	st, err := deliver.SettingsOf[s3.Settings](dl, s3.Kind())
	if err != nil {
		return deliver.Receipt{}, err
	}
	rel, err := d.tmpl.Expand(dl.Key, map[string]string{"bucket_prefix": st.Prefix()})
	if err != nil {
		return deliver.Receipt{}, fault.Permanent(err)
	}
	rel = path.Join(st.BucketName, rel)
	if !filepath.IsLocal(rel) {
		return deliver.Receipt{}, fault.Permanent(fmt.Errorf("destination path %q leaves the output directory", rel))
	}
	root, err := os.OpenRoot(d.dir)
	if err != nil {
		return deliver.Receipt{}, fmt.Errorf("file: %w", err)
	}
	defer root.Close()
	if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return deliver.Receipt{}, fmt.Errorf("file: %w", err)
	}
	body, err := dl.Open(ctx)
	if err != nil {
		return deliver.Receipt{}, err
	}
	defer body.Close()

	tmp := fmt.Sprintf("%s.tmp-%d", rel, time.Now().UnixNano())
	f, err := root.Create(tmp)
	if err != nil {
		return deliver.Receipt{}, fmt.Errorf("file: %w", err)
	}
	n, err := io.Copy(f, contextReader{ctx, body})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		_ = root.Remove(tmp)
		return deliver.Receipt{}, fmt.Errorf("file: writing %s: %w", rel, err)
	}
	return deliver.Receipt{Objects: 1, Bytes: n, Calls: 1, Location: filepath.Join(d.dir, filepath.FromSlash(rel))}, nil
}

// contextReader stops a copy when the context is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Opener opens objects from a file system standing in for the central
// bucket: the object with key K of any bucket is the file K of FS (use
// os.DirFS for a directory, or an embed.FS). fs.FS paths cannot reach
// outside their root.
type Opener struct {
	FS fs.FS
}

// Open opens the object's file. A missing file is a permanent error.
func (o Opener) Open(_ context.Context, obj deliver.Object) (*deliver.Body, error) {
	f, err := o.FS.Open(obj.Key)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
			return nil, fault.Permanent(fmt.Errorf("file: %w", err))
		}
		return nil, fmt.Errorf("file: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("file: %w", err)
	}
	if info.IsDir() {
		f.Close()
		return nil, fault.Permanent(fmt.Errorf("file: %s is a directory", obj.Key))
	}
	b := &deliver.Body{ReadCloser: f, Size: info.Size(), LastModified: info.ModTime()}
	name := obj.Key
	switch path.Ext(name) {
	case ".gz":
		b.ContentEncoding = "gzip"
		name = strings.TrimSuffix(name, ".gz")
	case ".zst":
		b.ContentEncoding = "zstd"
		name = strings.TrimSuffix(name, ".zst")
	}
	switch path.Ext(name) {
	case ".log", ".json", ".ndjson":
		b.ContentType = "application/x-ndjson"
	default:
		b.ContentType = mime.TypeByExtension(path.Ext(name))
	}
	return b, nil
}
