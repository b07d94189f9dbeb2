package limits

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/logdelivery/logdelivery/internal/reload"
)

// ReloadObserver is told the outcome of every new version of a watched
// file, for metrics (metrics.Reloads is one).
type ReloadObserver interface {
	// Reloaded is called once per new version of the file: applied (err
	// nil) or refused (err names every problem; the last good version
	// stays in force).
	Reloaded(source string, err error)
}

// SourceOverrides is the source name of an OverridesFile in logs and
// metrics.
const SourceOverrides = "limits_overrides"

// FileOptions configures an OverridesFile.
type FileOptions struct {
	// Interval is how often Run checks the file for a new version.
	// Default: 10s.
	Interval time.Duration
	// Parse configures the parsing of every version (ParseOptions.Kinds:
	// the kinds the processor delivers). Default: none.
	Parse func(*ParseOptions)
	// Logger receives a line per version applied (Info) or refused
	// (Error, naming every problem). Default: discard.
	Logger *slog.Logger
	// Observer is told every outcome. Default: none.
	Observer ReloadObserver
}

// OverridesFile keeps a Limiter's overrides in step with an overrides
// file, with last-good semantics: every new version (by content) is
// parsed and validated as a whole; a valid one is put in force at once
// (Limiter.SetOverrides), an invalid one is refused, logged with every
// problem, and the last good version stays in force. It is safe for
// concurrent use.
type OverridesFile struct {
	w *reload.Watcher
	l *Limiter
}

// FileStatus is what a watched file's last versions did.
type FileStatus struct {
	// Applied is when a version was last put in force.
	Applied time.Time
	// Refused counts the versions refused since the file was opened.
	Refused int
	// Err is why the file's current version is refused; nil when it is
	// the version in force.
	Err error
}

// OpenOverridesFile reads the overrides file at path and puts it in force
// on l. It fails, changing nothing, when the file cannot be read or is
// invalid: a processor should not start on overrides it cannot honour.
func OpenOverridesFile(path string, l *Limiter, optFns ...func(*FileOptions)) (*OverridesFile, error) {
	if l == nil {
		return nil, fmt.Errorf("limits: OpenOverridesFile needs a Limiter")
	}
	var o FileOptions
	for _, fn := range optFns {
		fn(&o)
	}
	var parseFns []func(*ParseOptions)
	if o.Parse != nil {
		parseFns = append(parseFns, o.Parse)
	}
	apply := func(data []byte) error {
		ov, err := ParseOverrides(data, parseFns...)
		if err != nil {
			return err
		}
		l.SetOverrides(ov)
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	if err := apply(data); err != nil {
		return nil, fmt.Errorf("limits: %s: %w", path, err)
	}
	w, err := reload.New(path, apply, func(ro *reload.Options) {
		ro.Source, ro.Interval, ro.Logger = SourceOverrides, o.Interval, o.Logger
		if o.Observer != nil {
			ro.Observer = o.Observer
		}
	})
	if err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	w.Prime(data)
	return &OverridesFile{w: w, l: l}, nil
}

// Check reads the file now and applies a new version, reporting whether
// it did; it returns the error of a version refused.
func (f *OverridesFile) Check() (bool, error) { return f.w.Check() }

// Run checks the file every Interval until ctx is done.
func (f *OverridesFile) Run(ctx context.Context) { f.w.Run(ctx) }

// Status returns what the file's last versions did.
func (f *OverridesFile) Status() FileStatus {
	st := f.w.Status()
	return FileStatus{Applied: st.Applied, Refused: st.Refused, Err: st.Err}
}
