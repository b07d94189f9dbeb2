package logdelivery

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxSummaryDestinations bounds the destinations a summary line names, so
// that a message announcing many objects does not make a huge log line.
const maxSummaryDestinations = 20

// Outcome of a whole message, as LogSummary names it.
const (
	MessageDelivered = "delivered" // something was delivered, nothing failed
	MessageSkipped   = "skipped"   // nothing to deliver: no config, disabled, not selected, delivered before
	MessageRetry     = "retry"     // some destination failed retryably
	MessageFailed    = "failed"    // failed permanently somewhere, nothing to retry
	MessageEmpty     = "empty"     // no objects: a test event, or nothing created
)

// Outcome returns the message's outcome as a whole: MessageRetry,
// MessageFailed, MessageDelivered, MessageSkipped or MessageEmpty.
func (m MessageResult) Outcome() string {
	switch {
	case m.Retry():
		return MessageRetry
	case m.Failed():
		return MessageFailed
	case m.Results.Count(Delivered) > 0:
		return MessageDelivered
	case len(m.Results) > 0:
		return MessageSkipped
	}
	return MessageEmpty
}

// LogSummary logs one Info line for the processed message, whatever its
// outcome: message_id, outcome (see Outcome), objects, tenants,
// destinations ("tenant/type=outcome", the first 20, sorted), delivered,
// skipped and failed deliveries, the events and bytes the destinations
// accepted, events rejected or dropped, and duration_ms, the elapsed time
// the caller measured. Failures are logged separately, one line each, by
// LogFailures.
func (m MessageResult) LogSummary(ctx context.Context, log *slog.Logger, elapsed time.Duration) {
	if !log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	tenants, dests := []string{}, []string{}
	objects := map[[3]string]bool{}
	var events, bytes, rejected, dropped int64
	for _, r := range m.Results {
		objects[[3]string{r.Object.Bucket, r.Object.Key, r.Object.VersionID}] = true
		if r.Key.Tenant != "" && !slices.Contains(tenants, r.Key.Tenant) {
			tenants = append(tenants, r.Key.Tenant)
		}
		if r.Destination != "" {
			dests = append(dests, r.Key.Tenant+"/"+r.Destination+"="+r.Outcome.String())
		}
		events += r.Receipt.Events
		bytes += r.Receipt.Bytes
		rejected += r.Receipt.Rejected
		dropped += r.Receipt.Dropped
	}
	slices.Sort(tenants)
	slices.Sort(dests)
	dests = slices.Compact(dests)
	if len(dests) > maxSummaryDestinations {
		n := len(dests) - maxSummaryDestinations
		dests = append(dests[:maxSummaryDestinations], "…and "+strconv.Itoa(n)+" more")
	}
	attrs := []slog.Attr{
		slog.String("message_id", m.ID),
		slog.String("outcome", m.Outcome()),
		slog.Int("objects", len(objects)),
		slog.String("tenants", strings.Join(tenants, ",")),
		slog.Any("destinations", dests),
		slog.Int("delivered", m.Results.Count(Delivered)),
		slog.Int("skipped", m.Results.Count(Skipped)),
		slog.Int("failed", m.Results.Count(Failed)),
		slog.Int64("events", events),
		slog.Int64("bytes", bytes),
	}
	if rejected+dropped > 0 {
		attrs = append(attrs, slog.Int64("rejected", rejected), slog.Int64("dropped", dropped))
	}
	attrs = append(attrs, slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000))
	log.LogAttrs(ctx, slog.LevelInfo, "message processed", attrs...)
}

// Totals adds up processed messages for a summary line at shutdown (log
// it as an attribute: it implements slog.LogValuer). It is safe for
// concurrent use; the zero value is ready.
type Totals struct {
	mu       sync.Mutex
	messages map[string]int64 // by Outcome
	outcomes [Failed + 1]int64
	events   int64
	bytes    int64
}

// Add counts one processed message.
func (t *Totals) Add(m MessageResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.messages == nil {
		t.messages = map[string]int64{}
	}
	t.messages[m.Outcome()]++
	for _, r := range m.Results {
		if r.Outcome >= Delivered && r.Outcome <= Failed {
			t.outcomes[r.Outcome]++
		}
		t.events += r.Receipt.Events
		t.bytes += r.Receipt.Bytes
	}
}

// Messages returns how many messages ended with the outcome (see
// MessageResult.Outcome).
func (t *Totals) Messages(outcome string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.messages[outcome]
}

// LogValue returns the totals as a group: messages and messages by
// outcome, deliveries delivered, skipped and failed, events and bytes.
func (t *Totals) LogValue() slog.Value {
	t.mu.Lock()
	defer t.mu.Unlock()
	var all int64
	byOutcome := make([]slog.Attr, 0, 5)
	for _, o := range []string{MessageDelivered, MessageSkipped, MessageRetry, MessageFailed, MessageEmpty} {
		all += t.messages[o]
		byOutcome = append(byOutcome, slog.Int64(o, t.messages[o]))
	}
	return slog.GroupValue(
		slog.Int64("messages", all),
		slog.Attr{Key: "messages_by_outcome", Value: slog.GroupValue(byOutcome...)},
		slog.Int64("delivered", t.outcomes[Delivered]),
		slog.Int64("skipped", t.outcomes[Skipped]),
		slog.Int64("failed", t.outcomes[Failed]),
		slog.Int64("events", t.events),
		slog.Int64("bytes", t.bytes),
	)
}
