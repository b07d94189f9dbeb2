package limits

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBucketArithmetic(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	b := newBucket(10, 5, t0) // 10 tokens/s, burst 5

	assert.Zero(t, b.wait(t0, 5), "a full bucket grants its burst at once")
	b.take(t0, 5)
	assert.Equal(t, 100*time.Millisecond, b.wait(t0, 1), "one token refills in 1/rate")
	assert.Equal(t, 300*time.Millisecond, b.wait(t0, 3))
	assert.Zero(t, b.wait(at(100*time.Millisecond), 1), "refilled after its wait")
	assert.Equal(t, 200*time.Millisecond, b.wait(at(100*time.Millisecond), 3))

	// Debt: a reservation taken now makes the next taker wait longer.
	b.take(at(100*time.Millisecond), 3) // 1 - 3 = -2
	assert.InDelta(t, -2, b.tokens, 1e-9)
	assert.Equal(t, 300*time.Millisecond, b.wait(at(100*time.Millisecond), 1), "waits for the debt and its own token")
	assert.Equal(t, 200*time.Millisecond, b.wait(at(100*time.Millisecond), 0), "out of debt in 2/rate")

	// The bucket never fills past its burst.
	assert.True(t, b.full(at(time.Hour)))
	assert.InDelta(t, 5, b.tokens, 1e-9)

	// A take larger than the burst waits for a full bucket, then goes
	// into debt for the excess.
	b = newBucket(10, 5, t0)
	b.take(t0, 5)
	assert.Equal(t, 500*time.Millisecond, b.wait(t0, 12), "needs min(n, burst) tokens")
	b.take(at(500*time.Millisecond), 12)
	assert.InDelta(t, -7, b.tokens, 1e-9)
	assert.Equal(t, 800*time.Millisecond, b.wait(at(500*time.Millisecond), 1))

	// Time going backwards (a clock step) refills nothing and breaks nothing.
	b = newBucket(10, 5, at(time.Second))
	b.take(at(time.Second), 5)
	assert.Equal(t, 100*time.Millisecond, b.wait(t0, 1))

	// Tokens given back, at most up to the burst.
	b = newBucket(10, 5, t0)
	b.take(t0, 4)
	b.give(t0, 10)
	assert.InDelta(t, 5, b.tokens, 1e-9)

	// Unlimited buckets never wait.
	var u bucket
	u.take(t0, 1e12)
	assert.Zero(t, u.wait(t0, 1e12))
	assert.True(t, u.full(t0))
}

func TestBucketReconfigure(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newBucket(10, 10, t0)
	b.take(t0, 4) // 6 left
	b.reconfigure(100, 5, t0)
	assert.InDelta(t, 5, b.tokens, 1e-9, "capped at the new burst")
	b.take(t0, 1)
	assert.Equal(t, 10*time.Millisecond, b.wait(t0, 5), "the new rate refills the missing token")

	b.reconfigure(0, 0, t0)
	assert.Zero(t, b.wait(t0, 1e9), "unlimited")

	b.reconfigure(1, 3, t0)
	assert.InDelta(t, 3, b.tokens, 1e-9, "a bucket that becomes limited starts full")
	b.take(t0, 3)
	assert.Equal(t, time.Second, b.wait(t0, 1), "at the new rate, 1/s")
}

func TestSecondsDuration(t *testing.T) {
	assert.Equal(t, time.Nanosecond, secondsDuration(1e-10), "rounded up: the wait always suffices")
	assert.Equal(t, time.Second, secondsDuration(1))
	assert.Equal(t, time.Duration(1<<63-1), secondsDuration(1e300))
}
