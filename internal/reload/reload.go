// Package reload keeps a configuration file in force as it changes, with
// last-good semantics: a Watcher polls the file, and each new version
// (by content hash) is handed to an apply function that validates it as a
// whole and puts it in force atomically, or refuses it, leaving the last
// good version in force. Refusals are logged, naming every problem, once
// per version, and told to an observer, for metrics.
//
// Polling rather than file notifications: it works the same on every
// file system (a Kubernetes ConfigMap volume swaps a symlink; NFS and
// overlay file systems drop events), needs no dependency, and a content
// hash ignores touches and rewrites of the same content.
package reload

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultInterval is the default of Options.Interval.
const DefaultInterval = 10 * time.Second

// Observer is told the outcome of every new version of a file.
type Observer interface {
	// Reloaded is called once per new version of the source's file:
	// applied (err nil) or refused (err says why; the last good version
	// stays in force).
	Reloaded(source string, err error)
}

// Options configures a Watcher.
type Options struct {
	// Source names the file in logs and metrics ("limits_overrides").
	Source string
	// Interval is how often Run checks the file. Default: DefaultInterval.
	Interval time.Duration
	// Logger receives one line per version applied (Info) or refused
	// (Error). Default: discard.
	Logger *slog.Logger
	// Observer is told every outcome. Default: none.
	Observer Observer
	// Missing, when not nil, is the content of the file while it does not
	// exist (a store created on its first write). Default: nil, a missing
	// file is refused.
	Missing []byte
	// Read reads the current version from somewhere else than the file at
	// path (a table; path then only names it in logs). Default: the file.
	Read func(ctx context.Context) ([]byte, error)
}

// Watcher watches one file. It is safe for concurrent use.
type Watcher struct {
	path  string
	apply func(data []byte) error
	opts  Options

	mu      sync.Mutex
	seen    [sha256.Size]byte // hash of the last version checked (or of a read error)
	primed  bool
	lastErr error // why the version seen was refused; nil when it is in force
	status  Status
}

// Status is what a Watcher did last.
type Status struct {
	// Applied is when a version was last put in force; zero if never.
	Applied time.Time
	// Refused counts the versions refused.
	Refused int
	// Err is why the file's current version is refused, or nil when it is
	// the one in force.
	Err error
}

// New returns a Watcher of the file at path. apply validates a version as
// a whole and puts it in force atomically, or returns why it refuses it
// (then nothing may have changed).
func New(path string, apply func(data []byte) error, optFns ...func(*Options)) (*Watcher, error) {
	w := &Watcher{path: path, apply: apply}
	for _, fn := range optFns {
		fn(&w.opts)
	}
	switch {
	case path == "" || apply == nil:
		return nil, errors.New("reload: a path and an apply function are required")
	case w.opts.Interval < 0:
		return nil, fmt.Errorf("reload: Options.Interval is %v; accepted: positive (0 for the default, %v)", w.opts.Interval, DefaultInterval)
	case w.opts.Interval == 0:
		w.opts.Interval = DefaultInterval
	}
	if w.opts.Logger == nil {
		w.opts.Logger = slog.New(slog.DiscardHandler)
	}
	return w, nil
}

// Prime records data as the version already in force (read by whoever
// loaded the file first), so that Check applies only later versions.
func (w *Watcher) Prime(data []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen, w.primed, w.lastErr = sha256.Sum256(data), true, nil
	w.status.Applied = time.Now()
	w.status.Err = nil
}

// Check reads the file and, when its content differs from the version
// checked last, applies it. It reports whether a new version was put in
// force, and returns the error of a version refused (each time it is
// called while the file holds that version; it is logged and observed
// once). A file that cannot be read is refused like an invalid version.
func (w *Watcher) Check() (bool, error) { return w.CheckContext(context.Background()) }

// CheckContext is Check with a context for Options.Read.
func (w *Watcher) CheckContext(ctx context.Context) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var data []byte
	var err error
	if w.opts.Read != nil {
		data, err = w.opts.Read(ctx)
	} else {
		data, err = os.ReadFile(w.path)
	}
	if errors.Is(err, os.ErrNotExist) && w.opts.Missing != nil {
		data, err = w.opts.Missing, nil
	}
	var h [sha256.Size]byte
	if err != nil {
		h = sha256.Sum256([]byte("\x00read error\x00" + err.Error()))
	} else {
		h = sha256.Sum256(data)
	}
	if w.primed && h == w.seen {
		return false, w.lastErr
	}
	w.seen, w.primed = h, true
	if err == nil {
		err = w.apply(data)
	}
	if err != nil {
		err = fmt.Errorf("%s %s refused; the last good version stays in force: %w", w.opts.Source, w.path, err)
		w.lastErr = err
		w.status.Refused++
		w.status.Err = err
		w.opts.Logger.Error("configuration refused; the last good version stays in force",
			"source", w.opts.Source, "path", w.path, "error", err)
		if w.opts.Observer != nil {
			w.opts.Observer.Reloaded(w.opts.Source, err)
		}
		return false, err
	}
	w.lastErr = nil
	w.status.Applied = time.Now()
	w.status.Err = nil
	w.opts.Logger.Info("configuration applied", "source", w.opts.Source, "path", w.path, "sha256", fmt.Sprintf("%x", h[:8]))
	if w.opts.Observer != nil {
		w.opts.Observer.Reloaded(w.opts.Source, nil)
	}
	return true, nil
}

// Run checks the file every Interval until ctx is done.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = w.CheckContext(ctx) // logged and observed by Check
		}
	}
}

// Status returns what the Watcher did last.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}
