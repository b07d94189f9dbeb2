package limits

import (
	"math"
	"time"
)

// bucket is a token bucket filled at rate tokens per second up to burst.
// Takes are reservations: a take may leave the bucket in debt (negative),
// and the taker waits until the debt it made is repaid, so that takers are
// served in order and a take larger than the burst is possible (it waits
// for the bucket to be full, then for its excess). It is not safe for
// concurrent use; the caller holds a lock. The clock is the caller's: every
// method takes the current time.
type bucket struct {
	rate   float64 // tokens per second; 0: unlimited
	burst  float64
	tokens float64
	last   time.Time
}

// newBucket returns a full bucket.
func newBucket(rate, burst float64, now time.Time) bucket {
	return bucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// advance refills the bucket for the time since the last call.
func (b *bucket) advance(now time.Time) {
	if b.rate == 0 {
		return
	}
	if now.After(b.last) {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
}

// wait returns how long a take of n tokens at now would have to wait: 0
// when the bucket holds min(n, burst) tokens, else the time the missing
// ones take to refill.
func (b *bucket) wait(now time.Time, n float64) time.Duration {
	if b.rate == 0 || n < 0 {
		return 0
	}
	b.advance(now)
	need := math.Min(n, b.burst)
	if b.tokens >= need {
		return 0
	}
	return secondsDuration((need - b.tokens) / b.rate)
}

// take removes n tokens at now, possibly into debt.
func (b *bucket) take(now time.Time, n float64) {
	if b.rate == 0 {
		return
	}
	b.advance(now)
	b.tokens -= n
}

// give returns n tokens taken but not used.
func (b *bucket) give(now time.Time, n float64) {
	if b.rate == 0 {
		return
	}
	b.advance(now)
	b.tokens = math.Min(b.burst, b.tokens+n)
}

// full reports whether the bucket is full at now (an idle bucket can be
// dropped and made again).
func (b *bucket) full(now time.Time) bool {
	if b.rate == 0 {
		return true
	}
	b.advance(now)
	return b.tokens >= b.burst
}

// reconfigure sets a new rate and burst, keeping the tokens (at most the
// new burst); a bucket that becomes limited starts full.
func (b *bucket) reconfigure(rate, burst float64, now time.Time) {
	switch {
	case rate == 0:
		*b = bucket{last: now}
	case b.rate == 0:
		*b = newBucket(rate, burst, now)
	default:
		b.advance(now)
		b.rate, b.burst = rate, burst
		b.tokens = math.Min(b.tokens, burst)
	}
}

// secondsDuration converts seconds to a Duration, rounding up to the next
// nanosecond, so that a wait of that long always suffices.
func secondsDuration(s float64) time.Duration {
	if s >= math.MaxInt64/1e9 {
		return math.MaxInt64
	}
	return time.Duration(math.Ceil(s * 1e9))
}
