package deliver_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/logdelivery/logdelivery/deliver"
)

type selfClassified struct{}

func (selfClassified) Error() string        { return "bad input" }
func (selfClassified) Is(target error) bool { return target == deliver.ErrPermanent }

func TestClassification(t *testing.T) {
	base := errors.New("boom")
	p := deliver.Permanent(base)
	r := deliver.Retryable(base)

	assert.False(t, deliver.IsRetryable(p))
	assert.True(t, deliver.IsPermanent(p))
	assert.True(t, deliver.IsRetryable(r))
	assert.ErrorIs(t, p, deliver.ErrPermanent)
	assert.NotErrorIs(t, p, deliver.ErrRetryable)
	assert.ErrorIs(t, r, deliver.ErrRetryable)
	assert.ErrorIs(t, p, base, "the cause stays reachable")
	assert.Equal(t, "boom", p.Error(), "classification does not change the message")

	wrapped := fmt.Errorf("delivering: %w", p)
	assert.False(t, deliver.IsRetryable(wrapped), "classification survives wrapping")
	assert.False(t, deliver.IsRetryable(deliver.Retryable(wrapped)), "an existing classification is kept")
	assert.True(t, deliver.IsRetryable(deliver.Permanent(r)))

	assert.True(t, deliver.IsRetryable(base), "unclassified errors are retried, never silently lost")
	assert.True(t, deliver.IsRetryable(context.DeadlineExceeded))
	assert.False(t, deliver.IsRetryable(selfClassified{}), "other packages' error types can classify themselves")
	assert.False(t, deliver.IsRetryable(nil))
	assert.False(t, deliver.IsPermanent(nil))
	assert.NoError(t, deliver.Permanent(nil))
	assert.NoError(t, deliver.Retryable(nil))
}

func TestReceiptAdd(t *testing.T) {
	a := deliver.Receipt{Events: 2, Bytes: 10, Rejected: 1, Calls: 1}
	b := deliver.Receipt{Events: 3, Bytes: 5, Dropped: 2, Truncated: 1, Calls: 2, Location: "x"}
	assert.Equal(t, deliver.Receipt{Events: 5, Bytes: 15, Rejected: 1, Dropped: 2, Truncated: 1, Calls: 3, Location: "x"}, a.Add(b))
}

type reclassified struct{ err error }

func (r reclassified) Error() string        { return r.err.Error() }
func (r reclassified) Unwrap() error        { return r.err }
func (r reclassified) Is(target error) bool { return target == deliver.ErrRetryable }

func TestOutermostClassificationWins(t *testing.T) {
	inner := deliver.Permanent(errors.New("AccessDenied"))
	assert.True(t, deliver.IsRetryable(reclassified{inner}))
	assert.True(t, deliver.IsRetryable(fmt.Errorf("lookup: %w", reclassified{inner})))
	assert.False(t, deliver.IsRetryable(fmt.Errorf("x: %w", deliver.ErrPermanent)), "a bare sentinel classifies too")
	assert.False(t, deliver.IsRetryable(errors.Join(errors.New("a"), inner)), "a join with a permanent error is permanent")
}
