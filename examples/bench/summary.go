package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"
)

// summary prints the medians of the runs of a workload: the processor
// against the floor, after and (with -before) before, beside the targets
// of the presets.
func summary(w io.Writer, o options, wl workload, m manifest, floors []floorResult, afters, befores []measurement) {
	var raw int64
	for _, obj := range m.Objects {
		raw += obj.Raw
	}
	floorCPU := median(floors, func(f floorResult) time.Duration { return f.CPU })
	floorWall := median(floors, func(f floorResult) time.Duration { return f.Wall })
	small := wl.Size < 10e6
	cpuTarget, allocTarget := "≥ 0.6", "≤ 300 MB/GB"
	if small {
		cpuTarget, allocTarget = "≥ 0.35", "≤ 150 KB/object"
	}
	if wl.name == "custom" {
		cpuTarget, allocTarget = "", ""
	}

	fmt.Fprintf(w, "summary of %s: median of %d run(s), GOMAXPROCS %d, %d CPUs\n", wl.name, len(floors), runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(w, "floor (compress/gzip, count lines, one reader): %.3f s CPU, %.3f s wall, %d lines\n",
		floorCPU.Seconds(), floorWall.Seconds(), floors[0].Lines)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	cols := []struct {
		name string
		ms   []measurement
	}{{o.before, befores}, {"after", afters}}
	if len(befores) == 0 {
		cols = cols[1:]
	}
	head := "metric"
	for _, c := range cols {
		if c.name == "after" {
			head += "\tafter (this build)"
		} else {
			head += "\tbefore (" + c.name + ")"
		}
	}
	fmt.Fprintln(tw, head+"\ttarget")
	row := func(name, target string, f func(ms []measurement) string) {
		line := name
		for _, c := range cols {
			line += "\t" + f(c.ms)
		}
		fmt.Fprintln(tw, line+"\t"+target)
	}
	cpu := func(x measurement) time.Duration { return x.res.CPU }
	wall := func(x measurement) time.Duration { return x.res.Wall }
	row("CPU ratio (floor ÷ processor)", cpuTarget, func(ms []measurement) string {
		return ratio(floorCPU, median(ms, cpu))
	})
	row("wall ratio (floor ÷ processor)", "≥ 0.9 (GOMAXPROCS ≥ 2, idle machine)", func(ms []measurement) string {
		return ratio(floorWall, median(ms, wall))
	})
	row("CPU time", "", func(ms []measurement) string { return fmt.Sprintf("%.3f s", median(ms, cpu).Seconds()) })
	row("wall time", "", func(ms []measurement) string { return fmt.Sprintf("%.3f s", median(ms, wall).Seconds()) })
	row("CPU per object", "", func(ms []measurement) string {
		return fmt.Sprintf("%.2f ms", median(ms, cpu).Seconds()*1e3/float64(len(m.Objects)))
	})
	row("allocated", allocTarget, func(ms []measurement) string {
		a := float64(median(ms, func(x measurement) uint64 { return x.res.Allocated }))
		return fmt.Sprintf("%.0f MB/GB, %.0f KB/object", a/float64(raw)*1e3, a/1e3/float64(len(m.Objects)))
	})
	row("GCs", "", func(ms []measurement) string {
		return fmt.Sprint(median(ms, func(x measurement) uint32 { return x.res.GCs }))
	})
	row("peak RSS", "< 100 MiB", func(ms []measurement) string {
		return fmt.Sprintf("%.1f MiB", float64(median(ms, func(x measurement) int64 { return x.res.PeakRSS }))/(1<<20))
	})
	row("PutLogEvents accepted ÷ minimum", "≤ 1.02", func(ms []measurement) string {
		x := ms[len(ms)-1].es
		return fmt.Sprintf("%.3f (%d ÷ %d)", float64(x.Accepted)/float64(max(x.MinCalls, 1)), x.Accepted, x.MinCalls)
	})
	row("PutLogEvents all ÷ minimum", "", func(ms []measurement) string {
		x := ms[len(ms)-1].es
		return fmt.Sprintf("%.3f (%d, %d streams created)", float64(x.PutLogEvents)/float64(max(x.MinCalls, 1)), x.PutLogEvents, x.CreateLogStream)
	})
	row("digest of delivered events", "unchanged", func(ms []measurement) string {
		d := ms[len(ms)-1].es.Digest
		if len(d) > 16 {
			d = d[:16] + "…"
		}
		if len(befores) > 0 && len(afters) > 0 && befores[0].es.Digest == afters[0].es.Digest {
			d += " (same)"
		}
		return d
	})
	tw.Flush()
}

// median returns the median of f over xs (the upper one of an even count).
func median[T any, V int64 | uint64 | uint32 | time.Duration](xs []T, f func(T) V) V {
	vs := make([]V, len(xs))
	for i, x := range xs {
		vs[i] = f(x)
	}
	slices.Sort(vs)
	return vs[len(vs)/2]
}

func ratio(floor, processor time.Duration) string {
	if processor <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.2f", floor.Seconds()/processor.Seconds())
}
