package configapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// oldGlobalCap is how many nonces the shared cache held, for every key
// together, before nonces were bounded per key.
const oldGlobalCap = 100_000

// floodEnv is a Handler authenticating with NewHMAC's defaults on a fake
// clock, without logging, calling ServeHTTP directly so that floods are
// fast.
type floodEnv struct {
	t      testing.TB
	clock  *fakeClock
	auth   *HMAC
	h      *Handler
	nonces atomic.Int64
}

func newFloodEnv(t testing.TB) *floodEnv {
	t.Helper()
	f := &floodEnv{t: t, clock: newClock()}
	mem, err := memstore.New(nil)
	require.NoError(t, err)
	f.auth = NewHMAC(testKeys, func(o *HMACOptions) { o.Now = f.clock.Now })
	f.h, err = New(mem, testKinds(), f.auth, func(o *Options) { o.Now = f.clock.Now })
	require.NoError(t, err)
	return f
}

// get sends the Handler a GET signed with keyID's secret (or secret, if
// not nil) at time at (the clock's now if zero).
func (f *floodEnv) get(keyID string, secret []byte, at time.Time) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, f.signed(keyID, secret, at))
	return rec
}

// authenticate passes a request signed like get's to the Handler's
// authenticator only, which is where floods are refused: it is quicker
// than a whole request, so that floods larger than the old cache stay
// fast under the race detector.
func (f *floodEnv) authenticate(keyID string) error {
	_, err := f.auth.Authenticate(f.signed(keyID, nil, time.Time{}), nil)
	return err
}

func (f *floodEnv) signed(keyID string, secret []byte, at time.Time) *http.Request {
	if secret == nil {
		secret = testKeys[keyID]
	}
	if at.IsZero() {
		at = f.clock.Now()
	}
	req := httptest.NewRequest(http.MethodGet, "/tenants/acme/delivery-configs", nil)
	nonce := fmt.Sprintf("flood-nonce-%012d", f.nonces.Add(1))
	if err := SignRequest(req, nil, keyID, secret, at, nonce); err != nil {
		panic(err)
	}
	return req
}

// stored returns how many nonces the authenticator holds.
func (f *floodEnv) stored() int {
	return f.auth.opts.Nonces.(*MemoryNonceCache).Len()
}

// One key sending more signed requests than the old shared cache held
// cannot refuse another key's requests: the second key's requests,
// interleaved with the flood, all succeed.
func TestFloodingKeyDoesNotLockOutOthers(t *testing.T) {
	f := newFloodEnv(t)
	const flood = oldGlobalCap + 1000
	k1 := map[string]int{} // outcome: count
	k2Sent := 0
	for i := 1; i <= flood; i++ {
		switch err := f.authenticate("k1"); {
		case err == nil:
			k1["accepted"]++
		case errors.Is(err, ErrRateLimited):
			k1["rate limited"]++
		default:
			k1[err.Error()]++
		}
		// k2 sends twice a (fake) second, well within its own limit.
		if i%500 == 0 {
			k2Sent++
			rec := f.get("k2", nil, time.Time{})
			require.Equal(t, http.StatusOK, rec.Code, "k2 request %d, after %d of k1's: %s", k2Sent, i, rec.Body)
		}
		f.clock.Add(time.Millisecond)
	}
	t.Logf("k1: %d requests over %s: %v; k2: %d of %d accepted",
		flood, time.Duration(flood)*time.Millisecond, k1, k2Sent, k2Sent)
	assert.Equal(t, flood, k1["accepted"]+k1["rate limited"], "k1 is accepted or rate limited: %v", k1)
	assert.Less(t, k1["accepted"], oldGlobalCap/10, "k1 is rate limited")
}

// A key over its rate limit gets 429 with Retry-After, stores nothing for
// the refused requests, and is served again once Retry-After has passed.
func TestRateLimitedKeyGets429AndRecovers(t *testing.T) {
	f := newFloodEnv(t)
	for i := range DefaultBurst {
		require.Equal(t, http.StatusOK, f.get("k1", nil, time.Time{}).Code, "request %d of the burst", i+1)
	}
	stored := f.stored()
	var wait time.Duration
	for range 10 * DefaultBurst {
		rec := f.get("k1", nil, time.Time{})
		require.Equal(t, http.StatusTooManyRequests, rec.Code, "%s", rec.Body)
		wait = retryAfter(t, rec.Header())
		assert.Equal(t, mediaProblem, rec.Header().Get("Content-Type"))
		assert.Contains(t, rec.Body.String(), `"status":429`)
	}
	assert.Equal(t, time.Second, wait, "a token comes back within a second; Retry-After rounds up")
	assert.Equal(t, stored, f.stored(), "refused requests store no nonce")
	assert.Equal(t, http.StatusOK, f.get("k2", nil, time.Time{}).Code, "other keys are not limited")

	f.clock.Add(wait)
	for i := range int(DefaultRate * wait.Seconds()) {
		require.Equal(t, http.StatusOK, f.get("k1", nil, time.Time{}).Code, "request %d after Retry-After", i+1)
	}
	assert.Equal(t, http.StatusTooManyRequests, f.get("k1", nil, time.Time{}).Code, "Rate tokens a second, no more")
}

// A timestamp further ahead of the server's clock than FutureSkew is
// refused with 401 before it costs any storage.
func TestFutureTimestampBeyondSkewStoresNothing(t *testing.T) {
	f := newFloodEnv(t)
	for _, ahead := range []time.Duration{DefaultFutureSkew + time.Second, 2 * DefaultFutureSkew, DefaultWindow} {
		for range 3 * DefaultBurst {
			rec := f.get("k1", nil, f.clock.Now().Add(ahead))
			require.Equal(t, http.StatusUnauthorized, rec.Code, "%s ahead: %s", ahead, rec.Body)
			assert.Contains(t, rec.Body.String(), "X-LD-Date")
		}
	}
	assert.Zero(t, f.stored(), "refused timestamps store no nonce")
	// Nor did they use the key's rate budget.
	for i := range DefaultBurst {
		require.Equal(t, http.StatusOK, f.get("k1", nil, f.clock.Now().Add(DefaultFutureSkew)).Code,
			"request %d, exactly FutureSkew ahead", i+1)
	}
	assert.Equal(t, DefaultBurst, f.stored())
}

// Requests whose signature does not verify, for a known key id, use
// neither the key's rate budget nor its nonce budget.
func TestBadSignaturesUseNoBudget(t *testing.T) {
	f := newFloodEnv(t)
	for range oldGlobalCap / 10 {
		require.Equal(t, http.StatusUnauthorized, f.get("k1", []byte("not-the-secret"), time.Time{}).Code)
	}
	assert.Zero(t, f.stored(), "bad signatures store no nonce")
	for i := range DefaultBurst {
		require.Equal(t, http.StatusOK, f.get("k1", nil, time.Time{}).Code, "request %d of the burst", i+1)
	}
	assert.Equal(t, http.StatusTooManyRequests, f.get("k1", nil, time.Time{}).Code,
		"the burst is the key's own: the limit applies once it is spent")
}

// With one key flooding from many goroutines at full speed, every request
// of another key, sent within its limit, succeeds. The flood lasts a fixed
// wall time; the second key advances the fake clock by its own pace, so
// that the flooding key's bucket refills at its rate as well.
func TestFloodMeasurement(t *testing.T) {
	f := newFloodEnv(t)
	flooders := max(8, runtime.GOMAXPROCS(0))
	duration := 2 * time.Second
	if testing.Short() {
		duration = 200 * time.Millisecond
	}
	const k2Every = 200 * time.Millisecond // 5 a second, within DefaultRate
	var stop atomic.Bool
	var k1Sent, k1OK, k1Limited, k1Other atomic.Int64
	var wg sync.WaitGroup
	for range flooders {
		wg.Go(func() {
			for !stop.Load() {
				k1Sent.Add(1)
				switch f.get("k1", nil, time.Time{}).Code {
				case http.StatusOK:
					k1OK.Add(1)
				case http.StatusTooManyRequests:
					k1Limited.Add(1)
				default:
					k1Other.Add(1)
				}
			}
		})
	}
	start := time.Now()
	k2Sent, k2OK := 0, 0
	k2Refused := map[int]int{}
	for time.Since(start) < duration {
		k2Sent++
		if code := f.get("k2", nil, time.Time{}).Code; code == http.StatusOK {
			k2OK++
		} else {
			k2Refused[code]++
		}
		f.clock.Add(k2Every)
	}
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	fakeElapsed := time.Duration(k2Sent) * k2Every
	ratio := float64(k2OK) / float64(k2Sent)
	t.Logf("k1 flooding from %d goroutines: %d requests in %s (%.0f/s), %d accepted, %d refused with 429, %d other",
		flooders, k1Sent.Load(), elapsed.Round(time.Millisecond), float64(k1Sent.Load())/elapsed.Seconds(),
		k1OK.Load(), k1Limited.Load(), k1Other.Load())
	t.Logf("k2 meanwhile: %d of %d requests accepted, success ratio %.2f%%, over %s of fake time",
		k2OK, k2Sent, 100*ratio, fakeElapsed)
	assert.Equal(t, 1.0, ratio, "k2's refusals by status: %v", k2Refused)
	assert.Zero(t, k1Other.Load(), "k1 gets only 200 and 429")
	assert.LessOrEqual(t, k1OK.Load(), int64(DefaultBurst+DefaultRate*fakeElapsed.Seconds())+1,
		"k1 gets at most Burst + Rate × elapsed requests accepted")
}

// retryAfter parses a Retry-After header of seconds.
func retryAfter(t *testing.T, h http.Header) time.Duration {
	t.Helper()
	s, err := strconv.Atoi(h.Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q", h.Get("Retry-After"))
	return time.Duration(s) * time.Second
}
