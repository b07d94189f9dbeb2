package fanout

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/internal/decode"
)

// BenchmarkFanout measures the cost per record (one op is one record) of
// fanning a stream of b.N records out to 1 and 3 consumers, against
// reading the stream directly, over two sources:
//
//   - synthetic: a reader that costs next to nothing, so that the numbers
//     are the fan-out's own overhead;
//   - decoded: the real decoder over ~1 KB Vector events, where the
//     shared decode dominates, as it does in production.
//
// cpu-ns/record is the CPU time of the whole process per record, producer
// and consumers included; opens is 1 when no consumer was detached.
//
// One goroutine reads the consumers in turn, one record each, so that none
// falls a window behind and re-reads the object: with consumers as fast as
// the synthetic reader and fewer CPUs than goroutines, scheduling alone
// would detach them, and the benchmark would measure re-reads.
func BenchmarkFanout(b *testing.B) {
	sources := []struct {
		name string
		open func(n int) OpenFunc
	}{
		{"synthetic", func(n int) OpenFunc { return (&source{n: n}).open }},
		{"decoded", decoded},
	}
	for _, src := range sources {
		b.Run(src.name+"/direct", func(b *testing.B) {
			r, err := src.open(b.N)(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			measure(b, func() {
				for i := 0; ; i++ {
					if _, err := r.Next(); err != nil {
						if err != io.EOF || i != b.N {
							b.Fatalf("after %d records: %v", i, err)
						}
						return
					}
				}
			})
		})
		for _, consumers := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/consumers=%d", src.name, consumers), func(b *testing.B) {
				s, err := New(context.Background(), src.open(b.N), consumers)
				if err != nil {
					b.Fatal(err)
				}
				rs := make([]deliver.RecordReader, consumers)
				for i := range rs {
					if rs[i], err = s.Reader(context.Background(), nil); err != nil {
						b.Fatal(err)
					}
					defer rs[i].Close()
				}
				measure(b, func() {
					for i := 0; ; i++ {
						for _, r := range rs {
							if _, err := r.Next(); err != nil {
								if err != io.EOF || i != b.N {
									b.Fatalf("after %d records: %v", i, err)
								}
								return
							}
						}
					}
				})
				b.ReportMetric(float64(s.Opens()), "opens")
			})
		}
	}
}

// measure runs fn, which handles b.N records, and reports allocations and
// the CPU time per record.
func measure(b *testing.B, fn func()) {
	b.ReportAllocs()
	cpu0, ok := cpuTime()
	b.ResetTimer()
	fn()
	b.StopTimer()
	if cpu1, _ := cpuTime(); ok {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/record")
	}
}

// event is a Vector event of about 1 KB with Kubernetes metadata.
var event = `{"message":"INFO handled request id=7f3a2c ` + strings.Repeat("the quick brown fox jumps over the lazy dog ", 16) +
	`","timestamp":"2024-03-01T12:00:00.123456Z","kubernetes":{"container_name":"checkout","namespace_name":"shop-prod",` +
	`"pod_name":"checkout-0-7f9c6b5d4-x0001","pod_node_name":"ip-10-0-1-7.ec2.internal","pod_labels":{"app":"checkout"}},` +
	`"cluster_id":"c-2f9a7e","application":"checkout","stream":"stdout","file":"/var/log/pods/checkout/0.log"}` + "\n"

// decoded returns an OpenFunc decoding an object of n copies of event,
// generated as it is read.
func decoded(n int) OpenFunc {
	obj := deliver.Object{Bucket: "central", Key: "c1/shop-prod/checkout/checkout-0/1709294460.json", Time: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)}
	open := func(context.Context) (*deliver.Body, error) {
		return &deliver.Body{ReadCloser: io.NopCloser(&repeated{line: event, left: n}), Size: -1}, nil
	}
	return decode.Records(open, obj)
}

// repeated reads line left times.
type repeated struct {
	line string
	left int
	off  int
}

func (r *repeated) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.left > 0 {
		c := copy(p[n:], r.line[r.off:])
		n += c
		if r.off += c; r.off == len(r.line) {
			r.off = 0
			r.left--
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}
