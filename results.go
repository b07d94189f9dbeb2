package logdelivery

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// Outcome is how one (object, destination) pair ended.
type Outcome int

// Outcomes of a Result.
const (
	Delivered Outcome = iota + 1
	Skipped
	Failed
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Skipped:
		return "skipped"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// MarshalText encodes the outcome as its name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Reasons a Result is Skipped.
const (
	ReasonNoConfig = "tenant has no delivery config"
	ReasonDisabled = "delivery config disabled"
	ReasonExpired  = "delivery config expired (ttl)"
	ReasonFiltered = "not selected by desired_logs, groups or match"
	// ReasonDelivered: the ledger says this object was delivered to this
	// destination, under this config revision, before (a retry, a
	// duplicate notification, a replay).
	ReasonDelivered = "delivered before (ledger)"
)

// Result is the outcome of one object at one destination.
type Result struct {
	Object Object
	// Key is the parsed object key; zero when the key could not be parsed.
	Key keyparse.Key
	// Destination is the config's type ("cloudwatch", "s3:archive"); empty
	// when the result is about the object as a whole (bad key, no config,
	// store failure).
	Destination string
	Config      tenant.DeliveryConfig
	Outcome     Outcome
	Reason      string          // why the pair was skipped
	Receipt     deliver.Receipt // what reached the destination, even on failure
	// Err is the failure, classified: use fault.IsRetryable, or errors.Is
	// with fault.ErrPermanent.
	Err      error
	Started  time.Time
	Duration time.Duration

	index int // position of Object in the Dispatch call
}

// Retryable reports whether the result is a failure worth retrying.
func (r Result) Retryable() bool { return r.Outcome == Failed && fault.IsRetryable(r.Err) }

// MarshalJSON encodes the result as a flat, stable JSON object, one per
// line in logs or tools:
//
//	{"id":"…","bucket":"…","key":"…","tenant":"acme","application":"api",
//	 "destination":"s3","outcome":"failed","error":"…","retryable":true,
//	 "receipt":{"events":10,…},"duration_ms":12.5}
func (r Result) MarshalJSON() ([]byte, error) {
	out := resultJSON{
		ID: r.Object.ID, Bucket: r.Object.Bucket, Key: r.Object.Key,
		Tenant: r.Key.Tenant, Application: r.Key.Application, Destination: r.Destination,
		Outcome: r.Outcome, Reason: r.Reason, Receipt: r.Receipt,
		DurationMS: float64(r.Duration.Microseconds()) / 1000,
	}
	if r.Err != nil {
		out.Error = r.Err.Error()
		out.Retryable = r.Retryable()
	}
	return json.Marshal(out)
}

type resultJSON struct {
	ID          string          `json:"id,omitempty"`
	Bucket      string          `json:"bucket"`
	Key         string          `json:"key"`
	Tenant      string          `json:"tenant,omitempty"`
	Application string          `json:"application,omitempty"`
	Destination string          `json:"destination,omitempty"`
	Outcome     Outcome         `json:"outcome"`
	Reason      string          `json:"reason,omitempty"`
	Error       string          `json:"error,omitempty"`
	Retryable   bool            `json:"retryable,omitempty"`
	Receipt     deliver.Receipt `json:"receipt"`
	DurationMS  float64         `json:"duration_ms,omitempty"`
}

// Results are the results of one Dispatch call.
type Results []Result

// RetryIDs returns the ids of the objects with at least one retryable
// failure, each once, in dispatch order. Objects whose failures are all
// permanent are not retried: they are reported, not redelivered forever.
func (rs Results) RetryIDs() []string {
	var ids []string
	seen := map[string]bool{}
	for _, r := range rs {
		if r.Retryable() && !seen[r.Object.ID] {
			seen[r.Object.ID] = true
			ids = append(ids, r.Object.ID)
		}
	}
	return ids
}

// PermanentFailureIDs returns the ids of the objects that failed at some
// destination, permanently, and need no retry anywhere.
func (rs Results) PermanentFailureIDs() []string {
	retry := map[string]bool{}
	for _, id := range rs.RetryIDs() {
		retry[id] = true
	}
	var ids []string
	seen := map[string]bool{}
	for _, r := range rs {
		if r.Outcome == Failed && !r.Retryable() && !retry[r.Object.ID] && !seen[r.Object.ID] {
			seen[r.Object.ID] = true
			ids = append(ids, r.Object.ID)
		}
	}
	return ids
}

// Count returns how many results have the outcome.
func (rs Results) Count(o Outcome) int {
	n := 0
	for _, r := range rs {
		if r.Outcome == o {
			n++
		}
	}
	return n
}

// Err returns nil when nothing failed, or a *DispatchError listing every
// failure. Its class agrees with RetryIDs: it is retryable exactly when
// some object needs a retry (fault.IsRetryable(rs.Err()) ==
// (len(rs.RetryIDs()) > 0)), and permanent otherwise.
func (rs Results) Err() error {
	var e DispatchError
	for _, r := range rs {
		if r.Outcome != Failed {
			continue
		}
		dest := r.Destination
		if dest == "" {
			dest = "(all destinations)"
		}
		e.Failures = append(e.Failures, &ResultError{Bucket: r.Object.Bucket, Key: r.Object.Key, Destination: dest, Err: r.Err})
	}
	if len(e.Failures) == 0 {
		return nil
	}
	return &e
}

// DispatchError is the failures of one Dispatch call, from Results.Err.
type DispatchError struct {
	Failures []*ResultError // every failure, in result order
}

func (e *DispatchError) Error() string {
	msgs := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		msgs[i] = f.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the failures that decide the error's class, for errors.Is
// and errors.As: the retryable ones when some object needs a retry (a
// permanent failure of another object does not stop that retry), every
// failure otherwise. Failures holds them all.
func (e *DispatchError) Unwrap() []error {
	var retry []error
	for _, f := range e.Failures {
		if fault.IsRetryable(f.Err) {
			retry = append(retry, f)
		}
	}
	if len(retry) > 0 {
		return retry
	}
	all := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		all[i] = f
	}
	return all
}

// ResultError is one failure in Results.Err.
type ResultError struct {
	Bucket, Key, Destination string
	Err                      error
}

func (e *ResultError) Error() string {
	return fmt.Sprintf("s3://%s/%s → %s: %v", e.Bucket, e.Key, e.Destination, e.Err)
}

func (e *ResultError) Unwrap() error { return e.Err }
