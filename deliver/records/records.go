// Package records is a local destination for decoded log records: the
// analogue of CloudWatch Logs on a local disk, used by the embedded default
// (examples/local) so that a new user sees each tenant's decoded,
// timestamped messages without any cloud account.
//
// For a delivery configuration of kind "cloudwatch" it appends the records
// of the object to {Dir}/{log_group_name}/{stream}.log, one line per event,
// its time in milliseconds as CloudWatch Logs keeps it:
//
//	2023-08-30T11:27:01.564Z<TAB>message
//
// The stream name comes from a key template, by default
// "{cluster_id}/{application}/{pod_name}" as the CloudWatch deliverer uses;
// each "/" of the group or stream name is a subdirectory.
//
// What is written is what CloudWatch Logs would store: records go through
// the CloudWatch deliverer's own event rules and batcher (internal/cwbatch).
// Messages over Options.MaxEventSize are truncated on a UTF-8 boundary
// (Receipt.Truncated), invalid UTF-8 is repaired, and events the service
// would refuse (empty, older than 14 days, more than 2 hours ahead of
// Options.Now) are dropped and counted (Receipt.Dropped). Events are packed
// per stream into PutLogEvents batches (10,000 events, 1 MB, 24 hours),
// each sorted stably by time and appended in one write; the lines of
// concurrent deliveries to one stream never interleave. Newlines and
// carriage returns inside a message are written as the two characters \n
// and \r so that every event stays on one line.
package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/cwbatch"
	"github.com/logdelivery/logdelivery/keyparse"
)

// DefaultStreamTemplate names a record's log stream unless
// Options.StreamTemplate says otherwise; the CloudWatch deliverer uses the
// same default.
const DefaultStreamTemplate = "{cluster_id}/{application}/{pod_name}"

// maxBufferedBytes bounds the events held in open batches of one delivery,
// all streams together; past it every open batch is written, as the
// CloudWatch deliverer sends them.
const maxBufferedBytes = 8 << 20

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
	// MaxEventSize is the largest message in bytes; longer ones are
	// truncated. Default (and maximum): cloudwatch.MaxEventSize, as for
	// the CloudWatch deliverer; cloudwatch.LegacyMaxEventSize acts like a
	// partition that enforces the older 256 KB limit.
	MaxEventSize int
	// Now is the clock events are judged too old or too new against.
	// Default: time.Now. (Replaying old objects shows nothing of them
	// unless Now is set to their time, just as CloudWatch Logs would
	// store nothing of them.)
	Now func() time.Time
	// Logger receives warnings about dropped events. Default: discard.
	Logger *slog.Logger
}

// Deliverer writes records to local files. It is safe for concurrent use.
type Deliverer struct {
	dir    string
	stream *keyparse.Template
	opts   Options
	locks  lockTable
	// openFile opens log files: os.OpenFile, or a failing stand-in in
	// tests of failing disks.
	openFile func(name string, flag int, perm os.FileMode) (*os.File, error)
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
	if opts.MaxEventSize <= 0 || opts.MaxEventSize > cloudwatch.MaxEventSize {
		opts.MaxEventSize = cloudwatch.MaxEventSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	tmpl, err := keyparse.New(opts.StreamTemplate)
	if err != nil {
		return nil, fmt.Errorf("records: stream template: %w", err)
	}
	return &Deliverer{dir: dir, stream: tmpl, opts: opts, openFile: os.OpenFile}, nil
}

// stream is the open batch of one log stream.
type stream struct {
	name string
	path string
	b    *cwbatch.Batcher
	// consumed counts the stream's records read, in object order, those
	// skipped on resume and those dropped included; skip is what an
	// earlier attempt of the delivery wrote, still to skip.
	consumed, skip int64
}

// checkpoint is a delivery's progress: per stream, how many of its records
// (in object order) the written batches covered. It is the cloudwatch
// deliverer's format, so that a destination may move between the two.
type checkpoint struct {
	Streams map[string]int64 `json:"streams"`
}

// Deliver appends the records of d to the files of its log group. The
// receipt counts the events written (Events, Bytes of their messages), the
// events truncated (Truncated), the events dropped because CloudWatch Logs
// would refuse them or because no valid stream name could be made for
// them (Dropped), and the input lines the decoder skipped (Undecoded).
// When the record stream fails, the records read before are written and
// its error is returned as classified by the decoder.
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
		streams  = map[string]*stream{}
		order    []*stream // in order of first record
		buffered int
		names    nameCache
		now      = w.opts.Now()
	)
	cp := checkpoint{Streams: map[string]int64{}}
	if len(d.Checkpoint) > 0 {
		if err := json.Unmarshal(d.Checkpoint, &cp); err != nil || cp.Streams == nil {
			w.opts.Logger.Warn("records: unreadable checkpoint ignored; the delivery starts over", "object", d.Object.Key, "error", err)
			cp = checkpoint{Streams: map[string]int64{}}
		}
	}
	// write appends a batch of s, which ends at position end of the
	// stream's records, and saves the checkpoint.
	write := func(s *stream, b *cwbatch.Batch, end int64) error {
		buffered -= b.Bytes
		n, err := w.write(s.path, b)
		rcpt.Calls++
		if err != nil {
			return err
		}
		rcpt.Events += int64(len(b.Events))
		rcpt.Bytes += n
		if d.Progress != nil {
			cp.Streams[s.name] = end
			data, _ := json.Marshal(cp)
			if err := d.Progress(ctx, data); err != nil {
				return fault.Retryable(fmt.Errorf("records: saving the delivery's checkpoint: %w", err))
			}
		}
		return nil
	}
	flushAll := func() error {
		var errs []error
		for _, s := range order {
			if b := s.b.Flush(); b != nil {
				if err := write(s, b, s.consumed); err != nil {
					errs = append(errs, err)
				}
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
		name, err := names.get(w.stream, rec, d.Key)
		if err != nil {
			rcpt.Dropped++
			w.opts.Logger.Warn("records: event dropped: no valid stream name", "object", d.Object.Key, "err", err)
			continue
		}
		s := streams[name]
		if s == nil {
			path, err := streamPath(groupDir, name)
			if err != nil {
				rcpt.Dropped++
				w.opts.Logger.Warn("records: event dropped: invalid stream name", "object", d.Object.Key, "stream", name, "err", err)
				continue
			}
			s = &stream{name: name, path: path, b: cwbatch.New(cwbatch.Limits{}), skip: cp.Streams[name]}
			streams[name] = s
			order = append(order, s)
		}
		if s.skip > 0 { // an earlier attempt wrote it
			s.skip--
			s.consumed++
			rcpt.Resumed++
			deliver.SkipRecord(rr)
			continue
		}
		pos := s.consumed
		s.consumed++
		ev, out := cwbatch.Prepare(rec.Message, rec.Time, now, w.opts.MaxEventSize)
		switch {
		case out.Dropped():
			rcpt.Dropped++
			continue
		case out == cwbatch.Truncated:
			rcpt.Truncated++
		}
		if full := s.b.Add(ev); full != nil {
			if err := write(s, full, pos); err != nil {
				return rcpt, err
			}
		}
		buffered += ev.Size()
		if buffered > maxBufferedBytes {
			if err := flushAll(); err != nil {
				return rcpt, err
			}
			buffered = 0
		}
	}
	if err := flushAll(); err != nil {
		return rcpt, errors.Join(readErr, err)
	}
	return rcpt, readErr
}

// write appends a batch, sorted by the batcher, to its file in one write,
// under the file's lock, and returns the message bytes written.
func (w *Deliverer) write(path string, b *cwbatch.Batch) (int64, error) {
	buf := make([]byte, 0, b.Bytes+len(b.Events)*8)
	var n int64
	for _, e := range b.Events {
		buf = time.UnixMilli(e.Timestamp).UTC().AppendFormat(buf, time.RFC3339Nano)
		buf = append(buf, '\t')
		buf = appendMessage(buf, e.Message)
		buf = append(buf, '\n')
		n += int64(len(e.Message))
	}
	unlock := w.locks.lock(path)
	defer unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, fmt.Errorf("records: %w", err)
	}
	f, err := w.openFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, w.opts.FileMode)
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
