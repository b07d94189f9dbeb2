// Package httpsendtest holds what the benchmarks of the HTTP kinds share:
// a generator of realistic records, a sink that counts requests without
// decoding them, the process's CPU clock, and the report of events per
// second, CPU per gigabyte and requests against the minimum the size
// bounds allow.
package httpsendtest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/egress"
)

// Generator is a RecordReader of generated records, streamed without
// holding them: mostly klog lines, some JSON access logs, a few
// multi-kilobyte stack traces, of three pods sharing their label maps,
// timestamps rising.
type Generator struct {
	rng    *rand.Rand
	pool   []string
	labels []map[string]string
	n, i   int
	start  time.Time
	// MessageBytes is the sum of the messages returned so far.
	MessageBytes int64
}

// NewGenerator returns a generator of n records from start.
func NewGenerator(n int, start time.Time) *Generator {
	rng := rand.New(rand.NewPCG(1, 2))
	pool := make([]string, 4096)
	for i := range pool {
		switch p := rng.IntN(100); {
		case p < 70:
			pool[i] = fmt.Sprintf("I1121 12:00:%02d.%06d       1 controller.go:%d] Reconciled object %s in namespace team-%d", i%60, i, rng.IntN(900), strings.Repeat("k", 10+rng.IntN(120)), i%17)
		case p < 97:
			pool[i] = fmt.Sprintf(`{"level":"info","ts":"2026-11-21T12:00:00Z","msg":"request","method":"GET","path":"/api/v1/%s","status":200,"latency_ms":%d,"user_agent":"%s"}`, strings.Repeat("p", 20+rng.IntN(400)), rng.IntN(500), strings.Repeat("u", 30+rng.IntN(200)))
		default:
			pool[i] = "panic: runtime error\n" + strings.Repeat("goroutine 1 [running]:\n\tmain.handler(0xc000123456)\n\t/src/main.go:42 +0x1d\n", 20+rng.IntN(200))
		}
	}
	labels := []map[string]string{
		{"app": "api", "pod-template-hash": "5d8f7c9b6", "app.kubernetes.io/name": "api"},
		{"app": "worker", "pod-template-hash": "7c9b65d8f"},
		{"app": "web", "app.kubernetes.io/part-of": "shop"},
	}
	return &Generator{rng: rng, pool: pool, labels: labels, n: n, start: start}
}

var pods = []string{"api-5d8f7c9b6-x2k4q", "worker-7c9b65d8f-9zt2m", "web-0"}

// Next implements deliver.RecordReader.
func (g *Generator) Next() (deliver.Record, error) {
	if g.i >= g.n {
		return deliver.Record{}, io.EOF
	}
	g.i++
	msg := g.pool[g.rng.IntN(len(g.pool))]
	g.MessageBytes += int64(len(msg))
	p := g.i / 1000 % len(pods) // runs of one pod, as objects have
	return deliver.Record{
		Time: g.start.Add(time.Duration(g.i) * 5 * time.Millisecond), Message: msg, Stream: "stdout",
		Namespace: "team-a", Pod: pods[p], Container: "app", Host: "ip-10-0-1-23.ec2.internal", Labels: g.labels[p],
	}, nil
}

// Stats implements deliver.RecordReader.
func (g *Generator) Stats() deliver.DecodeStats {
	return deliver.DecodeStats{Lines: int64(g.i), Records: int64(g.i)}
}

// Close implements deliver.RecordReader.
func (g *Generator) Close() error { return nil }

// Sink is an HTTP server that reads every request body, counts requests
// and bytes, and answers 200 with a fixed body.
type Sink struct {
	// URL is the sink's URL, such as http://127.0.0.1:41234.
	URL string
	// Policy lets a deliverer reach the sink.
	Policy   egress.Policy
	srv      *httptest.Server
	requests atomic.Int64
	bytes    atomic.Int64
	max      atomic.Int64
}

// NewSink starts a sink answering answer with Content-Type
// application/json.
func NewSink(tb testing.TB, answer string) *Sink {
	s := &Sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.requests.Add(1)
		s.bytes.Add(n)
		for m := s.max.Load(); n > m && !s.max.CompareAndSwap(m, n); m = s.max.Load() {
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	tb.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	u, _ := url.Parse(s.URL)
	port, _ := strconv.Atoi(u.Port())
	s.Policy = egress.Policy{AllowHTTP: true, AllowLoopback: true, Ports: []int{port}}
	return s
}

// Reset clears the counters.
func (s *Sink) Reset() {
	s.requests.Store(0)
	s.bytes.Store(0)
	s.max.Store(0)
}

// Requests returns the requests received.
func (s *Sink) Requests() int64 { return s.requests.Load() }

// Bytes returns the body bytes received.
func (s *Sink) Bytes() int64 { return s.bytes.Load() }

// MaxBody returns the largest body received.
func (s *Sink) MaxBody() int64 { return s.max.Load() }

// Measure is one benchmark's measurement.
type Measure struct {
	cpu0    time.Duration
	cpuOK   bool
	wall0   time.Time
	events  int64
	payload int64
}

// Start starts measuring.
func Start() *Measure {
	cpu, ok := CPUTime()
	return &Measure{cpu0: cpu, cpuOK: ok, wall0: time.Now()}
}

// Add counts one delivery's events and message bytes.
func (m *Measure) Add(events, messageBytes int64) {
	m.events += events
	m.payload += messageBytes
}

// Report reports events/s, CPU seconds per GB of messages, and the
// requests of the last delivery against the minimum its bounds allow:
// ceil(bodyBytes / maxBytes) or ceil(events / maxItems), whichever is
// more, where bodyBytes are the uncompressed bodies (negative: unknown,
// no minimum reported).
func (m *Measure) Report(b *testing.B, sink *Sink, lastEvents, bodyBytes int64, maxBytes, maxItems int) {
	wall := time.Since(m.wall0)
	b.ReportMetric(float64(m.events)/wall.Seconds(), "events/s")
	b.ReportMetric(float64(m.payload)/wall.Seconds()/(1<<20), "MiB/s")
	if cpu, ok := CPUTime(); ok && m.cpuOK && m.payload > 0 {
		b.ReportMetric((cpu-m.cpu0).Seconds()/(float64(m.payload)/1e9), "cpu-s/GB")
	}
	reqs := sink.Requests()
	b.ReportMetric(float64(reqs), "requests/object")
	b.ReportMetric(float64(sink.Bytes())/float64(reqs), "wire-bytes/request")
	if bodyBytes >= 0 {
		minReqs := max((bodyBytes+int64(maxBytes)-1)/int64(maxBytes), (lastEvents+int64(maxItems)-1)/int64(maxItems))
		b.ReportMetric(float64(minReqs), "min-requests/object")
		b.ReportMetric(100*float64(reqs-minReqs)/float64(minReqs), "%-over-min")
	}
}
