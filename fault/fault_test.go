package fault_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/logdelivery/logdelivery/fault"
)

type selfClassified struct{}

func (selfClassified) Error() string        { return "bad input" }
func (selfClassified) Is(target error) bool { return target == fault.ErrPermanent }

// agrees checks the package's promise: errors.Is and the classifier never
// contradict each other.
func agrees(t *testing.T, err error) {
	t.Helper()
	assert.Equal(t, errors.Is(err, fault.ErrPermanent), fault.IsPermanent(err), "%v", err)
	if err != nil {
		assert.Equal(t, !fault.IsPermanent(err), fault.IsRetryable(err), "%v", err)
	}
}

func TestClassification(t *testing.T) {
	base := errors.New("boom")
	p := fault.Permanent(base)
	r := fault.Retryable(base)

	assert.True(t, fault.IsPermanent(p))
	assert.False(t, fault.IsRetryable(p))
	assert.True(t, fault.IsRetryable(r))
	assert.ErrorIs(t, p, fault.ErrPermanent)
	assert.NotErrorIs(t, r, fault.ErrPermanent)
	assert.ErrorIs(t, p, base, "the cause stays reachable")
	assert.Equal(t, "boom", p.Error(), "a mark does not change the message")

	wrapped := fmt.Errorf("delivering: %w", p)
	assert.True(t, fault.IsPermanent(wrapped), "the class survives wrapping")
	assert.Same(t, wrapped, fault.Retryable(wrapped), "wrapping never reclassifies a permanent error")
	assert.True(t, fault.IsPermanent(fault.Permanent(r)))
	assert.Same(t, p, fault.Permanent(p), "marking twice adds nothing")
	assert.Same(t, r, fault.Retryable(r))

	assert.True(t, fault.IsRetryable(base), "unclassified errors are retried, never silently lost")
	assert.True(t, fault.IsRetryable(context.DeadlineExceeded))
	assert.True(t, fault.IsPermanent(selfClassified{}), "error types of other packages classify themselves")
	assert.True(t, fault.IsPermanent(fmt.Errorf("x: %w", fault.ErrPermanent)), "the bare sentinel classifies too")
	assert.False(t, fault.IsRetryable(nil))
	assert.False(t, fault.IsPermanent(nil))
	for _, fn := range []func(error) error{fault.Permanent, fault.Retryable, fault.AlwaysRetryable,
		func(err error) error { return fault.WithRetryAfter(err, time.Second) },
		func(err error) error { return fault.WithProgress(err, 1) }} {
		assert.NoError(t, fn(nil))
	}
	for _, err := range []error{base, p, r, wrapped, selfClassified{}, nil} {
		agrees(t, err)
	}
}

// Each contradiction of the old taxonomy (deliver.ErrPermanent /
// deliver.ErrRetryable), now resolved.
func TestNoContradictions(t *testing.T) {
	denied := fault.Permanent(errors.New("AccessDeniedException"))

	t.Run("a store failure wrapping a permanent AWS error", func(t *testing.T) {
		// Old: errors.Is(ErrPermanent) and errors.Is(ErrRetryable) both true.
		err := fault.AlwaysRetryable(fmt.Errorf("looking up configs: %w", denied))
		agrees(t, err)
		assert.True(t, fault.IsRetryable(err))
		assert.NotErrorIs(t, err, fault.ErrPermanent)
		assert.ErrorContains(t, err, "AccessDeniedException")
	})
	t.Run("a join of two retryable errors", func(t *testing.T) {
		// Old: permanent when the members were such store failures.
		a := fault.AlwaysRetryable(fmt.Errorf("store a: %w", denied))
		b := fault.AlwaysRetryable(fmt.Errorf("store b: %w", denied))
		for _, err := range []error{errors.Join(a, b), errors.Join(fault.Retryable(errors.New("x")), errors.New("y")), fmt.Errorf("%w and %w", a, b)} {
			agrees(t, err)
			assert.True(t, fault.IsRetryable(err), "%v", err)
		}
	})
	t.Run("a join with a permanent member", func(t *testing.T) {
		err := errors.Join(fault.Retryable(errors.New("throttled")), denied)
		agrees(t, err)
		assert.True(t, fault.IsPermanent(err), "a join is permanent as soon as one member is")
	})
}

func TestAlwaysRetryableKeepsTheRestOfTheTree(t *testing.T) {
	type codeErr struct{ error }
	inner := &codeErr{errors.New("AccessDenied")}
	err := fault.AlwaysRetryable(fmt.Errorf("query: %w", fault.Permanent(inner)))
	var got *codeErr
	assert.ErrorAs(t, err, &got, "errors.As reaches behind the boundary")
	assert.Same(t, inner, got)
	assert.ErrorIs(t, err, inner)
	var mark *fault.Error
	assert.False(t, errors.As(err, &mark), "but not the marks it overrules")
	assert.True(t, fault.IsPermanent(fmt.Errorf("x: %w", fault.Permanent(err))), "and it can be marked permanent again")

	r := fault.Retryable(errors.New("slow"))
	assert.Same(t, r, fault.AlwaysRetryable(r), "a retryable error needs no boundary")
}

func TestRetryAfter(t *testing.T) {
	base := errors.New("rate limited")
	assert.Equal(t, time.Duration(0), fault.RetryAfter(base))
	assert.Equal(t, time.Duration(0), fault.RetryAfter(nil))

	r := fault.WithRetryAfter(base, 3*time.Second)
	assert.True(t, fault.IsRetryable(r))
	assert.Equal(t, 3*time.Second, fault.RetryAfter(fmt.Errorf("deliver: %w", r)))

	joined := errors.Join(r, fault.WithRetryAfter(errors.New("other"), 7*time.Second), errors.New("plain"))
	assert.Equal(t, 7*time.Second, fault.RetryAfter(joined), "joined work waits for its slowest part")

	p := fault.Permanent(base)
	assert.Same(t, p, fault.WithRetryAfter(p, time.Second), "a permanent error gets no hint")
	assert.Equal(t, time.Duration(0), fault.RetryAfter(errors.Join(r, p)), "nor does a join that is permanent")
	assert.Equal(t, time.Duration(0), fault.RetryAfter(fault.WithRetryAfter(base, -time.Second)))
}

func TestProgress(t *testing.T) {
	type checkpoint struct{ Records int }
	err := fault.WithProgress(fault.Permanent(errors.New("missing group")), checkpoint{Records: 41})
	assert.True(t, fault.IsPermanent(err), "progress keeps the class")
	cp, ok := fault.Progress[checkpoint](fmt.Errorf("deliver: %w", err))
	assert.True(t, ok)
	assert.Equal(t, 41, cp.Records)

	_, ok = fault.Progress[int](err)
	assert.False(t, ok, "progress is found by type")
	_, ok = fault.Progress[checkpoint](errors.New("none"))
	assert.False(t, ok)

	r := fault.WithProgress(errors.New("timeout"), checkpoint{Records: 2})
	assert.True(t, fault.IsRetryable(r))
	cp, ok = fault.Progress[checkpoint](errors.Join(errors.New("x"), r))
	assert.True(t, ok, "found in joins too")
	assert.Equal(t, 2, cp.Records)
}

func ExampleIsRetryable() {
	throttled := fault.WithRetryAfter(errors.New("429 Too Many Requests"), 2*time.Second)
	missing := fault.Permanent(errors.New("log group does not exist"))

	for _, err := range []error{throttled, missing, errors.Join(throttled, missing), context.DeadlineExceeded} {
		fmt.Printf("%-5v %v\n", fault.IsRetryable(err), fault.RetryAfter(err))
	}
	// Output:
	// true  2s
	// false 0s
	// false 0s
	// true  0s
}
