package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/logdelivery/logdelivery/fault"
)

// File is a Ledger in a local directory, one small file per entry written
// atomically (temporary file, sync, rename), so that it survives a crash of
// the process: the ledger of the embedded local default. It is safe for
// concurrent use within a process; processes sharing a directory may lose
// the later of two simultaneous writes of one entry.
type File struct {
	root *os.Root
	dir  string
	ttl  time.Duration
	now  func() time.Time
}

var _ Ledger = (*File)(nil)

// FileOptions configures a File ledger.
type FileOptions struct {
	// TTL is how long an entry counts after its last change; older files
	// are ignored and removed when next read. Default: DefaultTTL.
	TTL time.Duration
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// OpenFile returns the ledger kept in dir, created if needed.
func OpenFile(dir string, optFns ...func(*FileOptions)) (*File, error) {
	o := FileOptions{TTL: DefaultTTL, Now: time.Now}
	for _, fn := range optFns {
		fn(&o)
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return &File{root: root, dir: dir, ttl: o.TTL, now: o.Now}, nil
}

// Close releases the directory.
func (f *File) Close() error { return f.root.Close() }

type fileEntry struct {
	State      State     `json:"state"`
	Checkpoint []byte    `json:"checkpoint,omitempty"`
	Updated    time.Time `json:"updated"`
	Key        string    `json:"key"` // for people reading the directory
}

// Get returns the entry of k.
func (f *File) Get(ctx context.Context, k Key) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err
	}
	data, err := f.root.ReadFile(k.ID() + ".json")
	if errors.Is(err, fs.ErrNotExist) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fault.Retryable(fmt.Errorf("ledger: reading the entry of %s: %w", k, err))
	}
	var fe fileEntry
	if err := json.Unmarshal(data, &fe); err != nil {
		return Entry{}, false, fault.Retryable(fmt.Errorf("ledger: the entry of %s in %s is corrupt: %w", k, f.dir, err))
	}
	if f.now().Sub(fe.Updated) >= f.ttl {
		_ = f.root.Remove(k.ID() + ".json")
		return Entry{}, false, nil
	}
	return Entry{State: fe.State, Checkpoint: fe.Checkpoint, Updated: fe.Updated}, true, nil
}

// Save records a checkpoint of k, unless k is Done.
func (f *File) Save(ctx context.Context, k Key, checkpoint []byte) error {
	if e, ok, err := f.Get(ctx, k); err != nil {
		return err
	} else if ok && e.State == Done {
		return nil
	}
	return f.write(k, fileEntry{State: Started, Checkpoint: checkpoint, Updated: f.now(), Key: k.String()})
}

// Done marks k complete.
func (f *File) Done(ctx context.Context, k Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.write(k, fileEntry{State: Done, Updated: f.now(), Key: k.String()})
}

func (f *File) write(k Key, fe fileEntry) error {
	data, err := json.Marshal(fe)
	if err != nil {
		return err
	}
	name := k.ID() + ".json"
	tmp := fmt.Sprintf(".%s.%d.tmp", name, time.Now().UnixNano())
	w, err := f.root.Create(tmp)
	if err != nil {
		return fault.Retryable(fmt.Errorf("ledger: %w", err))
	}
	_, err = w.Write(data)
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = f.root.Rename(tmp, name)
	}
	if err != nil {
		_ = f.root.Remove(tmp)
		return fault.Retryable(fmt.Errorf("ledger: writing the entry of %s: %w", k, err))
	}
	return nil
}
