package loki

import (
	"context"
	"io"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch/cloudwatchtest"
	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// genReader streams n records, 5 ms apart, without holding them, their
// messages drawn from a pool of lineGen's lines.
type genReader struct {
	g     *lineGen
	pool  []string
	n, i  int
	start time.Time
	bytes int64 // of the messages returned
}

var linePool = func() []string {
	g := newLineGen()
	pool := make([]string, 4096)
	for i := range pool {
		pool[i] = g.line(i)
	}
	return pool
}()

func newGenReader(n int, start time.Time) *genReader {
	return &genReader{g: newLineGen(), pool: linePool, n: n, start: start}
}

func (r *genReader) Next() (deliver.Record, error) {
	if r.i >= r.n {
		return deliver.Record{}, io.EOF
	}
	r.i++
	msg := r.pool[r.g.rng.IntN(len(r.pool))]
	r.bytes += int64(len(msg))
	return deliver.Record{Time: r.start.Add(time.Duration(r.i) * 5 * time.Millisecond), Message: msg}, nil
}

func (r *genReader) Stats() deliver.DecodeStats { return deliver.DecodeStats{Records: int64(r.i)} }
func (r *genReader) Close() error               { return nil }

var benchKey = keyparse.Key{Cluster: "prod-1", Namespace: "shop", Tenant: "acme", Application: "api", Pod: "api-0", File: "1764496800.json"}

// BenchmarkDeliver delivers one object of 200,000 realistic records
// (about 56 MB of lines) to the Loki fake and, for comparison, the same
// records through the real SDK client to the CloudWatch Logs fake, both
// in this process over loopback HTTP. It reports events per second, CPU
// seconds per GB of lines (the deliverer's and the fake's together), and
// the calls made against the fewest the batch bounds allow. The records
// sub-benchmark only makes the records: its CPU is in both others.
//
//	go test -run '^$' -bench Deliver -benchtime 3x ./deliver/loki/
func BenchmarkDeliver(b *testing.B) {
	const events = 200_000
	start := time.Now().Add(-time.Hour)
	report := func(b *testing.B, cpu time.Duration, bytes int64, calls int, minCalls int64) {
		b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(cpu.Seconds()/(float64(bytes)*float64(b.N)/1e9), "cpu-s/GB")
		b.ReportMetric(float64(calls), "calls/object")
		b.ReportMetric(float64(minCalls), "min-calls/object")
	}

	// The records alone: what both deliveries spend making them.
	b.Run("records", func(b *testing.B) {
		var gen *genReader
		cpu := cpuTime()
		for b.Loop() {
			gen = newGenReader(events, start)
			for {
				if _, err := gen.Next(); err != nil {
					break
				}
			}
		}
		report(b, cpuTime()-cpu, gen.bytes, 0, 0)
	})

	b.Run("loki", func(b *testing.B) {
		srv := lokitest.NewServer(lokitest.Options{DiscardEntries: true})
		defer srv.Close()
		dv, err := New(func(o *Options) {
			o.Egress = egress.Policy{AllowHTTP: true, AllowLoopback: true, Ports: []int{port(srv.URL)}}
		})
		if err != nil {
			b.Fatal(err)
		}
		defer dv.Close()
		cfg := tenant.DeliveryConfig{TenantID: "acme", Type: KindName, Settings: map[string]any{"url": srv.URL}}
		var gen *genReader
		var rcpt deliver.Receipt
		cpu := cpuTime()
		for b.Loop() {
			gen = newGenReader(events, start)
			rcpt, err = dv.Deliver(context.Background(), &deliver.Delivery{Key: benchKey, Config: cfg,
				Records: func(context.Context) (deliver.RecordReader, error) { return gen, nil }})
			if err != nil || rcpt.Events != events {
				b.Fatalf("delivered %d events: %v", rcpt.Events, err)
			}
		}
		cpu = cpuTime() - cpu
		minCalls := max((gen.bytes+DefaultBatchBytes-1)/DefaultBatchBytes, (events+DefaultBatchEntries-1)/DefaultBatchEntries)
		report(b, cpu, gen.bytes, rcpt.Calls, minCalls)
	})

	b.Run("cloudwatch", func(b *testing.B) {
		srv := cloudwatchtest.NewServer(cloudwatchtest.Options{DiscardEvents: true})
		defer srv.Close()
		dv, err := cloudwatch.New(credentials.Static{Credentials: awscreds.NewStaticCredentialsProvider("AKID", "SECRET", "")},
			func(o *cloudwatch.Options) {
				o.AWSConfig = aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL)}
				o.CreateLogGroup = true
			})
		if err != nil {
			b.Fatal(err)
		}
		cfg := tenant.DeliveryConfig{TenantID: "acme", Type: cloudwatch.KindName, Settings: map[string]any{
			"log_group_name": "/tenants/acme", "log_distribution_role_arn": "arn:aws:iam::222222222222:role/logs"}}
		var gen *genReader
		var rcpt deliver.Receipt
		cpu := cpuTime()
		for b.Loop() {
			srv.ResetCounters()
			gen = newGenReader(events, start)
			rcpt, err = dv.Deliver(context.Background(), &deliver.Delivery{Key: benchKey, Config: cfg,
				Records: func(context.Context) (deliver.RecordReader, error) { return gen, nil }})
			if err != nil || rcpt.Events != events {
				b.Fatalf("delivered %d events: %v", rcpt.Events, err)
			}
		}
		cpu = cpuTime() - cpu
		apiBytes := gen.bytes + events*cloudwatchtest.EventOverhead
		minCalls := max((apiBytes+cloudwatchtest.MaxBatchBytes-1)/cloudwatchtest.MaxBatchBytes, (events+cloudwatchtest.MaxBatchEvents-1)/cloudwatchtest.MaxBatchEvents)
		report(b, cpu, gen.bytes, srv.Calls("PutLogEvents"), minCalls)
	})
}

// port returns the port of a URL.
func port(raw string) int {
	u, _ := url.Parse(raw)
	p, _ := strconv.Atoi(u.Port())
	return p
}
