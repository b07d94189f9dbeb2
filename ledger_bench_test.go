package logdelivery_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch/cloudwatchtest"
	"github.com/logdelivery/logdelivery/ledger"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// slowLedger adds a fixed latency to every call, as a DynamoDB round trip
// does.
type slowLedger struct {
	*countingLedger
	latency time.Duration
}

func (s slowLedger) Get(ctx context.Context, k ledger.Key) (ledger.Entry, bool, error) {
	time.Sleep(s.latency)
	return s.countingLedger.Get(ctx, k)
}

func (s slowLedger) Save(ctx context.Context, k ledger.Key, cp []byte) error {
	time.Sleep(s.latency)
	return s.countingLedger.Save(ctx, k, cp)
}

func (s slowLedger) Done(ctx context.Context, k ledger.Key) error {
	time.Sleep(s.latency)
	return s.countingLedger.Done(ctx, k)
}

// BenchmarkLedger delivers a 100 MB object (uncompressed; Vector events,
// four pods, so four streams) to CloudWatch Logs (the real deliverer, the
// protocol fake with 2 ms of network latency) without a ledger, with an
// in-memory one, and with one answering in 2 ms as DynamoDB does. It
// reports ledger calls per delivery (DESIGN: at most 2 plus one per
// checkpoint, one checkpoint per accepted batch) and the CPU time and wall
// time per object, to compare against "ledger=none" (target: at most 5%
// more).
//
//	go test -run '^$' -bench Ledger -benchtime 5x .
func BenchmarkLedger(b *testing.B) {
	data := vectorObject(100 << 20)
	const key = "c1/acme/checkout/pod/1764496800-a.json.gz"
	objects := &memObjects{data: map[string][]byte{key: data}, opens: map[string]int{}}
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) // vectorObject's clock
	now := func() time.Time { return base.Add(time.Hour) }
	for _, tc := range []struct {
		name    string
		latency time.Duration
		off     bool
	}{{"none", 0, true}, {"memory", 0, false}, {"2ms", 2 * time.Millisecond, false}} {
		b.Run("ledger="+tc.name, func(b *testing.B) {
			srv := cloudwatchtest.NewServer(cloudwatchtest.Options{Now: now, DiscardEvents: true, Latency: 2 * time.Millisecond})
			defer srv.Close()
			cfg := storetest.CloudWatch("acme")
			srv.CreateLogGroup(cfg.Settings["log_group_name"].(string))
			cw, err := cloudwatch.New(credentials.Static{Credentials: awscreds.NewStaticCredentialsProvider("AKID", "SECRET", "")},
				func(o *cloudwatch.Options) {
					o.AWSConfig = aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL)}
					o.Now = now
				})
			if err != nil {
				b.Fatal(err)
			}
			kinds, err := deliver.NewRegistry([]deliver.Kind{cw.Kind()})
			if err != nil {
				b.Fatal(err)
			}
			store, err := memstore.New([]tenant.DeliveryConfig{cfg})
			if err != nil {
				b.Fatal(err)
			}
			counts := &countingLedger{Ledger: ledger.NewMemory()}
			d, err := logdelivery.NewDispatcher(store, kinds, func(o *logdelivery.Options) {
				o.Opener = objects
				if !tc.off {
					o.Ledger = slowLedger{counts, tc.latency}
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(100 << 20) // uncompressed
			b.ReportAllocs()
			cpu0 := cpuTime()
			var batches int
			b.ResetTimer()
			for i := range b.N {
				srv.ResetCounters()
				// A new version each time: the ledger must not skip it.
				obj := logdelivery.Object{ID: "m", Bucket: "central", Key: key, VersionID: fmt.Sprintf("v%d", i)}
				for _, r := range d.Dispatch(context.Background(), obj) {
					if r.Outcome != logdelivery.Delivered {
						b.Fatalf("%s: %v %v", r.Destination, r.Outcome, r.Err)
					}
				}
				batches = srv.Calls("PutLogEvents")
			}
			b.StopTimer()
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
			b.ReportMetric(float64(batches), "batches/op")
			if !tc.off {
				b.ReportMetric(float64(counts.gets+counts.saves+counts.dones)/float64(b.N), "ledger-calls/op")
				b.ReportMetric(float64(counts.saves)/float64(b.N), "checkpoints/op")
			}
		})
	}
}
