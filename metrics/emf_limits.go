package metrics

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/logdelivery/logdelivery/limits"
)

var _ limits.Observer = (*EMF)(nil)

// aggregate returns the aggregate of a tenant and kind. e.mu is held.
func (e *EMF) aggregate(tenantID, kind string) *emfAggregate {
	key := [2]string{tenantID, kind}
	a := e.agg[key]
	if a == nil {
		a = &emfAggregate{}
		e.agg[key] = a
	}
	return a
}

// Waited adds a wait for a tenant's limits to the aggregates.
func (e *EMF) Waited(tenantID, kind string, events, bytes int64, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.aggregate(tenantID, e.kinds.kind(kind))
	a.limitedEvents += events
	a.limitedBytes += bytes
	a.limitWait += d
}

// Limited adds a delivery stopped by a limit to the aggregates.
func (e *EMF) Limited(le *limits.LimitedError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.aggregate(le.Tenant, e.kinds.kind(le.Kind)).limitedDeliveries++
}

// Reloaded counts a new version of a watched file, applied or refused.
func (e *EMF) Reloaded(source string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.reloads == nil {
		e.reloads = map[string]*[2]int64{}
	}
	c := e.reloads[source]
	if c == nil {
		c = &[2]int64{}
		e.reloads[source] = c
	}
	if err == nil {
		c[0]++
	} else {
		c[1]++
	}
}

// limitMetrics adds the limit metrics of a that are not zero to doc.
func limitMetrics(doc map[string]any, a *emfAggregate) []emfMetric {
	var defs []emfMetric
	for _, m := range []struct {
		name, unit string
		v          any
		set        bool
	}{
		{"EventsLimited", "Count", a.limitedEvents, a.limitedEvents > 0},
		{"BytesLimited", "Bytes", a.limitedBytes, a.limitedBytes > 0},
		{"LimitWait", "Milliseconds", float64(a.limitWait.Microseconds()) / 1000, a.limitWait > 0},
		{"DeliveriesLimited", "Count", a.limitedDeliveries, a.limitedDeliveries > 0},
	} {
		if m.set {
			defs = append(defs, emfMetric{m.name, m.unit})
			doc[m.name] = m.v
		}
	}
	return defs
}

// flushReloads writes one document per watched file.
func (e *EMF) flushReloads(ts int64, reloads map[string]*[2]int64) error {
	for _, src := range slices.SortedFunc(maps.Keys(reloads), cmp.Compare) {
		c := reloads[src]
		doc := map[string]any{
			"Source":               src,
			"ConfigReloadsApplied": c[0],
			"ConfigReloadsRefused": c[1],
			"_aws": map[string]any{
				"Timestamp": ts,
				"CloudWatchMetrics": []map[string]any{{
					"Namespace":  e.opts.Namespace,
					"Dimensions": [][]string{{"Source"}},
					"Metrics":    []emfMetric{{"ConfigReloadsApplied", "Count"}, {"ConfigReloadsRefused", "Count"}},
				}},
			},
		}
		line, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		if _, err := e.w.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("metrics: writing EMF: %w", err)
		}
	}
	return nil
}
