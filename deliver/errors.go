package deliver

import "errors"

// ErrPermanent and ErrRetryable are matched by errors.Is on classified
// errors: errors.Is(err, deliver.ErrPermanent).
var (
	ErrPermanent = errors.New("permanent failure")
	ErrRetryable = errors.New("retryable failure")
)

// Error is a classified delivery error. Use errors.As to inspect it.
type Error struct {
	Err       error
	Retryable bool
}

// Error returns the message of the wrapped error.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's class.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrPermanent:
		return !e.Retryable
	case ErrRetryable:
		return e.Retryable
	}
	return false
}

// Permanent marks err as permanent: retrying the same input cannot succeed
// (bad key, invalid config, access denied, missing destination, corrupt
// object). It returns nil for a nil err and keeps an existing
// classification.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	if classified(err) {
		return err
	}
	return &Error{Err: err}
}

// Retryable marks err as retryable: the same input may succeed later
// (throttling, 5xx, timeouts, network). It returns nil for a nil err and
// keeps an existing classification.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	if classified(err) {
		return err
	}
	return &Error{Err: err, Retryable: true}
}

// classified reports whether err already says which class it is in.
func classified(err error) bool {
	return errors.Is(err, ErrPermanent) || errors.Is(err, ErrRetryable)
}

// IsRetryable reports whether a delivery that failed with err should be
// tried again. Classified errors answer for themselves, the outermost
// classification in the chain winning; error types of other packages can
// classify themselves with an Is method matching ErrPermanent or
// ErrRetryable. Every unclassified
// error (context deadlines, network failures, anything unexpected) counts as
// retryable, so that an unexpected failure is redelivered (and, with a
// dead-letter queue, eventually set aside) rather than silently lost. It
// returns false for nil.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	// The outermost classification wins, so that a wrapper can reclassify
	// what it wraps (a config store's "access denied" says nothing about the
	// object, so the dispatcher makes it retryable).
	for e := err; e != nil; {
		switch {
		case e == ErrPermanent:
			return false
		case e == ErrRetryable:
			return true
		}
		if c, ok := e.(interface{ Is(error) bool }); ok {
			if c.Is(ErrPermanent) {
				return false
			}
			if c.Is(ErrRetryable) {
				return true
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			e = u.Unwrap()
		case interface{ Unwrap() []error }:
			// Joined errors: permanent if any of them is.
			return !errors.Is(e, ErrPermanent)
		default:
			e = nil
		}
	}
	return true
}

// IsPermanent reports whether err is a failure that must not be retried.
func IsPermanent(err error) bool { return err != nil && !IsRetryable(err) }
