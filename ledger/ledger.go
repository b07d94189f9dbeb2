// Package ledger records what was delivered where, so that each (object,
// destination) pair is delivered once even across retries, crashes,
// duplicate notifications and replays: effectively once per destination.
//
// An entry is kept per Key: the object's identity (bucket, key, version id
// or ETag), the tenant, the destination (its config type) and the config's
// revision. The Dispatcher (logdelivery.Options.Ledger) reads the entry
// before a delivery: a delivery Done before is skipped; one that saved a
// checkpoint resumes after it (the destination's own progress, such as how
// many records of each log stream it had accepted); a changed config (a new
// revision) delivers again. After a destination accepted part of a
// delivery it saves a checkpoint (Save); at the end the Dispatcher marks it
// Done. On the happy path that is two calls per (object, destination), plus
// one per checkpoint.
//
// What can still duplicate: a crash (or a failed Save) between the
// destination accepting a batch and the checkpoint being written redelivers
// that batch, so at most one batch per stream per crash.
//
// Implementations: Memory (tests, a single process), File (the embedded
// local default) and dynamoledger (DynamoDB). ledgertest is the
// conformance suite they all run. Ledger
// failures are retryable: a delivery whose entry cannot be read is never
// skipped, it fails and is retried.
package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Key identifies one delivery: an object of the central bucket, to one
// destination of one tenant, under one revision of the destination's
// config.
type Key struct {
	Bucket string
	Object string // the object key
	// Version identifies the object's content: its version id, or its
	// ETag for unversioned buckets. Empty when neither is known: then an
	// overwrite of the key is taken for the same object.
	Version     string
	Tenant      string
	Destination string // the config's type, such as "cloudwatch:audit"
	Revision    string // the config's revision (tenant.DeliveryConfig.Revision)
}

// ID returns the key's stable identifier: a hex SHA-256 of its fields,
// safe as a storage key whatever the object key holds.
func (k Key) ID() string {
	h := sha256.New()
	for _, f := range []string{k.Bucket, k.Object, k.Version, k.Tenant, k.Destination, k.Revision} {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// String describes the key for messages.
func (k Key) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "s3://%s/%s", k.Bucket, k.Object)
	if k.Version != "" {
		fmt.Fprintf(&b, "@%s", k.Version)
	}
	fmt.Fprintf(&b, " → %s/%s", k.Tenant, k.Destination)
	if k.Revision != "" {
		fmt.Fprintf(&b, " (revision %s)", k.Revision)
	}
	return b.String()
}

// State is how far a delivery got.
type State uint8

// States of an entry.
const (
	// Started: part of the delivery was accepted; Checkpoint says how far.
	Started State = iota + 1
	// Done: the delivery is complete.
	Done
)

func (s State) String() string {
	switch s {
	case Started:
		return "started"
	case Done:
		return "done"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Entry is what the ledger holds of one delivery.
type Entry struct {
	State State
	// Checkpoint is the destination's last saved progress, opaque to the
	// ledger; nil for an entry marked Done without one.
	Checkpoint []byte
	Updated    time.Time
}

// Ledger stores delivery progress. Implementations are safe for concurrent
// use, and their failures are retryable (see package fault): a caller that
// cannot read an entry must not skip the delivery.
type Ledger interface {
	// Get returns the entry of k; ok is false when there is none (the
	// delivery never started, or its entry expired).
	Get(ctx context.Context, k Key) (e Entry, ok bool, err error)
	// Save records the checkpoint of a started delivery, replacing the
	// previous one. It never turns a Done entry back into a Started one.
	Save(ctx context.Context, k Key, checkpoint []byte) error
	// Done records that the delivery of k is complete.
	Done(ctx context.Context, k Key) error
}

// DefaultTTL is how long implementations keep an entry by default: longer
// than an SQS message can live (14 days), so that a replay from a
// dead-letter queue still finds what was delivered.
const DefaultTTL = 15 * 24 * time.Hour
