// Package fault is logdelivery's one answer to "retry or not": it marks
// errors as permanent or retryable, carries an optional retry-after hint
// and a partial-progress value, and classifies any error, however deep the
// marks are wrapped. Every package of the module classifies through it;
// nothing else defines error classes.
//
// # The rule
//
// An error is permanent when its tree (the error, what it wraps, and every
// member of a join) holds a permanent mark; every other non-nil error is
// retryable. So:
//
//   - errors.Is(err, ErrPermanent) and IsPermanent(err) always agree, and
//     IsRetryable(err) is exactly their negation for a non-nil err;
//   - an unclassified error (a network failure, a context deadline,
//     anything unexpected) is retryable, so that nothing is dropped by
//     accident: with a dead-letter queue behind, what keeps failing is set
//     aside, never lost;
//   - a join (errors.Join, or fmt.Errorf with several %w) is retryable when
//     some member is retryable and none is permanent, and permanent as soon
//     as one member is;
//   - wrapping never reclassifies: Retryable(err) of a permanent err returns
//     it unchanged. Classify a failure where it is understood, once: a
//     package that knows a failure is the processor's own (its table, its
//     central role, its bucket) marks it retryable at the source. The one
//     exception is explicit: AlwaysRetryable puts a boundary around an
//     error whose cause was classified by someone who could not know.
//
// Error types of any package can classify themselves permanent with an
// Is(target error) bool method that matches ErrPermanent.
package fault

import (
	"errors"
	"time"
)

// ErrPermanent is matched by errors.Is on every permanent error:
// errors.Is(err, fault.ErrPermanent) == fault.IsPermanent(err).
var ErrPermanent = errors.New("permanent failure")

// Error is a marked error. Create it with Permanent, Retryable,
// WithRetryAfter or WithProgress; inspect it with the functions of this
// package rather than with errors.As, since an error's class is decided by
// its whole tree.
type Error struct {
	// Err is the failure.
	Err error
	// Permanent marks Err (and so every error wrapping it) permanent.
	Permanent bool
	// RetryAfter, when positive, is the shortest wait before a retry can
	// succeed (a rate limit's reset, a Retry-After header).
	RetryAfter time.Duration
	// Progress, when not nil, says how far the failed work got before it
	// failed (for example a checkpoint a retry can resume from).
	Progress any
}

// Error returns the message of the wrapped error: marks do not change
// messages.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(e, ErrPermanent) true for a permanent mark.
func (e *Error) Is(target error) bool { return e.Permanent && target == ErrPermanent }

// Permanent marks err permanent: retrying the same input cannot succeed
// (a malformed key, an invalid config, access denied on the tenant's side,
// a missing destination, a corrupt object). It returns nil for nil, and err
// itself when it is permanent already.
func Permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return &Error{Err: err, Permanent: true}
}

// Retryable marks err retryable: the same input may succeed later
// (throttling, 5xx, timeouts, the processor's own failures). Unclassified
// errors are retryable anyway; the mark documents the decision. It returns
// nil for nil and a permanent err unchanged (see the package doc).
func Retryable(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	if isMark(err) {
		return err
	}
	return &Error{Err: err}
}

// AlwaysRetryable returns err as a retryable error whatever its tree says:
// for failures that are the caller's own whatever their cause (a config
// store answering "access denied" says nothing about the objects waiting
// for it). errors.Is and errors.As still reach every error in err's tree,
// except that nothing in it is permanent any more. It returns nil for nil.
func AlwaysRetryable(err error) error {
	if err == nil || !IsPermanent(err) {
		return Retryable(err)
	}
	return &boundary{err: err}
}

// boundary hides the permanent marks of err: it has no Unwrap, so that
// errors.Is stops at it, and answers Is and As for err's tree itself.
type boundary struct{ err error }

func (b *boundary) Error() string { return b.err.Error() }

func (b *boundary) Is(target error) bool {
	return target != ErrPermanent && errors.Is(b.err, target)
}

func (b *boundary) As(target any) bool {
	if _, ok := target.(**Error); ok {
		return false // the marks behind the boundary do not apply
	}
	return errors.As(b.err, target)
}

// WithRetryAfter marks err retryable with a hint: no retry should come
// before d has passed. It returns nil for nil and a permanent err
// unchanged.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return &Error{Err: err, RetryAfter: max(d, 0)}
}

// WithProgress attaches progress, a value saying how far the failed work
// got, to err without changing its class. It returns nil for nil.
func WithProgress(err error, progress any) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, Progress: progress}
}

// IsPermanent reports whether err must not be retried: some error in its
// tree is marked permanent. It is false for nil.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// IsRetryable reports whether work that failed with err should be tried
// again: err is not nil and not permanent.
func IsRetryable(err error) bool { return err != nil && !IsPermanent(err) }

// RetryAfter returns the retry-after hint of a retryable err: the largest
// hint in its tree, so that a retry of joined work waits for the slowest
// part. It returns 0 for nil, for permanent errors and when no hint is set.
func RetryAfter(err error) time.Duration {
	if !IsRetryable(err) {
		return 0
	}
	var d time.Duration
	walk(err, func(e error) bool {
		if m, ok := e.(*Error); ok {
			d = max(d, m.RetryAfter)
		}
		return false
	})
	return d
}

// Progress returns the first progress value of type T in err's tree, in
// the order errors.Is visits it.
func Progress[T any](err error) (T, bool) {
	var out T
	found := false
	walk(err, func(e error) bool {
		if m, ok := e.(*Error); ok {
			if p, ok := m.Progress.(T); ok {
				out, found = p, true
				return true
			}
		}
		return false
	})
	return out, found
}

// isMark reports whether err itself is a retryable mark.
func isMark(err error) bool {
	m, ok := err.(*Error)
	return ok && !m.Permanent && m.RetryAfter == 0 && m.Progress == nil
}

// walk visits err's tree depth first, as errors.Is does, until visit
// returns true.
func walk(err error, visit func(error) bool) bool {
	for err != nil {
		if visit(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e, visit) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
