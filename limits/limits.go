// Package limits holds per-tenant delivery limits: events per second and
// bytes per second (token buckets with a burst) and concurrent deliveries,
// for each tenant and destination kind, with defaults and per-tenant
// overrides read from a file shaped like Loki's runtime overrides:
//
//	overrides:
//	  acme:
//	    events_per_second: 2000
//	    bytes_per_second: 2097152
//	    kinds:
//	      cloudwatch:
//	        max_concurrent_deliveries: 2
//
// A Limiter enforces them. A delivery is admitted first (Limiter.Admit: a
// concurrency slot of its tenant and kind, and its tokens: a copy's size,
// or for a record stream what the tenant's last deliveries of the kind
// sent, prepaid), then takes tokens for what it sends as it goes
// (Permit.Reserve). Waits are bounded: at most Options.MaxWaiting
// deliveries of a tenant and kind wait to be admitted at once, and a
// delivery that cannot get its tokens within Options.MaxWait, in total,
// ends with an error matching ErrLimited, retryable (package fault) with a
// retry-after hint: the time its tokens need, which the runtimes turn into
// the message's next visibility instead of spinning. A tenant over its
// limits thus holds few of a runtime's workers, and only briefly.
//
// OpenOverridesFile keeps a Limiter's overrides in step with a file,
// applying each valid version whole and refusing an invalid one, the last
// good version staying in force.
//
// Budgets are kept per (tenant, kind): a tenant limited on CloudWatch
// still delivers to its S3 bucket, and no tenant's budget is charged for
// another's deliveries.
package limits

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Limits are the limits of one tenant's deliveries to one destination
// kind. A zero field means no limit (a burst: the default burst).
type Limits struct {
	// EventsPerSecond is the sustained rate of log events. 0: unlimited.
	EventsPerSecond float64 `json:"events_per_second,omitempty"`
	// EventsBurst is how many events may be sent at once above the rate
	// (the bucket's size). 0: one second's worth, at least 1.
	EventsBurst int64 `json:"events_burst,omitempty"`
	// BytesPerSecond is the sustained rate of payload bytes (the message
	// bytes of record destinations, the object's size for copies).
	// 0: unlimited.
	BytesPerSecond float64 `json:"bytes_per_second,omitempty"`
	// BytesBurst is the bytes bucket's size. 0: one second's worth, at
	// least 1 MiB (the largest CloudWatch batch), so that one large record
	// never waits longer than its own bytes need.
	BytesBurst int64 `json:"bytes_burst,omitempty"`
	// MaxConcurrentDeliveries bounds the tenant's deliveries in flight to
	// the kind, in this process. 0: unlimited (the Dispatcher's own
	// MaxPerTenant and MaxPerDestination still apply).
	MaxConcurrentDeliveries int64 `json:"max_concurrent_deliveries,omitempty"`
}

// Unlimited reports whether l limits nothing.
func (l Limits) Unlimited() bool {
	return l.EventsPerSecond == 0 && l.BytesPerSecond == 0 && l.MaxConcurrentDeliveries == 0
}

// Validate reports every field out of its range.
func (l Limits) Validate() error {
	var problems []string
	for _, f := range fields {
		if p := f.check(f.get(l)); p != "" {
			problems = append(problems, f.name+": "+p)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("limits: %s", strings.Join(problems, "; "))
	}
	return nil
}

// eventsBurst returns the events bucket's size.
func (l Limits) eventsBurst() float64 {
	if l.EventsBurst > 0 {
		return float64(l.EventsBurst)
	}
	return max(l.EventsPerSecond, 1)
}

// bytesBurst returns the bytes bucket's size.
func (l Limits) bytesBurst() float64 {
	if l.BytesBurst > 0 {
		return float64(l.BytesBurst)
	}
	return max(l.BytesPerSecond, 1<<20)
}

// field is one named limit: its name in overrides files, whether it is a
// whole number, and how to read and set it.
type field struct {
	name    string
	integer bool
	get     func(Limits) float64
	set     func(*Limits, float64)
}

// maxInteger is the largest whole-number limit accepted: every integer up
// to it is exact in a float64.
const maxInteger = 1 << 53

// check returns what is wrong with v for f, or "".
func (f field) check(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprintf("%v is not a number", v)
	case v < 0:
		return fmt.Sprintf("must not be negative (got %v)", v)
	case f.integer && v != math.Trunc(v):
		return fmt.Sprintf("must be a whole number (got %v)", v)
	case v > maxInteger:
		return fmt.Sprintf("must be at most %d (got %v)", int64(maxInteger), v)
	}
	return ""
}

// fields are the limits, by their names in overrides files.
var fields = []field{
	{"events_per_second", false, func(l Limits) float64 { return l.EventsPerSecond }, func(l *Limits, v float64) { l.EventsPerSecond = v }},
	{"events_burst", true, func(l Limits) float64 { return float64(l.EventsBurst) }, func(l *Limits, v float64) { l.EventsBurst = int64(v) }},
	{"bytes_per_second", false, func(l Limits) float64 { return l.BytesPerSecond }, func(l *Limits, v float64) { l.BytesPerSecond = v }},
	{"bytes_burst", true, func(l Limits) float64 { return float64(l.BytesBurst) }, func(l *Limits, v float64) { l.BytesBurst = int64(v) }},
	{"max_concurrent_deliveries", true, func(l Limits) float64 { return float64(l.MaxConcurrentDeliveries) }, func(l *Limits, v float64) { l.MaxConcurrentDeliveries = int64(v) }},
}

// Names returns the names of the limits, as overrides files spell them.
func Names() []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return names
}

func fieldByName(name string) (field, bool) {
	i := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
	if i < 0 {
		return field{}, false
	}
	return fields[i], true
}

// ErrLimited is matched by errors.Is on every error of a delivery stopped
// by its tenant's limits. Such errors are retryable, with a retry-after
// hint (fault.RetryAfter).
var ErrLimited = errors.New("over the tenant's limit")

// LimitedError is a delivery stopped by its tenant's limits: it could not
// get a concurrency slot, or the tokens for what it was about to send,
// within the bounded wait. It matches ErrLimited. Errors of the Limiter
// wrap it in a retryable mark with RetryAfter as the hint.
type LimitedError struct {
	Tenant, Kind string
	// Limit names the limit: "events_per_second", "bytes_per_second" or
	// "max_concurrent_deliveries".
	Limit string
	// RetryAfter is how long the delivery should wait before it is tried
	// again: the time its tokens need.
	RetryAfter time.Duration
	// Waited is how long the delivery had waited for its limits already.
	Waited time.Duration
	// Events and Bytes are what the delivery had been granted (and so may
	// have sent) before it was stopped; what comes after is not sent, left
	// for the retry.
	Events, Bytes int64
}

func (e *LimitedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tenant %q, kind %q: %s: %s reached after waiting %s", e.Tenant, e.Kind, ErrLimited, e.Limit, e.Waited.Round(time.Millisecond))
	if e.Events > 0 || e.Bytes > 0 {
		fmt.Fprintf(&b, " (%d events, %d bytes granted before; the rest is not sent)", e.Events, e.Bytes)
	}
	fmt.Fprintf(&b, "; retry after %s", e.RetryAfter.Round(time.Millisecond))
	return b.String()
}

// Is makes errors.Is(e, ErrLimited) true.
func (e *LimitedError) Is(target error) bool { return target == ErrLimited }
