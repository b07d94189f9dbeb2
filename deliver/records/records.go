// Package records is a local destination for decoded log records: the
// analogue of CloudWatch Logs on a local disk, used by the embedded default
// (examples/local) so that a new user sees each tenant's decoded,
// timestamped messages without any cloud account.
//
// For a delivery configuration of kind "cloudwatch" it appends the records
// of the object to {Dir}/{log_group_name}/{stream}.log, one line per event:
//
//	2023-08-30T11:27:01.564974Z<TAB>message
//
// The stream name comes from a key template, by default
// "{cluster_id}/{application}/{pod_name}" as the CloudWatch deliverer uses;
// each "/" of the group or stream name is a subdirectory. Records are
// grouped per stream into batches of CloudWatch's PutLogEvents size, each
// sorted stably by time and appended in one write, as CloudWatch would
// order them; the lines of concurrent deliveries to one stream never
// interleave. Newlines and carriage returns inside a message are written as
// the two characters \n and \r so that every event stays on one line.
package records

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
)

// DefaultStreamTemplate names a record's log stream unless
// Options.StreamTemplate says otherwise; the CloudWatch deliverer uses the
// same default.
const DefaultStreamTemplate = "{cluster_id}/{application}/{pod_name}"

// PutLogEvents batch limits, which the batches of this destination follow.
const (
	maxBatchEvents   = 10000
	maxBatchBytes    = 1048576
	eventOverhead    = 26      // bytes PutLogEvents counts per event
	maxBufferedBytes = 8 << 20 // all streams of one delivery together
)

// ErrInvalidName is wrapped by the errors for log group and stream names
// that cannot be mapped to a file inside Dir.
var ErrInvalidName = errors.New("invalid log group or stream name")

// Options configure a Deliverer.
type Options struct {
	// StreamTemplate is the key template of log stream names. Its fields
	// take the record's metadata (cluster, application, pod, namespace),
	// falling back to the object key's. Default DefaultStreamTemplate.
	StreamTemplate string
	// FileMode is the mode of new log files. Default 0o644.
	FileMode os.FileMode
	// Logger receives warnings about dropped events. Default: discard.
	Logger *slog.Logger
}

// Deliverer writes records to local files. It is safe for concurrent use.
type Deliverer struct {
	dir    string
	stream *keyparse.Template
	opts   Options
	locks  lockTable
}

// Kind returns the cloudwatch kind delivered by w: configs of kind
// cloudwatch (with their cloudwatch.Settings) are written to local files.
func (w *Deliverer) Kind() deliver.Kind {
	k := cloudwatch.Kind()
	k.Deliverer = w
	return k
}

// New returns a Deliverer writing under dir, which is created on first use.
func New(dir string, optFns ...func(*Options)) (*Deliverer, error) {
	opts := Options{StreamTemplate: DefaultStreamTemplate, FileMode: 0o644}
	for _, fn := range optFns {
		fn(&opts)
	}
	if dir == "" {
		return nil, errors.New("records: empty directory")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	tmpl, err := keyparse.New(opts.StreamTemplate)
	if err != nil {
		return nil, fmt.Errorf("records: stream template: %w", err)
	}
	return &Deliverer{dir: dir, stream: tmpl, opts: opts}, nil
}

// batch is the pending events of one stream.
type batch struct {
	path   string
	events []deliver.Record
	bytes  int
}

// Deliver appends the records of d to the files of its log group. The
// receipt counts the events written (Events, Bytes of their messages),
// the input lines the decoder skipped (Skipped) and the events dropped
// because no valid stream name could be made for them (Dropped). When the
// record stream fails, the records read before are written and its error
// is returned as classified by the decoder.
func (w *Deliverer) Deliver(ctx context.Context, d *deliver.Delivery) (rcpt deliver.Receipt, err error) {
	st, err := deliver.SettingsOf[cloudwatch.Settings](d, cloudwatch.Kind())
	if err != nil {
		return rcpt, err
	}
	groupDir, err := w.groupDir(st.LogGroupName)
	if err != nil {
		return rcpt, fault.Permanent(err)
	}
	rcpt.Location = groupDir
	if d.Records == nil {
		return rcpt, fault.Permanent(errors.New("records: delivery has no record stream"))
	}
	rr, err := d.Records(ctx)
	if err != nil {
		return rcpt, err
	}
	defer rr.Close()
	defer func() { rcpt.Undecoded = rr.Stats().Undecoded() }()

	var (
		batches  = map[string]*batch{}
		order    []string // streams in order of first record
		buffered int
		names    nameCache
	)
	flush := func(b *batch) error {
		if len(b.events) == 0 {
			return nil
		}
		n, err := w.write(b)
		rcpt.Calls++
		if err == nil {
			rcpt.Events += int64(len(b.events))
			rcpt.Bytes += n
		}
		buffered -= b.bytes
		b.events, b.bytes = b.events[:0], 0
		return err
	}
	flushAll := func() error {
		var errs []error
		for _, s := range order {
			if err := flush(batches[s]); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}

	var readErr error
	for i := 0; ; i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				readErr = fault.Retryable(fmt.Errorf("records: delivering s3://%s/%s: %w", d.Object.Bucket, d.Object.Key, err))
				break
			}
		}
		rec, err := rr.Next()
		if err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
		stream, err := names.get(w.stream, rec, d.Key)
		if err != nil {
			rcpt.Dropped++
			w.opts.Logger.Warn("records: event dropped: no valid stream name", "object", d.Object.Key, "err", err)
			continue
		}
		b := batches[stream]
		if b == nil {
			path, err := streamPath(groupDir, stream)
			if err != nil {
				rcpt.Dropped++
				w.opts.Logger.Warn("records: event dropped: invalid stream name", "object", d.Object.Key, "stream", stream, "err", err)
				continue
			}
			b = &batch{path: path}
			batches[stream] = b
			order = append(order, stream)
		}
		size := len(rec.Message) + eventOverhead
		if len(b.events) == maxBatchEvents || b.bytes+size > maxBatchBytes {
			if err := flush(b); err != nil {
				return rcpt, err
			}
		}
		b.events = append(b.events, rec)
		b.bytes += size
		buffered += size
		if buffered > maxBufferedBytes {
			if err := flushAll(); err != nil {
				return rcpt, err
			}
		}
	}
	if err := flushAll(); err != nil {
		return rcpt, errors.Join(readErr, err)
	}
	return rcpt, readErr
}

// write appends a batch to its file in one write, under the file's lock,
// and returns the message bytes written.
func (w *Deliverer) write(b *batch) (int64, error) {
	slices.SortStableFunc(b.events, func(x, y deliver.Record) int { return x.Time.Compare(y.Time) })
	buf := make([]byte, 0, b.bytes+len(b.events)*16)
	var n int64
	for _, e := range b.events {
		buf = e.Time.UTC().AppendFormat(buf, time.RFC3339Nano)
		buf = append(buf, '\t')
		buf = appendMessage(buf, e.Message)
		buf = append(buf, '\n')
		n += int64(len(e.Message))
	}
	unlock := w.locks.lock(b.path)
	defer unlock()
	if err := os.MkdirAll(filepath.Dir(b.path), 0o755); err != nil {
		return 0, fmt.Errorf("records: %w", err)
	}
	f, err := os.OpenFile(b.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, w.opts.FileMode)
	if err != nil {
		return 0, fmt.Errorf("records: %w", err)
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return 0, fmt.Errorf("records: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("records: %w", err)
	}
	return n, nil
}

// appendMessage appends m with '\n' and '\r' written as \n and \r.
func appendMessage(dst []byte, m string) []byte {
	for {
		i := strings.IndexAny(m, "\n\r")
		if i < 0 {
			return append(dst, m...)
		}
		dst = append(dst, m[:i]...)
		if m[i] == '\n' {
			dst = append(dst, `\n`...)
		} else {
			dst = append(dst, `\r`...)
		}
		m = m[i+1:]
	}
}

// groupDir returns the directory of a log group. Names follow CloudWatch
// Logs' rules (1 to 512 of [.-_/#A-Za-z0-9]); each "/" is a subdirectory.
func (w *Deliverer) groupDir(group string) (string, error) {
	if group == "" || len(group) > 512 {
		return "", fmt.Errorf("records: log group name %q: %w: must be 1 to 512 characters", group, ErrInvalidName)
	}
	for _, c := range group {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-/#", c)) {
			return "", fmt.Errorf("records: log group name %q: %w: character %q is not allowed", group, ErrInvalidName, c)
		}
	}
	rel, err := localPath(group)
	if err != nil {
		return "", fmt.Errorf("records: log group name %q: %w", group, err)
	}
	return filepath.Join(w.dir, rel), nil
}

// streamPath returns the file of a log stream.
func streamPath(groupDir, stream string) (string, error) {
	rel, err := localPath(stream)
	if err != nil {
		return "", fmt.Errorf("records: log stream name %q: %w", stream, err)
	}
	return filepath.Join(groupDir, rel+".log"), nil
}

// localPath maps a "/"-separated name to a relative file path that cannot
// leave its directory: empty segments (a leading "/") are dropped, "." and
// ".." segments and NUL or "\" characters are rejected.
func localPath(name string) (string, error) {
	var segs []string
	for seg := range strings.SplitSeq(name, "/") {
		switch {
		case seg == "":
			continue
		case seg == "." || seg == "..":
			return "", fmt.Errorf("%w: segment %q", ErrInvalidName, seg)
		case strings.ContainsAny(seg, "\x00\\"):
			return "", fmt.Errorf("%w: segment %q holds NUL or '\\'", ErrInvalidName, seg)
		}
		segs = append(segs, seg)
	}
	if len(segs) == 0 {
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	}
	rel := filepath.Join(segs...)
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%w: not a local path", ErrInvalidName)
	}
	return rel, nil
}

// nameCache remembers the stream name of the last record's metadata.
type nameCache struct {
	cluster, app, pod, ns string
	name                  string
	ok                    bool
}

// get returns the stream name of rec: the template filled with the
// record's metadata, falling back to the key's for fields the record lacks
// or holds invalid values in.
func (c *nameCache) get(t *keyparse.Template, rec deliver.Record, k keyparse.Key) (string, error) {
	if c.ok && rec.Cluster == c.cluster && rec.Application == c.app && rec.Pod == c.pod && rec.Namespace == c.ns {
		return c.name, nil
	}
	rk := k
	for _, f := range []struct {
		dst *string
		v   string
	}{{&rk.Cluster, rec.Cluster}, {&rk.Application, rec.Application}, {&rk.Pod, rec.Pod}, {&rk.Namespace, rec.Namespace}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	name, err := t.Format(rk)
	if err != nil {
		if name, err = t.Format(k); err != nil {
			return "", err
		}
	}
	*c = nameCache{cluster: rec.Cluster, app: rec.Application, pod: rec.Pod, ns: rec.Namespace, name: name, ok: true}
	return name, nil
}

// lockTable holds one mutex per file in use, so that concurrent deliveries
// to one stream append whole batches, one after the other.
type lockTable struct {
	mu    sync.Mutex
	files map[string]*fileLock
}

type fileLock struct {
	sync.Mutex
	users int
}

// lock locks path and returns the function that unlocks it.
func (t *lockTable) lock(path string) (unlock func()) {
	t.mu.Lock()
	if t.files == nil {
		t.files = map[string]*fileLock{}
	}
	l := t.files[path]
	if l == nil {
		l = &fileLock{}
		t.files[path] = l
	}
	l.users++
	t.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		t.mu.Lock()
		if l.users--; l.users == 0 {
			delete(t.files, path)
		}
		t.mu.Unlock()
	}
}
