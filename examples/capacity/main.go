// Command capacity is the capacity model of the README's "Capacity
// planning": from the costs the benchmarks measured and the AWS quotas
// that bind, it works out, for a daily volume of logs across many
// tenants, the CPU, SQS workers and Lambda concurrency needed, the API
// calls per second against each quota, and what breaks first.
//
//	go run ./examples/capacity                       # 1, 10 and 100 TB/day across 10,000 tenants
//	go run ./examples/capacity -tb 50 -tenants 2000 -pods 20000 -ledger
//
// Every flag has the README's default; -markdown prints the tables the
// README holds (a test checks they agree).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// defaults are the README's workload and deployment: Vector as
// examples/vector configures it (objects of at most 10 MB or a minute),
// each tenant with one CloudWatch Logs and one S3 destination, the
// processor with awsdispatch's and sqsworker's defaults and identities.
func defaults() (Workload, Deployment) {
	return Workload{Tenants: 10000, Pods: 100000, FlushEvery: time.Minute, MaxObject: 10e6, TopShare: 0.05,
			RecordDestinations: 1, Copies: 1},
		Deployment{CoresPerWorker: 2, MaxInFlight: 20, Utilisation: 0.6, LambdaBatch: 10, CallLatency: 50 * time.Millisecond,
			CacheTTL: time.Minute, CredentialLife: 55 * time.Minute, Identities: true}
}

// defaultVolumes are the README's daily volumes, TB.
var defaultVolumes = []float64{1, 10, 100}

func main() {
	w, d := defaults()
	tbs := flag.String("tb", "1,10,100", "daily volumes to plan for, uncompressed `TB` (10^12 bytes), comma separated")
	flag.IntVar(&w.Tenants, "tenants", w.Tenants, "tenants")
	flag.IntVar(&w.Pods, "pods", w.Pods, "pods writing logs (each writes at least one object per -flush)")
	flag.DurationVar(&w.FlushEvery, "flush", w.FlushEvery, "Vector's batch timeout_secs")
	flag.Float64Var(&w.TopShare, "top-share", w.TopShare, "the largest tenant's share of the volume")
	flag.IntVar(&w.RecordDestinations, "record-destinations", w.RecordDestinations, "record destinations per tenant (CloudWatch Logs, Loki, …)")
	flag.IntVar(&w.Copies, "copies", w.Copies, "copy destinations per tenant (S3)")
	flag.Float64Var(&d.CoresPerWorker, "worker-cores", d.CoresPerWorker, "cores per SQS worker pod")
	flag.IntVar(&d.MaxInFlight, "max-in-flight", d.MaxInFlight, "messages each SQS worker processes at once (SQS_MAX_IN_FLIGHT)")
	flag.DurationVar(&d.CallLatency, "call-latency", d.CallLatency, "round trip of one AWS API call")
	flag.DurationVar(&d.CacheTTL, "cache-ttl", d.CacheTTL, "tenant config cache TTL")
	flag.IntVar(&d.LambdaBatch, "lambda-batch", d.LambdaBatch, "SQS batch size of the Lambda event source")
	flag.BoolVar(&d.Ledger, "ledger", false, "a DynamoDB ledger records every delivery")
	markdown := flag.Bool("markdown", false, "print the README's tables")
	flag.Parse()

	var plans []Plan
	for _, s := range strings.Split(*tbs, ",") {
		tb, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || tb <= 0 {
			fmt.Fprintf(os.Stderr, "capacity: -tb %q: want positive numbers\n", s)
			os.Exit(2)
		}
		w.TBPerDay = tb
		plans = append(plans, Model(w, d, Measured, DefaultQuotas))
	}
	if *markdown {
		writeMarkdown(os.Stdout, plans)
		return
	}
	writeText(os.Stdout, plans)
}

// writeMarkdown prints the plans as the README's table, one column per
// plan, and what breaks first in each.
func writeMarkdown(out io.Writer, plans []Plan) {
	fmt.Fprintln(out, "| one core, each object to CloudWatch Logs and S3 | objects/s | GB/h |")
	fmt.Fprintln(out, "|---|---:|---:|")
	for _, size := range []float64{100e3, 1e6, 10e6} {
		n, gb := PerCore(Measured, size, 1, 1)
		fmt.Fprintf(out, "| objects of %s | %s | %s |\n", sizeOf(size), num(n), num(gb))
	}
	fmt.Fprintln(out)
	row := func(name string, f func(Plan) string) {
		fmt.Fprintf(out, "| %s |", name)
		for _, p := range plans {
			fmt.Fprintf(out, " %s |", f(p))
		}
		fmt.Fprintln(out)
	}
	row("uncompressed volume", func(p Plan) string { return fmt.Sprintf("%g TB/day", p.TBPerDay) })
	fmt.Fprint(out, "|---|")
	for range plans {
		fmt.Fprint(out, "---:|")
	}
	fmt.Fprintln(out)
	row("GB/h", func(p Plan) string { return num(p.BytesPerSecond * 3600 / 1e9) })
	row("objects/s (average size, uncompressed)", func(p Plan) string {
		return fmt.Sprintf("%s (%s)", num(p.ObjectsPerSecond), size(p.ObjectMB))
	})
	row("CPU cores busy", func(p Plan) string { return fmt.Sprintf("%.1f", p.Cores) })
	row("one object, start to end", func(p Plan) string { return p.ObjectWall.Round(time.Millisecond).String() })
	row("SQS workers (2 cores, 20 in flight)", func(p Plan) string { return fmt.Sprintf("%d (%s)", p.Workers, p.WorkersBy) })
	row("Lambda concurrency (1 vCPU, batch 10)", func(p Plan) string { return num(p.LambdaConcurrency) })
	row("PutLogEvents (or Loki pushes)/s, all tenants (per GB; per tenant-hour)", func(p Plan) string {
		return fmt.Sprintf("%s (%s; %s)", num(p.PutLogEvents), num(p.WritesPerGB), num(p.PutLogEvents*3600/float64(p.Tenants)))
	})
	row("PutLogEvents/s into the largest tenant's account (5%)", func(p Plan) string { return num(p.TopTenantWrites) })
	row("Loki MB/s of the largest tenant, if it uses Loki", func(p Plan) string { return num(p.TopTenantLokiMBps) })
	row("AssumeRole/s, SQS workers (per tenant-hour)", func(p Plan) string {
		return fmt.Sprintf("%s (%s)", num(p.STSWorkers), num(p.STSPerTenantHourWorkers))
	})
	row("AssumeRole/s, Lambda (per tenant-hour)", func(p Plan) string {
		return fmt.Sprintf("%s (%s)", num(p.STSLambda), num(p.STSPerTenantHourLambda))
	})
	row("config read units/s, SQS workers (lookups per tenant-hour)", func(p Plan) string {
		return fmt.Sprintf("%s (%s)", num(p.ReadUnitsWorkers), num(p.LookupsPerTenantHourWorkers))
	})
	row("config read units/s, Lambda (lookups per tenant-hour)", func(p Plan) string {
		return fmt.Sprintf("%s (%s)", num(p.ReadUnitsLambda), num(p.LookupsPerTenantHourLambda))
	})
	row("closest to its quota", func(p Plan) string {
		l, _ := p.FirstToBreak()
		return fmt.Sprintf("%s: %.0f%%", l.Name, 100*l.Ratio())
	})

	last := plans[len(plans)-1]
	fmt.Fprintf(out, "\nAt %g TB/day, the quotas in the order they bind:\n\n", last.TBPerDay)
	fmt.Fprintln(out, "| quota | use | default | share | what moves it |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---|")
	for _, l := range last.Limits {
		fmt.Fprintf(out, "| %s | %s | %s | %.0f%% | %s |\n", l.Name, num(l.Use), num(l.Quota), 100*l.Ratio(), l.Remedy)
	}
}

// sizeOf prints a size in bytes as KB or MB.
func sizeOf(b float64) string { return size(b / 1e6) }

// size prints megabytes, or kilobytes under one.
func size(mb float64) string {
	if mb < 1 {
		return fmt.Sprintf("%.0f KB", mb*1e3)
	}
	return fmt.Sprintf("%.1f MB", mb)
}

func writeText(out io.Writer, plans []Plan) {
	for _, p := range plans {
		fmt.Fprintf(out, "%g TB/day, %d tenants, %d pods: %s GB/h, %s objects/s of %s\n",
			p.TBPerDay, p.Tenants, p.Pods, num(p.BytesPerSecond*3600/1e9), num(p.ObjectsPerSecond), size(p.ObjectMB))
		fmt.Fprintf(out, "  CPU %.1f cores, %s per object: %d SQS workers (by %s), or Lambda concurrency %s\n",
			p.Cores, p.ObjectWall.Round(time.Millisecond), p.Workers, p.WorkersBy, num(p.LambdaConcurrency))
		for _, l := range p.Limits {
			mark := "  "
			if l.Ratio() >= 1 {
				mark = "!!"
			}
			fmt.Fprintf(out, "  %s %s\n       moves with: %s\n", mark, l, l.Remedy)
		}
	}
}

// num prints a count with two significant digits at most beyond the
// thousands, as a plan is an estimate.
func num(v float64) string {
	switch {
	case v >= 100:
		return group(int64(v + 0.5))
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
