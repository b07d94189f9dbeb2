// Package delivertest holds what tests of destinations need: RunKind, the
// conformance suite every destination kind runs (run it on yours), a
// recording Deliverer and a settings-free Kind for tests of code that
// dispatches deliveries.
package delivertest

import (
	"context"
	"sync"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/tenant"
)

// Recorder is a deliver.Deliverer that records every delivery it is handed
// and answers with Func, or with a Receipt of one object when Func is nil.
// It is safe for concurrent use.
type Recorder struct {
	// Func decides the outcome of each delivery. It may block (for
	// example on a channel) to simulate a slow destination.
	Func func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error)

	mu         sync.Mutex
	deliveries []*deliver.Delivery
}

// Deliver records d and returns Func's answer.
func (r *Recorder) Deliver(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
	r.mu.Lock()
	r.deliveries = append(r.deliveries, d)
	r.mu.Unlock()
	if r.Func != nil {
		return r.Func(ctx, d)
	}
	return deliver.Receipt{Objects: 1, Calls: 1}, nil
}

// Deliveries returns the deliveries recorded so far, in arrival order.
func (r *Recorder) Deliveries() []*deliver.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*deliver.Delivery(nil), r.deliveries...)
}

// Keys returns the object keys of the deliveries recorded so far.
func (r *Recorder) Keys() []string {
	var keys []string
	for _, d := range r.Deliveries() {
		keys = append(keys, d.Object.Key)
	}
	return keys
}

// Kind returns a destination kind named name, delivered by d, whose configs
// carry no settings: for tests of code that dispatches to kinds of its own.
// Its deliveries read records when records is true.
func Kind(name string, d deliver.Deliverer, records bool) deliver.Kind {
	return deliver.Kind{
		Name:        name,
		Summary:     "A test kind without settings.",
		NewSettings: func() deliver.Settings { return new(NoSettings) },
		Records:     records,
		Deliverer:   d,
	}
}

// NoSettings are the settings of a Kind: none.
type NoSettings struct{}

// Validate accepts the empty settings.
func (*NoSettings) Validate(tenant.DeliveryConfig) []tenant.FieldError { return nil }
