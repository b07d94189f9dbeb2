package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func plan(tb float64, edit func(*Workload, *Deployment)) Plan {
	w, d := defaults()
	w.TBPerDay = tb
	if edit != nil {
		edit(&w, &d)
	}
	return Model(w, d, Measured, DefaultQuotas)
}

// The arithmetic of one plan, by hand.
func TestModel100TB(t *testing.T) {
	p := plan(100, nil)
	bps := 100e12 / 86400 // 1.157 GB/s
	assert.InDelta(t, bps, p.BytesPerSecond, 1)
	assert.InDelta(t, 100000.0/60, p.ObjectsPerSecond, 1e-6, "a minute per pod outnumbers 10 MB objects")
	cores := bps/1e9*4.6 + p.ObjectsPerSecond*(0.0009+0.0008)
	assert.InDelta(t, cores, p.Cores, 1e-9)
	assert.Equal(t, 7, int(math.Ceil(p.Cores/1.2)), "8.2 cores at 60% of 2 per worker")
	assert.Equal(t, 9, p.Workers, "1,667 objects of 105 ms, 20 at a time per worker")
	assert.Equal(t, "in flight", p.WorkersBy)
	// Each of the 9 workers sees all 10,000 tenants within 55 minutes.
	assert.InDelta(t, 9*10000/3300.0+9/3300.0, p.STSWorkers, 1e-9)
	assert.InDelta(t, 9*60/55.0, p.STSPerTenantHourWorkers, 1e-9)
	// … and within a minute: 10,000 config Queries (0.5) and identity GetItems (1).
	assert.InDelta(t, 9*10000/60.0*1.5, p.ReadUnitsWorkers, 1e-9)
	assert.InDelta(t, 0.05*p.PutLogEvents, p.TopTenantWrites, 1e-9)
	assert.InDelta(t, 0.05*bps*0.3/1e6, p.TopTenantLokiMBps, 1e-9)

	first, over := p.FirstToBreak()
	assert.True(t, over)
	assert.Contains(t, first.Name, "Loki", "a 5% tenant sends 17 MB/s of lines; Loki's default is 4")
}

// Small volumes are made of small objects: the per-object costs and the
// messages in flight decide.
func TestModelSmallObjects(t *testing.T) {
	p := plan(1, nil)
	assert.Less(t, p.ObjectMB, 0.01)
	assert.Equal(t, "in flight", p.WorkersBy, "I/O, not CPU, sizes the fleet")
	assert.InDelta(t, 1667*144000/1667.0, p.WritesPerGB, 1, "one write per object at least")

	slow := plan(1, func(w *Workload, _ *Deployment) { w.FlushEvery = 5 * time.Minute })
	assert.InDelta(t, p.ObjectsPerSecond/5, slow.ObjectsPerSecond, 1e-6, "a longer Vector timeout: a fifth of the objects")
	assert.Less(t, slow.Cores, p.Cores)
	assert.Less(t, slow.PutLogEvents, p.PutLogEvents)
}

// Each option moves the limit the model says it does.
func TestModelOptions(t *testing.T) {
	base := plan(100, nil)
	longer := plan(100, func(_ *Workload, d *Deployment) { d.CacheTTL = 5 * time.Minute })
	assert.InDelta(t, base.ReadUnitsWorkers/5, longer.ReadUnitsWorkers, 1e-6, "a 5 minute cache: a fifth of the reads")

	// Many small workers: each assumes every tenant's role.
	many := plan(10, func(_ *Workload, d *Deployment) { d.CoresPerWorker = 0.01 })
	assert.Greater(t, many.Workers, 300)
	first, over := many.FirstToBreak()
	assert.True(t, over)
	assert.Equal(t, "STS requests, central account (SQS workers)", first.Name)

	twoRecords := plan(100, func(w *Workload, _ *Deployment) { w.RecordDestinations = 2 })
	extra := twoRecords.Cores - base.Cores
	assert.InDelta(t, 0.15*base.BytesPerSecond/1e9*4.6, extra, 1e-9, "a second record destination shares the decode")

	ledger := plan(100, func(_ *Workload, d *Deployment) { d.Ledger = true })
	assert.InDelta(t, 2*ledger.ObjectsPerSecond, ledger.LedgerReadUnits, 1e-9)

	for _, l := range base.Limits {
		assert.NotEmpty(t, l.Remedy, l.Name)
		assert.False(t, math.IsNaN(l.Ratio()), l.Name)
	}
}

func TestPerCore(t *testing.T) {
	n, gb := PerCore(Measured, 10e6, 1, 1)
	assert.InDelta(t, 1/(0.0009+0.0008+0.046), n, 1e-9)
	assert.InDelta(t, n*10e6*3600/1e9, gb, 1e-9)
	small, _ := PerCore(Measured, 100e3, 1, 1)
	assert.Greater(t, small, 10*n, "small objects are cheap each, dear per GB")
	three, _ := PerCore(Measured, 10e6, 3, 0)
	one, _ := PerCore(Measured, 10e6, 1, 0)
	assert.InDelta(t, 1.3, one/three, 0.05, "three record destinations cost about 1.3× one")
}

// The README holds exactly what `go run ./examples/capacity -markdown`
// prints.
func TestREADMETables(t *testing.T) {
	var plans []Plan
	for _, tb := range defaultVolumes {
		plans = append(plans, plan(tb, nil))
	}
	var buf bytes.Buffer
	writeMarkdown(&buf, plans)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(readme), buf.String()),
		"README.md must hold the output of go run ./examples/capacity -markdown:\n%s", buf.String())
}
