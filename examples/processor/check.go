package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/health"
)

// checkTimeout bounds each check of -check.
const checkTimeout = 15 * time.Second

// runCheck is -check (or -mode check): it checks, once, what the
// processor needs — the tenant config table (or file), the identity and
// ledger tables when set, the central role, the queues named by
// SQS_QUEUE_URL and FAILURE_QUEUE_URL and, with CHECK_KEY (an object key
// of a sample tenant), that tenant's configs: each must be usable (valid,
// bound to the tenant's accounts, of a kind the processor delivers) and
// each that would receive the object reachable (its roles assumed:
// deliver.Checker), nothing written. It prints one line per check, "ok" or "FAIL" and what
// failed, and returns 0 when every check passed, 1 otherwise.
func runCheck(ctx context.Context, cfg aws.Config, opts func(*awsdispatch.Options), settle settlement, out io.Writer) int {
	probes := append(awsdispatch.Probes(cfg, opts), queueProbes(cfg, settle)...)
	failed := map[string]error{}
	for _, p := range health.Check(ctx, probes, checkTimeout) {
		failed[p.Probe] = p.Err
	}
	checks, problems := len(probes), len(failed)
	for _, p := range probes {
		if err := failed[p.Name]; err != nil {
			fmt.Fprintf(out, "FAIL %s: %v\n", p.Name, err)
		} else {
			fmt.Fprintf(out, "ok   %s\n", p.Name)
		}
	}
	if key := os.Getenv("CHECK_KEY"); key != "" {
		checks++
		if !checkSample(ctx, cfg, opts, key, out) {
			problems++
		}
	}
	if problems > 0 {
		fmt.Fprintf(out, "%d of %d checks failed\n", problems, checks)
		return 1
	}
	return 0
}

// checkSample explains the delivery of the object key and reports
// whether nothing in it would fail: one line per problem.
func checkSample(ctx context.Context, cfg aws.Config, opts func(*awsdispatch.Options), key string, out io.Writer) bool {
	d, err := awsdispatch.New(cfg, opts)
	if err != nil {
		fmt.Fprintf(out, "FAIL sample %s: %v\n", key, err)
		return false
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	e := d.Explain(ctx, logdelivery.Object{Key: key}, func(o *logdelivery.ExplainOptions) { o.Check = true })
	if e.Error != "" {
		fmt.Fprintf(out, "FAIL sample %s: %s\n", key, e.Error)
		return false
	}
	ok := true
	var deliver, skip int
	for _, dp := range e.Destinations {
		switch dp.Decision {
		case logdelivery.PlanFail:
			fmt.Fprintf(out, "FAIL sample tenant %s, config %s: %s\n", e.Key.Tenant, dp.Type, dp.Reason)
			ok = false
		case logdelivery.PlanDeliver:
			deliver++
		default:
			skip++
		}
	}
	for _, u := range e.Unusable {
		fmt.Fprintf(out, "FAIL sample tenant %s: %s\n", e.Key.Tenant, u)
		ok = false
	}
	if ok {
		fmt.Fprintf(out, "ok   sample tenant %s: %d configs, %d would receive %s (and can reach it), %d would not\n",
			e.Key.Tenant, len(e.Destinations), deliver, key, skip)
	}
	return ok
}

// queueProbes are the probes of the queues the environment names.
func queueProbes(cfg aws.Config, settle settlement) []health.Probe {
	var probes []health.Probe
	client := sqs.NewFromConfig(cfg)
	if url := os.Getenv("SQS_QUEUE_URL"); url != "" {
		probes = append(probes, awsdispatch.QueueProbe(client, "queue", url))
	}
	if settle.failureQueueURL != "" {
		probes = append(probes, awsdispatch.QueueProbe(client, "failure queue", settle.failureQueueURL))
	}
	return probes
}

// readReadiness reads the readiness tuning of sqs mode: READINESS_WINDOW
// and READINESS_PROBE_INTERVAL (durations such as "5m"), and
// READINESS_MIN_FAILURES; health.Options documents the defaults.
func readReadiness(getenv func(string) string) (func(*health.Options), error) {
	var o health.Options
	for name, field := range map[string]*time.Duration{
		"READINESS_WINDOW":         &o.Window,
		"READINESS_PROBE_INTERVAL": &o.ProbeInterval,
	} {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("%s %q: want a duration such as 5m", name, v)
			}
			*field = d
		}
	}
	if v := getenv("READINESS_MIN_FAILURES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("READINESS_MIN_FAILURES %q: want an integer", v)
		}
		o.MinFailures = n
	}
	return func(ho *health.Options) {
		ho.Window, ho.ProbeInterval, ho.MinFailures = o.Window, o.ProbeInterval, o.MinFailures
	}, nil
}
