package cloudwatch_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch/cloudwatchtest"
	"github.com/logdelivery/logdelivery/internal/cwbatch"
)

// genReader streams n realistic records without holding them: mostly
// short container lines, some JSON access logs, a few multi-kilobyte stack
// traces, timestamps rising with a little jitter (so batches need sorting
// now and then).
type genReader struct {
	rng   *rand.Rand
	pool  []string
	n, i  int
	start time.Time
	// Sum of the API size of every record returned, for the minimum.
	bytes int64
}

func newGenReader(n int, start time.Time, short bool) *genReader {
	rng := rand.New(rand.NewPCG(1, 2))
	pool := make([]string, 4096)
	for i := range pool {
		if short { // terse lines: the 10,000-event limit binds before the size limit
			pool[i] = fmt.Sprintf("%d ok %s", i, strings.Repeat("s", 10+rng.IntN(60)))
			continue
		}
		switch p := rng.IntN(100); {
		case p < 70:
			pool[i] = fmt.Sprintf("I1121 12:00:%02d.%06d       1 controller.go:%d] Reconciled object %s in namespace team-%d", i%60, i, rng.IntN(900), strings.Repeat("k", 10+rng.IntN(120)), i%17)
		case p < 97:
			pool[i] = fmt.Sprintf(`{"level":"info","ts":"2026-11-21T12:00:00Z","msg":"request","method":"GET","path":"/api/v1/%s","status":200,"latency_ms":%d,"user_agent":"%s"}`, strings.Repeat("p", 20+rng.IntN(400)), rng.IntN(500), strings.Repeat("u", 30+rng.IntN(200)))
		default:
			pool[i] = "panic: runtime error\n" + strings.Repeat("goroutine 1 [running]:\nmain.handler(0xc000123456)\n\t/src/main.go:42 +0x1d\n", 20+rng.IntN(200))
		}
	}
	return &genReader{rng: rng, pool: pool, n: n, start: start}
}

func (g *genReader) Next() (deliver.Record, error) {
	if g.i >= g.n {
		return deliver.Record{}, io.EOF
	}
	g.i++
	// ~200 events per second; one in 50 is a few milliseconds early.
	ts := g.start.Add(time.Duration(g.i) * 5 * time.Millisecond)
	if g.rng.IntN(50) == 0 {
		ts = ts.Add(-time.Duration(g.rng.IntN(20)) * time.Millisecond)
	}
	msg := g.pool[g.rng.IntN(len(g.pool))]
	g.bytes += int64(len(msg) + cwbatch.EventOverhead)
	return deliver.Record{Time: ts, Message: msg}, nil
}

func (g *genReader) Stats() deliver.DecodeStats { return deliver.DecodeStats{Records: int64(g.i)} }
func (g *genReader) Close() error               { return nil }

// BenchmarkPutLogEventsPerMillion delivers one million realistic events
// (one object, one stream, streamed) through the real SDK client to the
// fake and reports PutLogEvents calls against the minimum the count and
// size limits allow, for mixed lines (size-bound) and short lines
// (count-bound). The reference processor's 1,000-event batches would make
// 1,000 calls.
//
//	go test -run '^$' -bench PutLogEventsPerMillion -benchtime 1x ./deliver/cloudwatch/
func BenchmarkPutLogEventsPerMillion(b *testing.B) {
	b.Run("mixed", func(b *testing.B) { benchmarkPerMillion(b, false) })
	b.Run("short", func(b *testing.B) { benchmarkPerMillion(b, true) })
}

func benchmarkPerMillion(b *testing.B, short bool) {
	const events = 1_000_000
	start := time.Now().Add(-2 * time.Hour)
	f := cloudwatchtest.NewServer(cloudwatchtest.Options{DiscardEvents: true})
	defer f.Close()
	f.CreateLogStream(group, stream)
	d, err := cloudwatch.New(credentials.Static{Credentials: awscreds.NewStaticCredentialsProvider("AKID", "SECRET", "")},
		func(o *cloudwatch.Options) {
			o.AWSConfig = aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(f.URL)}
		})
	if err != nil {
		b.Fatal(err)
	}
	var calls, minCalls int64
	for b.Loop() {
		f.ResetCounters()
		gen := newGenReader(events, start, short)
		del := delivery(nil)
		del.Records = func(context.Context) (deliver.RecordReader, error) { return gen, nil }
		rcpt, err := d.Deliver(context.Background(), del)
		if err != nil {
			b.Fatal(err)
		}
		if rcpt.Events != events {
			b.Fatalf("delivered %d events, want %d", rcpt.Events, events)
		}
		calls = int64(f.Calls("PutLogEvents"))
		minCalls = cwbatch.MinCalls(events, gen.bytes)
	}
	b.ReportMetric(float64(calls), "calls/1M-events")
	b.ReportMetric(float64(minCalls), "min-calls/1M-events")
	b.ReportMetric(100*float64(calls-minCalls)/float64(minCalls), "%-over-min")
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkBatcher measures Prepare and Batcher alone, per event.
func BenchmarkBatcher(b *testing.B) {
	gen := newGenReader(1<<30, time.Now().Add(-time.Hour), false)
	now := time.Now()
	bt := cwbatch.New(cwbatch.Limits{})
	var batches int
	b.ReportAllocs()
	for b.Loop() {
		rec, _ := gen.Next()
		e, out := cwbatch.Prepare(rec.Message, rec.Time, now, 0)
		if out.Dropped() {
			continue
		}
		if full := bt.Add(e); full != nil {
			batches++
		}
	}
	b.ReportMetric(float64(batches), "batches")
}
