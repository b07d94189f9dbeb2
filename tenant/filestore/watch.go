package filestore

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/internal/reload"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// ReloadObserver is told the outcome of every new version of the file.
type ReloadObserver interface {
	// Reloaded is called once per new version: applied (err nil) or
	// refused (err, an *InvalidError, names every problem; the last good
	// version stays in force).
	Reloaded(source string, err error)
}

// SourceConfigs is the source name of a Store's file in logs and metrics.
const SourceConfigs = "tenant_configs"

// InvalidError is a version of the file that Check refused as a whole:
// it is not a list of configs (Err), or some of its items cannot be used
// (Items: undecodable, duplicate, or refused by the Validator). The store
// keeps serving the last good version.
type InvalidError struct {
	Path  string
	Err   error
	Items []*tenant.ItemError
}

func (e *InvalidError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("filestore: %s: %v", e.Path, e.Err)
	}
	msgs := make([]string, len(e.Items))
	for i, it := range e.Items {
		msgs[i] = it.Error()
	}
	return fmt.Sprintf("filestore: %s: %d unusable items: %s", e.Path, len(e.Items), strings.Join(msgs, "; "))
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (e *InvalidError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Err}
	}
	out := make([]error, len(e.Items))
	for i, it := range e.Items {
		out[i] = it
	}
	return out
}

func (s *Store) newWatcher() error {
	w, err := reload.New(s.path, s.apply, func(o *reload.Options) {
		o.Source, o.Interval, o.Logger = SourceConfigs, s.opts.ReloadInterval, s.opts.Logger
		if s.opts.ReloadObserver != nil {
			o.Observer = s.opts.ReloadObserver
		}
		if s.opts.Create {
			o.Missing = []byte("[]")
		}
	})
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	w.Prime(s.loaded)
	s.watcher = w
	return nil
}

// apply puts a new version of the file in force when every item of it is
// usable. It holds the store's lock from the parse to the swap, as Reload
// does.
func (s *Store) apply(data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bytes.Equal(data, s.loaded) {
		return nil // the version in force (the store's own write)
	}
	mem, bad, err := parse(data, s.yaml, s.check, func(o *memstore.Options) { o.Now = s.opts.Now })
	if err != nil {
		return &InvalidError{Path: s.path, Err: err}
	}
	if len(bad) > 0 {
		e := &InvalidError{Path: s.path}
		for _, b := range bad {
			e.Items = append(e.Items, b.err)
		}
		return e
	}
	s.mem, s.bad, s.loaded = mem, nil, data
	return nil
}

// Check reads the file and, when its content changed since the version in
// force, validates the new version as a whole: if every item is usable it
// replaces what the store serves, atomically, and Check reports true;
// otherwise it is refused with an *InvalidError naming every problem,
// logged and told to the ReloadObserver once, and the store keeps serving
// the last good version. Unlike Reload, which serves the usable items of
// any version, Check never lets a broken version in.
func (s *Store) Check() (bool, error) { return s.watcher.Check() }

// Watch checks the file every ReloadInterval until ctx is done.
func (s *Store) Watch(ctx context.Context) { s.watcher.Run(ctx) }

// ReloadStatus is what the file's last versions did.
type ReloadStatus struct {
	// Applied is when a version was last put in force (Open included).
	Applied time.Time
	// Refused counts the versions Check refused.
	Refused int
	// Err is why the file's current version is refused; nil when it is
	// the version in force.
	Err error
}

// ReloadStatus returns what Check did last.
func (s *Store) ReloadStatus() ReloadStatus {
	st := s.watcher.Status()
	return ReloadStatus{Applied: st.Applied, Refused: st.Refused, Err: st.Err}
}
