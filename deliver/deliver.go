// Package deliver defines what a log destination is: the Deliverer
// interface, the Delivery it is handed, the Receipt it returns, the log
// Record it may consume, and destination kinds: a Kind is a name, a typed
// settings type with its own validation, and the Deliverer of the kind; a
// Registry holds the kinds a processor or a configuration API knows.
// Kinds live in subpackages (cloudwatch, s3); file and records deliver the
// cloudwatch and s3 kinds locally; delivertest holds a recording fake and
// the conformance suite every kind runs.
//
// # Adding a destination kind
//
// A kind is one package: its Settings type (json attribute names, doc and
// required tags, a Validate method), its Deliverer, and a function
// returning its Kind. The wiring that builds the processor lists it once
// (awsdispatch.Kinds, or a NewRegistry call of your own); the Dispatcher,
// the stores, the configuration API, its validate report and its OpenAPI
// document all ask the Registry.
package deliver

import (
	"context"
	"io"
	"time"

	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// A Deliverer sends one log object to one tenant destination.
//
// Deliver must be safe for concurrent use. It returns a Receipt describing
// what reached the destination even when it also returns an error (a partial
// delivery), and classifies its error with Permanent or Retryable where it
// knows better than the default (see IsRetryable).
type Deliverer interface {
	Deliver(ctx context.Context, d *Delivery) (Receipt, error)
}

// DelivererFunc adapts a function to the Deliverer interface.
type DelivererFunc func(ctx context.Context, d *Delivery) (Receipt, error)

// Deliver calls f(ctx, d).
func (f DelivererFunc) Deliver(ctx context.Context, d *Delivery) (Receipt, error) {
	return f(ctx, d)
}

// Object identifies a log object in the central bucket.
type Object struct {
	Bucket    string
	Key       string // decoded object key
	VersionID string // empty when unversioned or unknown
	ETag      string // the notification's, without quotes; empty when unknown
	Size      int64  // bytes; 0 when unknown
	// Time is when the object was written (event time or LastModified). It is
	// the timestamp fallback for records that carry none.
	Time time.Time
}

// Body is an opened log object.
type Body struct {
	io.ReadCloser
	ContentType     string
	ContentEncoding string
	Size            int64     // -1 when unknown
	LastModified    time.Time // zero when unknown
}

// Delivery is one (object, destination) pair handed to a Deliverer.
type Delivery struct {
	Object Object
	Key    keyparse.Key          // the parsed object key: whose logs these are
	Config tenant.DeliveryConfig // the destination, already validated
	// Settings are Config's settings decoded by its kind (for example a
	// *cloudwatch.Settings), already validated.
	Settings Settings
	// Identity is the operator's record of the tenant (its accounts and
	// ExternalId), the settings already bound to it (Registry.Bind); nil
	// when the processor runs without identities (the seed's compatibility
	// mode).
	Identity *tenant.Identity

	// Checkpoint is the progress an earlier attempt of this delivery saved
	// with Progress (the ledger's), for the deliverer to resume after;
	// nil when it starts from the beginning.
	Checkpoint []byte
	// Progress saves a checkpoint once the destination has accepted part of
	// the delivery, so that a retry resumes after it (a record deliverer
	// saves, per stream, how many records it had delivered). It is nil
	// without a ledger. A deliverer that cannot save stops with the
	// (retryable) error, so that a retry starts from what was saved.
	Progress func(ctx context.Context, checkpoint []byte) error

	// Open opens the raw object (for copying). Each call opens a new stream;
	// the caller closes it.
	Open func(ctx context.Context) (*Body, error)
	// Records opens the decoded log records of the object selected for this
	// destination, streamed. Each call starts a new stream; the caller
	// closes it. Several record destinations of one tenant share one
	// download and decode of the object.
	Records func(ctx context.Context) (RecordReader, error)
}

// Receipt reports what one delivery did. Counts are of log events unless
// stated otherwise; deliverers that copy whole objects report Objects and
// Bytes only.
type Receipt struct {
	Objects   int   `json:"objects,omitempty"`   // whole objects written (copy destinations)
	Events    int64 `json:"events,omitempty"`    // events accepted by the destination
	Bytes     int64 `json:"bytes,omitempty"`     // payload bytes accepted by the destination
	Rejected  int64 `json:"rejected,omitempty"`  // events the destination refused (e.g. rejectedLogEventsInfo)
	Dropped   int64 `json:"dropped,omitempty"`   // events not sent because the destination would refuse them
	Truncated int64 `json:"truncated,omitempty"` // events shortened to fit the destination's size limit
	Undecoded int64 `json:"undecoded,omitempty"` // input lines that did not become records (see DecodeStats.Undecoded)
	Resumed   int64 `json:"resumed,omitempty"`   // records an earlier attempt delivered, skipped (see Delivery.Checkpoint)
	Calls     int   `json:"calls,omitempty"`     // API calls made (writes, including retries)
	// Location names where the data went: a URI, log group/stream or path.
	Location string `json:"location,omitempty"`
}

// Add returns the sum of r and o. Location is taken from r unless empty.
func (r Receipt) Add(o Receipt) Receipt {
	r.Objects += o.Objects
	r.Events += o.Events
	r.Bytes += o.Bytes
	r.Rejected += o.Rejected
	r.Dropped += o.Dropped
	r.Truncated += o.Truncated
	r.Undecoded += o.Undecoded
	r.Resumed += o.Resumed
	r.Calls += o.Calls
	if r.Location == "" {
		r.Location = o.Location
	}
	return r
}

// Opener opens objects of the central bucket.
type Opener interface {
	Open(ctx context.Context, obj Object) (*Body, error)
}
