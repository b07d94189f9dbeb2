package logdelivery_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/limits"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

var fairnessDuration = flag.Duration("fairness.duration", 10*time.Second, "how long each BenchmarkFairness run offers load")

// The fairness scenario: 100 tenants share one processor. Each quiet
// tenant sends an object of 100 events every 500 ms; the noisy one (when
// present) sends 50× as much, 10,000 events/s, and is limited to 2,000
// events/s. The processor is run the way the SQS worker runs it: at most
// 20 messages in flight, each dispatched on its own, a retryable one made
// visible again after its retry-after hint (rounded up to whole seconds,
// as SQS does) or after 1 s.
const (
	fairTenants       = 100
	fairEventsPer     = 100
	fairQuietPeriod   = 500 * time.Millisecond
	fairNoisyFactor   = 50
	fairNoisyLimit    = 2000 // events/s
	fairNoisyBurst    = 200  // 0.1 s worth
	fairInFlight      = 20
	fairDestLatency   = 5 * time.Millisecond // per delivery, the destination's answer
	fairWarmup        = time.Second          // excluded from the noisy tenant's rate
	fairNoisyTenant   = "t000"
	fairQuietPrefix   = "t"
	fairDefaultRetry  = time.Second
	fairKind          = "rec"
	fairDrainDeadline = 30 * time.Second
)

// fairObjects serves one object of fairEventsPer events for every key.
type fairObjects struct{ body []byte }

func newFairObjects() *fairObjects {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := range fairEventsPer {
		fmt.Fprintf(zw, `{"message":"GET /api/v1/orders/%06d 200 12ms","timestamp":"2026-11-30T10:00:00.%06dZ","kubernetes":{"pod_name":"pod","container_name":"api"}}`+"\n", i, i)
	}
	zw.Close()
	return &fairObjects{body: buf.Bytes()}
}

func (o *fairObjects) Open(context.Context, deliver.Object) (*deliver.Body, error) {
	return &deliver.Body{ReadCloser: io.NopCloser(bytes.NewReader(o.body)), Size: int64(len(o.body)), ContentEncoding: "gzip"}, nil
}

// fairDestination reads every record, answers after fairDestLatency, and
// counts the noisy tenant's events as they arrive.
type fairDestination struct{ noisyEvents atomic.Int64 }

func (f *fairDestination) Deliver(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
	rr, err := d.Records(ctx)
	if err != nil {
		return deliver.Receipt{}, err
	}
	defer rr.Close()
	noisy := d.Config.TenantID == fairNoisyTenant
	var rcpt deliver.Receipt
	for {
		_, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rcpt, err
		}
		rcpt.Events++
		if noisy {
			f.noisyEvents.Add(1)
		}
	}
	select {
	case <-time.After(fairDestLatency):
	case <-ctx.Done():
		return rcpt, ctx.Err()
	}
	return rcpt, nil
}

type fairResult struct {
	quietP50, quietP99 time.Duration
	quietDelivered     int
	quietRetried       int
	noisyRate          float64 // events/s reaching the noisy tenant's destination after the warm-up
	noisyLimited       int64   // noisy deliveries ended by the limit
	cpu                time.Duration
}

func runFairness(b *testing.B, withNoisy bool, duration time.Duration) fairResult {
	b.Helper()
	var configs []tenant.DeliveryConfig
	for i := range fairTenants {
		configs = append(configs, tenant.DeliveryConfig{TenantID: fmt.Sprintf("%s%03d", fairQuietPrefix, i), Type: fairKind})
	}
	store, err := memstore.New(configs)
	if err != nil {
		b.Fatal(err)
	}
	dest := &fairDestination{}
	kinds, err := deliver.NewRegistry([]deliver.Kind{delivertest.Kind(fairKind, dest, true)})
	if err != nil {
		b.Fatal(err)
	}
	overrides, err := limits.ParseOverrides(fmt.Appendf(nil, "overrides: {%s: {events_per_second: %d, events_burst: %d}}", fairNoisyTenant, fairNoisyLimit, fairNoisyBurst))
	if err != nil {
		b.Fatal(err)
	}
	var noisyLimited atomic.Int64
	lim, err := limits.New(func(o *limits.Options) {
		o.Overrides = overrides
		o.Observer = limitCounter{&noisyLimited}
	})
	if err != nil {
		b.Fatal(err)
	}
	d, err := logdelivery.NewDispatcher(store, kinds, func(o *logdelivery.Options) {
		o.Opener, o.Limits = newFairObjects(), lim
	})
	if err != nil {
		b.Fatal(err)
	}

	// The queue: arrivals and retries wait for one of fairInFlight slots.
	type message struct {
		obj     logdelivery.Object
		arrived time.Time
	}
	queue := make(chan message, 1<<16)
	slots := make(chan struct{}, fairInFlight)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		retried   int
		pending   sync.WaitGroup // quiet messages not yet delivered
	)
	stop := make(chan struct{})
	var workers sync.WaitGroup
	workers.Go(func() {
		for {
			var m message
			select {
			case m = <-queue:
			case <-stop:
				return
			}
			select {
			case slots <- struct{}{}:
			case <-stop:
				return
			}
			go func() {
				defer func() { <-slots }()
				rs := d.Dispatch(context.Background(), m.obj)
				quiet := !strings.HasPrefix(m.obj.Key, "c/"+fairNoisyTenant+"/")
				mr := logdelivery.MessageResult{Results: rs}
				if mr.Retry() {
					delay := fairDefaultRetry
					if h := mr.RetryAfter(); h > 0 {
						delay = h.Truncate(time.Second)
						if delay < h {
							delay += time.Second
						}
					}
					if quiet {
						mu.Lock()
						retried++
						mu.Unlock()
					}
					time.AfterFunc(delay, func() { queue <- m })
					return
				}
				if quiet {
					mu.Lock()
					latencies = append(latencies, time.Since(m.arrived))
					mu.Unlock()
					pending.Done()
				}
			}()
		}
	})

	cpu0 := cpuTime()
	start := time.Now()
	end := start.Add(duration)
	var arrivals sync.WaitGroup
	send := func(tenantID string, period time.Duration, offset time.Duration) {
		defer arrivals.Done()
		t := time.NewTimer(offset)
		defer t.Stop()
		for n := 0; ; n++ {
			select {
			case <-t.C:
			case <-stop:
				return
			}
			now := time.Now()
			if now.After(end) {
				return
			}
			if tenantID != fairNoisyTenant {
				pending.Add(1)
			}
			key := fmt.Sprintf("c/%s/app/pod/%d-%d.json.gz", tenantID, now.UnixNano(), n)
			queue <- message{obj: logdelivery.Object{ID: key, Bucket: "central", Key: key, Time: now}, arrived: now}
			t.Reset(period)
		}
	}
	for i := 1; i < fairTenants; i++ {
		arrivals.Add(1)
		go send(fmt.Sprintf("%s%03d", fairQuietPrefix, i), fairQuietPeriod, time.Duration(i)*fairQuietPeriod/fairTenants)
	}
	if withNoisy {
		arrivals.Add(1)
		go send(fairNoisyTenant, fairQuietPeriod/fairNoisyFactor, 0)
	}
	time.Sleep(fairWarmup)
	noisyAtWarmup := dest.noisyEvents.Load()
	time.Sleep(time.Until(end))
	noisyAtEnd := dest.noisyEvents.Load()
	window := time.Since(start) - fairWarmup
	arrivals.Wait()
	drained := make(chan struct{})
	go func() { pending.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(fairDrainDeadline):
		b.Errorf("quiet tenants' objects not delivered %s after the load stopped", fairDrainDeadline)
	}
	cpu := cpuTime() - cpu0
	close(stop)
	workers.Wait()

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))]
	}
	return fairResult{
		quietP50: pct(0.50), quietP99: pct(0.99), quietDelivered: len(latencies), quietRetried: retried,
		noisyRate:    float64(noisyAtEnd-noisyAtWarmup) / window.Seconds(),
		noisyLimited: noisyLimited.Load(),
		cpu:          cpu,
	}
}

// limitCounter counts the noisy tenant's deliveries stopped by its limit.
type limitCounter struct{ n *atomic.Int64 }

func (limitCounter) Waited(string, string, int64, int64, time.Duration) {}
func (c limitCounter) Limited(e *limits.LimitedError) {
	if e.Tenant == fairNoisyTenant {
		c.n.Add(1)
	}
}

// BenchmarkFairness runs the fairness scenario without and with the noisy
// tenant and reports the quiet tenants' delivery latency (arrival to
// delivered, retries included) and the rate the noisy tenant's
// destination received after the warm-up, against its limit:
//
//	go test -run '^$' -bench BenchmarkFairness -benchtime 1x -fairness.duration 20s .
func BenchmarkFairness(b *testing.B) {
	for _, withNoisy := range []bool{false, true} {
		name := "quiet-only"
		if withNoisy {
			name = "with-noisy"
		}
		b.Run(name, func(b *testing.B) {
			var r fairResult
			for range b.N {
				r = runFairness(b, withNoisy, *fairnessDuration)
			}
			b.ReportMetric(float64(r.quietP50.Microseconds())/1000, "quiet-p50-ms")
			b.ReportMetric(float64(r.quietP99.Microseconds())/1000, "quiet-p99-ms")
			b.ReportMetric(float64(r.quietDelivered), "quiet-objects")
			b.ReportMetric(float64(r.quietRetried), "quiet-retries")
			b.ReportMetric(r.cpu.Seconds(), "cpu-s")
			if withNoisy {
				b.ReportMetric(r.noisyRate, "noisy-events/s")
				b.ReportMetric(r.noisyRate/fairNoisyLimit, "noisy/limit")
				b.ReportMetric(float64(r.noisyLimited), "noisy-limited")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
