package logdelivery_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// vectorObject returns a gzip NDJSON object of about size bytes of
// Vector events (~1 KB each, with Kubernetes metadata), as collectors write
// them.
func vectorObject(size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	written := 0
	for i := 0; written < size; i++ {
		msg := fmt.Sprintf("%s INFO request id=%08x path=/api/v1/orders/%d status=200 took=%dms %s",
			base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), r.Uint32(), r.IntN(100000), r.IntN(900),
			strings.Repeat("x", 100+r.IntN(700)))
		line := fmt.Sprintf(`{"message":%q,"timestamp":%q,"stream":"stdout","kubernetes":{"pod_name":"checkout-7d9f-%d","namespace_name":"acme","container_name":"api","pod_node_name":"ip-10-0-1-7.ec2.internal","pod_labels":{"app":"checkout","pod-template-hash":"7d9f"},"pod_uid":"5d1e6c1a-2b1c-4c1e-9a1b-%012d"},"cluster_id":"prod-1","namespace":"acme","application":"checkout","pod_name":"checkout-7d9f-%d"}`+"\n",
			msg, base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), i%4, i, i%4)
		written += len(line)
		zw.Write([]byte(line))
	}
	zw.Close()
	return buf.Bytes()
}

// sink is a record destination whose own work is negligible: it reads
// every record, so the benchmark measures what destinations share (the
// download and decode) and what the fan-out adds.
type sink struct{}

func (sink) Deliver(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
	rr, err := d.Records(ctx)
	if err != nil {
		return deliver.Receipt{}, err
	}
	defer rr.Close()
	var rcpt deliver.Receipt
	for {
		rec, err := rr.Next()
		if err == io.EOF {
			return rcpt, nil
		}
		if err != nil {
			return rcpt, err
		}
		rcpt.Events++
		rcpt.Bytes += int64(len(rec.Message))
	}
}

// BenchmarkRecordDestinations delivers one 10 MB object to 1 and to 3
// record destinations of one tenant. Decode once: the CPU of three is
// about that of one (DESIGN: at most 1.3×); cpu-ns/op is the process's CPU
// time per object, steadier than wall time on shared machines.
func BenchmarkRecordDestinations(b *testing.B) {
	data := vectorObject(10 << 20)
	objects := &memObjects{data: map[string][]byte{"c1/acme/checkout/pod/1764496800-a.json.gz": data}, opens: map[string]int{}}
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("destinations=%d", n), func(b *testing.B) {
			var configs []tenant.DeliveryConfig
			dl := map[string]deliver.Deliverer{}
			for i := range n {
				name := fmt.Sprintf("sink%d", i)
				configs = append(configs, tenant.DeliveryConfig{TenantID: "acme", Type: name})
				dl[name] = sink{}
			}
			store, err := memstore.New(configs)
			if err != nil {
				b.Fatal(err)
			}
			d, err := logdelivery.NewDispatcher(store, recordKinds(b, dl), func(o *logdelivery.Options) { o.Opener = objects })
			if err != nil {
				b.Fatal(err)
			}
			obj := logdelivery.Object{ID: "m", Bucket: "central", Key: "c1/acme/checkout/pod/1764496800-a.json.gz"}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				for _, r := range d.Dispatch(context.Background(), obj) {
					if r.Outcome != logdelivery.Delivered {
						b.Fatalf("%s: %v", r.Destination, r.Err)
					}
				}
			}
			b.StopTimer()
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
