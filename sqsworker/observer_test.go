package sqsworker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/sqsworker"
)

// recordingObserver keeps what the worker reports.
type recordingObserver struct {
	mu             sync.Mutex
	received       int
	receiveErrors  int
	processed      map[string]logdelivery.MessageResult
	settled        map[string]sqsworker.Settlement
	startedAfter   time.Time
	startedInOrder bool
}

func (o *recordingObserver) Received(n int) {
	o.mu.Lock()
	o.received += n
	o.mu.Unlock()
}

func (o *recordingObserver) ReceiveFailed() {
	o.mu.Lock()
	o.receiveErrors++
	o.mu.Unlock()
}

func (o *recordingObserver) Processed(res logdelivery.MessageResult, started time.Time, s sqsworker.Settlement) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.processed[res.ID] = res
	o.settled[res.ID] = s
	if started.Before(o.startedAfter) || started.After(time.Now()) {
		o.startedInOrder = false
	}
}

func (o *recordingObserver) count() (received, errs, processed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.received, o.receiveErrors, len(o.processed)
}

func TestObserverSeesEveryMessage(t *testing.T) {
	fake := newFake(body("c/ok/a/p/1.gz"), body("c/flaky/a/p/1.gz"), body("c/denied/a/p/1.gz"), "{malformed")
	fake.receiveErrs = 2
	d := dispatcher(t, func(_ context.Context, dl *deliver.Delivery) (deliver.Receipt, error) {
		switch dl.Key.Tenant {
		case "flaky":
			return deliver.Receipt{}, errors.New("throttled")
		case "denied":
			return deliver.Receipt{}, fault.Permanent(errors.New("AccessDenied"))
		}
		return deliver.Receipt{Objects: 1}, nil
	})
	obs := &recordingObserver{processed: map[string]logdelivery.MessageResult{}, settled: map[string]sqsworker.Settlement{}, startedAfter: time.Now(), startedInOrder: true}
	w, err := sqsworker.New(fake, "q", d, func(o *sqsworker.Options) {
		o.Observer = obs
		o.MaxReceiveBackoff = 20 * time.Millisecond
	})
	require.NoError(t, err)
	stop := start(t, w)
	eventually(t, "every message processed", func() bool { _, _, n := obs.count(); return n == 4 })
	stop()

	received, errs, _ := obs.count()
	assert.Equal(t, 4, received)
	assert.Equal(t, 2, errs)
	assert.True(t, obs.startedInOrder, "started is when processing began")
	assert.False(t, obs.processed["m0"].Retry() || obs.processed["m0"].Failed(), "delivered")
	assert.True(t, obs.processed["m1"].Retry(), "retried")
	assert.True(t, obs.processed["m2"].Failed(), "failed permanently")
	assert.True(t, obs.processed["m3"].Failed(), "malformed")
	assert.Equal(t, map[string]sqsworker.Settlement{"m0": sqsworker.Deleted, "m1": sqsworker.Released, "m2": sqsworker.Kept, "m3": sqsworker.Kept},
		obs.settled, "what the worker did with each, told after it did it")
}

func TestProbes(t *testing.T) {
	fake := newFake(body("c/slow/a/p/1.gz"))
	release := make(chan struct{})
	d := dispatcher(t, func(ctx context.Context, _ *deliver.Delivery) (deliver.Receipt, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return deliver.Receipt{Objects: 1}, nil
	})
	w, err := sqsworker.New(fake, "q", d, func(o *sqsworker.Options) {
		o.WaitTime = time.Second
		o.MaxReceiveBackoff = time.Millisecond
		o.MaxInFlight = 1
	})
	require.NoError(t, err)
	assert.Error(t, w.Live(), "not live before Run")
	assert.Error(t, w.Ready(), "not ready before Run")

	stop := start(t, w)
	eventually(t, "ready after the first receive", func() bool { return w.Ready() == nil })
	assert.NoError(t, w.Live())
	// The only slot is held by the slow message for longer than the
	// worker would go without a successful receive: a saturated worker is
	// healthy, not stuck.
	time.Sleep(3*time.Second + 100*time.Millisecond)
	assert.NoError(t, w.Healthy(), "every slot busy: healthy")
	assert.NoError(t, w.Ready())
	assert.NoError(t, w.Live())
	close(release)
	stop()
	assert.Error(t, w.Live(), "not live once Run returned")
	assert.ErrorContains(t, w.Ready(), "shutting down")
}
