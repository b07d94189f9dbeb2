package logdelivery

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/limits"
)

// admit admits a job under its tenant's limits (Options.Limits), before
// the delivery takes any slot: a limited tenant waits without holding
// workers others need. A copy (a kind that does not read records) is
// charged the object's size in bytes here; record deliveries are charged
// as their records flow (limitedReader), against what the limiter prepaid
// at admission. It returns nil without limits.
func (d *Dispatcher) admit(ctx context.Context, j job) (*limits.Permit, error) {
	if d.opts.Limits == nil {
		return nil, nil
	}
	cfg := j.plan.cfg
	// A copy costs its size; a record stream is charged as it flows, with
	// what the tenant's last ones sent prepaid.
	events, bytes := int64(0), j.o.obj.Size
	if j.plan.records {
		events, bytes = limits.Unknown, limits.Unknown
	}
	p, err := d.opts.Limits.Admit(ctx, cfg.TenantID, cfg.Kind(), events, bytes)
	if err != nil {
		return nil, fmt.Errorf("admitting the delivery to %s/%s: %w", cfg.TenantID, cfg.Type, err)
	}
	return p, nil
}

// rated reports whether a delivery under p has records to charge: its
// tenant and kind have a rate (a change of the limits reaches the next
// deliveries).
func rated(p *limits.Permit) bool {
	if p == nil {
		return false
	}
	l := p.Limits()
	return l.EventsPerSecond > 0 || l.BytesPerSecond > 0
}

// sharedSlot is a delivery's slot of the Dispatcher's shared workers
// (MaxConcurrency), which it gives up while it waits for its tenant's
// limits and takes back before it goes on. It is safe for concurrent use:
// a deliverer may read records from a goroutine of its own.
type sharedSlot struct {
	sem *semaphore.Weighted

	mu    sync.Mutex
	held  bool
	ended bool
}

func (s *sharedSlot) acquire(ctx context.Context) error {
	if err := s.sem.Acquire(ctx, 1); err != nil {
		return err
	}
	s.mu.Lock()
	s.held = true
	s.mu.Unlock()
	return nil
}

// pause gives the slot up.
func (s *sharedSlot) pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held {
		s.held = false
		s.sem.Release(1)
	}
}

// resume takes a slot again, waiting for one.
func (s *sharedSlot) resume(ctx context.Context) error {
	s.mu.Lock()
	if s.held || s.ended {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	if err := s.sem.Acquire(ctx, 1); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		s.sem.Release(1)
		return nil
	}
	s.held = true
	return nil
}

// release gives the slot up for good.
func (s *sharedSlot) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	if s.held {
		s.held = false
		s.sem.Release(1)
	}
}

// limitedReader charges every record it hands out to its delivery's
// permit: one event and the message's bytes. When the tenant is over its
// rate it waits, without its shared slot, before handing the record out;
// when the wait would be longer than the limiter allows, the record is
// not handed out and Next fails with the permit's error (matching
// limits.ErrLimited, retryable with a retry-after hint): what was handed
// out before is the deliverer's to send, the rest is left for the retry.
type limitedReader struct {
	deliver.RecordReader
	ctx    context.Context
	permit *limits.Permit
	slot   *sharedSlot
}

func (r *limitedReader) Next() (deliver.Record, error) {
	rec, err := r.RecordReader.Next()
	if err != nil {
		return rec, err
	}
	wait, err := r.permit.Reserve(r.ctx, 1, int64(len(rec.Message)))
	if err != nil {
		return deliver.Record{}, err
	}
	if wait > 0 {
		r.slot.pause()
		err := r.permit.Sleep(r.ctx, wait)
		if rerr := r.slot.resume(r.ctx); err == nil && rerr != nil {
			err = fault.Retryable(fmt.Errorf("waiting for a delivery slot after the tenant's rate limit: %w", rerr))
		}
		if err != nil {
			return deliver.Record{}, err
		}
	}
	return rec, nil
}

// RetryAfter returns how long the message should stay away before it is
// tried again, when every retryable failure of it carries a retry-after
// hint (a tenant over its limits, a destination's Retry-After): the
// longest of them, so that its slowest part can succeed. It returns 0
// when nothing needs a retry or some retryable failure has no hint: then
// the runtime's own retry delay applies.
func (m MessageResult) RetryAfter() time.Duration {
	var d time.Duration
	for _, r := range m.Results {
		if !r.Retryable() {
			continue
		}
		h := fault.RetryAfter(r.Err)
		if h <= 0 {
			return 0
		}
		d = max(d, h)
	}
	return d
}
