// Command bench measures end-to-end delivery to CloudWatch Logs: it
// generates realistic Vector objects (gzip NDJSON, ~1.1 KB events with
// Kubernetes metadata, mixed message formats) of a given uncompressed size,
// dispatches them through the real Dispatcher and CloudWatch deliverer,
// with credentials from the real STS role chain (its STS client a counting
// fake), to an in-process fake of the CloudWatch Logs API that enforces
// the PutLogEvents limits, and prints throughput, CPU time, allocations,
// peak memory and API calls against the minimum, each against the floor:
// decompressing the same objects and counting their lines with
// compress/gzip.
//
//	go run ./examples/bench -size 10MB
//	go run ./examples/bench -size 100MB -objects 4 -tenants 2
//	go run ./examples/bench -size 1GB -dir /tmp/bench-1g   # keep the objects, reuse them next time
//	go run ./examples/bench -workload 100MB,1GB,small -runs 3 -before main -dir /tmp/bench
//
// It runs in phases. Objects are generated first, into -dir or a
// temporary directory, and not timed. The floor is measured in this
// process (one gzip reader reset for every object). Delivery then runs in
// a child process (this program again), so that its peak RSS, CPU time and
// allocations are the delivery's alone; the fake endpoint stays in this
// process, so the child's CPU time is the client side only (decode, batch,
// serialise, send). With -inprocess everything runs in one process.
//
// # Workloads, runs, before and after
//
// -workload names presets, comma separated: "100MB" (one 100 MB object),
// "1GB" (one 1 GB object) and "small" (300 objects of 200 KB of 30
// tenants and 120 pods: collectors flushing many small objects); without
// it the -size, -objects, -tenants, -streams and -pods flags say what to
// generate. -runs N measures each N times, alternating floor, after and
// before, and reports medians: wall time on a shared machine is noisy,
// CPU time much less so. -before REF also runs the delivery child built
// from the git revision REF of the repository in the working directory
// (git archive, then go build), against the same objects and the same
// fake in the same run, so the two columns compare on the same machine at
// the same time. The fake keeps an order-independent digest of every
// accepted event (group, stream, timestamp, message): before and after
// must deliver identical bytes.
//
// Sizes take the units B, KB, MB, GB (powers of 1000) and KiB, MiB, GiB;
// printed MB are 10^6 bytes. The exit status is 1 when any delivery failed,
// any event went missing or the digests differ, 2 on a usage or setup
// error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// childArg, as the first argument, makes the program the delivery child:
// childArg DIR ENDPOINT CPUPROFILE MEMPROFILE.
const childArg = "-deliver-child"

// options are the command's flags.
type options struct {
	spec
	dir       string        // where objects are generated and kept; "" for a temporary directory
	profiles                // of the delivery phase
	latency   time.Duration // added to every response of the fake endpoint
	inProcess bool          // deliver in this process
	workloads []string      // presets; empty: spec
	runs      int           // measurements of each workload, medians reported
	before    string        // git revision whose delivery child is measured too
	endpoint  string        // CPU profile of this process (the fake endpoint) during the deliveries
}

// presets are the workloads -workload names.
var presets = map[string]spec{
	"100MB": {Size: 100e6, Objects: 1, Tenants: 1, Streams: 1, Format: formatMixed},
	"1GB":   {Size: 1e9, Objects: 1, Tenants: 1, Streams: 1, Format: formatMixed},
	"small": {Size: 200e3, Objects: 300, Tenants: 30, Streams: 1, Pods: 120, Format: formatMixed},
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(childMain(os.Args[2:]))
	}
	o := options{spec: spec{Format: formatMixed}}
	size := flag.String("size", "10MB", "uncompressed `bytes` per object, with a unit: KB, MB, GB, KiB, MiB, GiB")
	flag.IntVar(&o.Objects, "objects", 1, "number of objects")
	flag.IntVar(&o.Tenants, "tenants", 1, "number of tenants, each with its own account, role and log group; objects are spread over them")
	flag.IntVar(&o.Streams, "streams", 1, "pods (log streams) whose events each object interleaves")
	flag.IntVar(&o.Pods, "pods", 0, "distinct pods the objects' streams cycle through (a multiple of -tenants); 0: every object has its own")
	flag.StringVar(&o.Format, "format", formatMixed, `messages: "mixed" (~1.1 KB events, size-bound batches) or "short" (terse lines, count-bound batches)`)
	flag.StringVar(&o.dir, "dir", "", "generate objects into this directory and keep them; reused when it holds objects of the same flags")
	flag.StringVar(&o.CPU, "cpuprofile", "", "write a CPU profile of the delivery phase to this `file`")
	flag.StringVar(&o.Mem, "memprofile", "", "write an allocation profile of the delivery phase to this `file`")
	flag.DurationVar(&o.latency, "latency", 0, "delay every response of the fake endpoint by this much, to model the network")
	flag.BoolVar(&o.inProcess, "inprocess", false, "deliver in this process rather than in a child (peak RSS then includes generation and the fake)")
	workloads := flag.String("workload", "", `comma-separated presets instead of -size etc.: "100MB", "1GB", "small" (300 × 200 KB, 30 tenants, 120 pods)`)
	flag.IntVar(&o.runs, "runs", 1, "measure each workload this many times and report medians")
	flag.StringVar(&o.endpoint, "endpointprofile", "", "write a CPU profile of this process, the fake endpoint, during the (last) delivery to this `file`")
	flag.StringVar(&o.before, "before", "", "also measure the delivery of this git `revision` (built from the repository in the working directory), in the same run")
	flag.Parse()
	n, err := parseSize(*size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: -size:", err)
		os.Exit(2)
	}
	o.Size = n
	if *workloads != "" {
		o.workloads = strings.Split(*workloads, ",")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code, err := run(ctx, o, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// workload is one spec to measure.
type workload struct {
	name string
	spec
	dir string
}

func (o options) validate() error {
	if o.runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	if o.before != "" && o.inProcess {
		return errors.New("-before needs the delivery in a child: drop -inprocess")
	}
	for _, w := range o.workloads {
		if _, ok := presets[w]; !ok {
			return fmt.Errorf("-workload %q: want one of 100MB, 1GB, small", w)
		}
	}
	if len(o.workloads) == 0 {
		return o.spec.validate()
	}
	return nil
}

// run generates, measures and reports every workload. It returns the exit
// status.
func run(ctx context.Context, o options, stdout, stderr io.Writer) (int, error) {
	if err := o.validate(); err != nil {
		return 0, err
	}
	dir := o.dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "logdelivery-bench-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	var wls []workload
	if len(o.workloads) == 0 {
		o.spec.Version = generatorVersion
		wls = []workload{{name: "custom", spec: o.spec, dir: dir}}
	}
	for _, name := range o.workloads {
		s := presets[name]
		s.Version = generatorVersion
		wls = append(wls, workload{name: name, spec: s, dir: filepath.Join(dir, name)})
	}

	after, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("finding this program to run the delivery child: %w", err)
	}
	var before string
	if o.before != "" {
		fmt.Fprintf(stderr, "bench: building the delivery child of %s\n", o.before)
		exe, cleanup, err := buildRevision(ctx, o.before, stderr)
		if err != nil {
			return 0, err
		}
		defer cleanup()
		before = exe
	}

	code := 0
	for i, w := range wls {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		c, err := measureWorkload(ctx, o, w, after, before, stdout, stderr)
		if err != nil {
			return 0, fmt.Errorf("workload %s: %w", w.name, err)
		}
		code = max(code, c)
	}
	return code, nil
}

// measurement is one delivery of a workload's objects.
type measurement struct {
	res      result
	es       endpointStats
	problems []string
}

// measureWorkload generates (or reuses) the objects of w and measures the
// floor and the delivery o.runs times, then reports.
func measureWorkload(ctx context.Context, o options, w workload, after, before string, stdout, stderr io.Writer) (int, error) {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return 0, err
	}
	start := time.Now()
	m, reused := readManifest(w.dir, w.spec)
	if !reused {
		fmt.Fprintf(stderr, "bench: %s: generating %d object(s) of %s in %s\n", w.name, w.Objects, formatBytes(w.Size), w.dir)
		var err error
		if m, err = generate(w.dir, w.spec); err != nil {
			return 0, fmt.Errorf("generating objects: %w", err)
		}
	}
	genTime := time.Since(start)

	var floors []floorResult
	var afters, befores []measurement
	for r := range o.runs {
		fmt.Fprintf(stderr, "bench: %s: run %d of %d\n", w.name, r+1, o.runs)
		fl, err := measureFloor(w.dir, m)
		if err != nil {
			return 0, fmt.Errorf("floor: %w", err)
		}
		floors = append(floors, fl)
		a, err := measureDelivery(ctx, o, w.dir, m, after, stderr)
		if err != nil {
			return 0, fmt.Errorf("delivering: %w", err)
		}
		afters = append(afters, a)
		if before != "" {
			b, err := measureDelivery(ctx, o, w.dir, m, before, stderr)
			if err != nil {
				return 0, fmt.Errorf("delivering with %s: %w", o.before, err)
			}
			befores = append(befores, b)
		}
	}

	last := afters[len(afters)-1]
	report(stdout, o, w, m, reused, genTime, last.res, last.es)
	var problems []string
	for _, a := range afters {
		problems = append(problems, a.problems...)
	}
	for _, b := range befores {
		for _, p := range b.problems {
			problems = append(problems, o.before+": "+p)
		}
	}
	digests := map[string]bool{}
	for _, x := range append(slices.Clone(afters), befores...) {
		digests[x.es.Digest] = true
	}
	if len(digests) > 1 {
		problems = append(problems, fmt.Sprintf("the delivered events differ between runs (%d distinct digests)", len(digests)))
	}
	fmt.Fprintln(stdout)
	summary(stdout, o, w, m, floors, afters, befores)
	if len(problems) > 0 {
		fmt.Fprintf(stdout, "\nFAILED (%d):\n", len(problems))
		for _, p := range problems {
			fmt.Fprintln(stdout, "  "+p)
		}
		return 1, nil
	}
	return 0, nil
}

// measureDelivery delivers the objects of m once, with the delivery child
// exe (or in this process with o.inProcess), to a fresh fake endpoint.
func measureDelivery(ctx context.Context, o options, dir string, m manifest, exe string, stderr io.Writer) (measurement, error) {
	fake := newFake(m.Spec.Tenants, o.latency)
	defer fake.Close()
	var x measurement
	var err error
	if o.endpoint != "" && !o.inProcess {
		f, err := os.Create(o.endpoint)
		if err != nil {
			return x, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return x, err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := cpuTime()
	if o.inProcess {
		x.res, err = deliverObjects(ctx, dir, m, fake.URL, o.profiles)
	} else {
		x.res, err = deliverInChild(ctx, exe, dir, fake.URL, o.profiles, stderr)
	}
	if err != nil {
		return x, err
	}
	x.es = fakeStats(fake, m)
	if !o.inProcess && cpu0 > 0 {
		x.es.CPU = cpuTime() - cpu0
	}
	x.problems = check(m, x.res, x.es)
	return x, nil
}

// buildRevision builds the bench command of the git revision rev of the
// repository in the working directory, into a temporary directory that
// cleanup removes.
func buildRevision(ctx context.Context, rev string, stderr io.Writer) (exe string, cleanup func(), err error) {
	top, err := exec.CommandContext(ctx, "git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", nil, fmt.Errorf("-before needs the working directory in the git repository: %w", err)
	}
	tmp, err := os.MkdirTemp("", "logdelivery-bench-before-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	archive := filepath.Join(tmp, "src.tar")
	src := filepath.Join(tmp, "src")
	exe = filepath.Join(tmp, "bench")
	steps := []*exec.Cmd{
		exec.CommandContext(ctx, "git", "-C", strings.TrimSpace(string(top)), "archive", "--format=tar", "-o", archive, rev),
		exec.CommandContext(ctx, "mkdir", src),
		exec.CommandContext(ctx, "tar", "-xf", archive, "-C", src),
		exec.CommandContext(ctx, "go", "build", "-o", exe, "./examples/bench"),
	}
	steps[3].Dir = src
	for _, c := range steps {
		c.Stdout, c.Stderr = stderr, stderr
		if err := c.Run(); err != nil {
			cleanup()
			return "", nil, fmt.Errorf("building the bench of %s: %s: %w", rev, strings.Join(c.Args, " "), err)
		}
	}
	return exe, cleanup, nil
}

// deliverInChild runs the delivery phase in a child process of this
// program and returns what it measured.
func deliverInChild(ctx context.Context, exe, dir, endpoint string, prof profiles, stderr io.Writer) (result, error) {
	cmd := exec.CommandContext(ctx, exe, childArg, dir, endpoint, prof.CPU, prof.Mem)
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("delivery child: %w", err)
	}
	var res result
	if err := json.Unmarshal(out, &res); err != nil {
		return result{}, fmt.Errorf("delivery child's result: %w", err)
	}
	return res, nil
}

// childMain is the delivery child: it delivers the objects of the
// manifest in args[0] to the endpoint args[1] and writes its result as
// JSON to standard output.
func childMain(args []string) int {
	if len(args) != 4 {
		fmt.Fprintf(os.Stderr, "bench: usage: %s DIR ENDPOINT CPUPROFILE MEMPROFILE\n", childArg)
		return 2
	}
	dir, endpoint, prof := args[0], args[1], profiles{CPU: args[2], Mem: args[3]}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m, err := loadManifest(dir)
	if err == nil {
		var res result
		if res, err = deliverObjects(ctx, dir, m, endpoint, prof); err == nil {
			err = json.NewEncoder(os.Stdout).Encode(res)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: delivery child:", err)
		return 2
	}
	return 0
}

// check returns what went wrong: failed deliveries, and events that were
// generated but not delivered, or delivered but not accepted.
func check(m manifest, res result, es endpointStats) []string {
	problems := res.Failures
	var generated int64
	for _, o := range m.Objects {
		generated += o.Events
	}
	if res.Objects != len(m.Objects) {
		problems = append(problems, fmt.Sprintf("dispatched %d objects of %d generated", res.Objects, len(m.Objects)))
	}
	if res.Receipt.Events != generated {
		problems = append(problems, fmt.Sprintf("delivered %d events of %d generated", res.Receipt.Events, generated))
	}
	if es.Events != res.Receipt.Events {
		problems = append(problems, fmt.Sprintf("the endpoint accepted %d events, the receipts say %d", es.Events, res.Receipt.Events))
	}
	if n := res.Receipt.Dropped + res.Receipt.Rejected + res.Receipt.Truncated + res.Receipt.Undecoded + es.Rejected; n > 0 {
		problems = append(problems, fmt.Sprintf("events dropped %d, rejected %d (endpoint: %d), truncated %d, lines skipped %d",
			res.Receipt.Dropped, res.Receipt.Rejected, es.Rejected, res.Receipt.Truncated, res.Receipt.Undecoded))
	}
	return problems
}

func report(w io.Writer, o options, wl workload, m manifest, reused bool, genTime time.Duration, res result, es endpointStats) {
	var raw, gz int64
	for _, obj := range m.Objects {
		raw, gz = raw+obj.Raw, gz+obj.Compressed
	}
	secs := res.Wall.Seconds()
	mb := float64(raw) / 1e6
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{name}, args...)...)
	}
	row("workload", "%s", wl.name)
	row("objects", "%d × %s (tenants %d, streams per object %d, pods %s, format %s)", len(m.Objects), formatBytes(m.Spec.Size), m.Spec.Tenants, m.Spec.Streams, podsText(m.Spec), m.Spec.Format)
	row("events", "%d", res.Receipt.Events)
	row("uncompressed", "%.1f MB (gzip %.1f MB, ratio %.1f)", mb, float64(gz)/1e6, float64(raw)/float64(max(gz, 1)))
	if reused {
		row("generation", "reused from %s", wl.dir)
	} else {
		row("generation", "%.1f s (before timing)", genTime.Seconds())
	}
	row("wall time", "%.2f s", secs)
	row("events/s", "%.0f", float64(res.Receipt.Events)/secs)
	row("MB/s", "%.1f (uncompressed)", mb/secs)
	cpuOf, rssOf := "the delivery child; the fake endpoint runs in the parent", "of the delivery child"
	if o.inProcess {
		cpuOf, rssOf = "this process, including the fake endpoint", "of this process, including generation and the fake endpoint"
	}
	if res.CPU > 0 {
		row("CPU time", "%.2f s user+sys, %.1f MB/s per core (%s)", res.CPU.Seconds(), mb/res.CPU.Seconds(), cpuOf)
	}
	if es.CPU > 0 {
		row("endpoint CPU", "%.2f s user+sys (the fake CloudWatch Logs in the parent, not part of the delivery)", es.CPU.Seconds())
	}
	row("Go heap", "%.0f MB allocated (%.2f bytes per input byte), %d GCs", float64(res.Allocated)/1e6, float64(res.Allocated)/float64(max(raw, 1)), res.GCs)
	row("peak RSS", "%.1f MB (%s %s; %.1f MB at start)", float64(res.PeakRSS)/1e6, res.RSSSource, rssOf, float64(res.StartRSS)/1e6)
	row("PutLogEvents", "%d calls: %d accepted, %d answered ResourceNotFound (a new stream, then created); minimum %d (per object and stream), accepted %+.1f%%, all %+.1f%%",
		es.PutLogEvents, es.Accepted, es.PutLogEvents-es.Accepted, es.MinCalls, percentOver(es.Accepted, es.MinCalls), percentOver(es.PutLogEvents, es.MinCalls))
	row("CreateLogStream", "%d calls for %d streams", es.CreateLogStream, es.Streams)
	central := res.STSCalls[centralRole]
	var total int
	for _, n := range res.STSCalls {
		total += n
	}
	row("STS AssumeRole", "%d calls: central role %d, tenant roles %d (%d tenants)", total, central, total-central, m.Spec.Tenants)
	row("digest", "%s (of the accepted events)", es.Digest)
	row("failures", "%d", len(res.Failures))
	tw.Flush()
}

func podsText(s spec) string {
	if s.Pods == 0 {
		return "one set per object"
	}
	return strconv.Itoa(s.Pods)
}

// percentOver returns how many percent n exceeds least by.
func percentOver(n int, least int64) float64 {
	if least == 0 {
		return 0
	}
	return 100 * float64(int64(n)-least) / float64(least)
}

// loadManifest reads the manifest of dir, whatever its spec.
func loadManifest(dir string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", manifestName, err)
	}
	return m, nil
}

var units = []struct {
	suffix string
	n      float64
}{ // longest suffixes first
	{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1},
}

// parseSize parses a byte count such as "10MB", "1.5GiB" or "4096".
func parseSize(s string) (int64, error) {
	num, mult := strings.ToUpper(strings.TrimSpace(s)), 1.0
	for _, u := range units {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.n
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 || v*mult >= 1<<62 {
		return 0, fmt.Errorf("%q is not a positive size such as 10MB, 1GB or 512KiB", s)
	}
	return int64(v * mult), nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1e9 && n%1e8 == 0:
		return strconv.FormatFloat(float64(n)/1e9, 'f', -1, 64) + " GB"
	case n >= 1e6 && n%1e5 == 0:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + " MB"
	case n >= 1e3 && n%1e2 == 0:
		return strconv.FormatFloat(float64(n)/1e3, 'f', -1, 64) + " KB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
