package fanout

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/logdelivery/logdelivery/deliver"
)

// BenchmarkFanout measures the cost per record of fanning a synthetic
// stream of b.N records out to 1 and 3 consumers, against reading the
// synthetic stream directly. The synthetic reader costs next to nothing,
// unlike the real decoder (about a microsecond per record), so the numbers
// are the fan-out's own overhead. cpu-ns/record is the CPU time of the
// whole process per record, producer and consumers included; opens shows
// whether a consumer fell a window behind (on a loaded machine) and re-read
// the object.
func BenchmarkFanout(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		src := &source{n: b.N}
		r, _ := src.open(context.Background())
		defer r.Close()
		measure(b, func() {
			if n := count(r); n != b.N {
				b.Fatalf("%d records, want %d", n, b.N)
			}
		})
	})
	for _, consumers := range []int{1, 3} {
		b.Run(fmt.Sprintf("consumers=%d", consumers), func(b *testing.B) {
			src := &source{n: b.N}
			s, err := New(context.Background(), src.open, consumers)
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
				// One goroutine reads the consumers in turn, as lockstep
				// does, so that none falls a window behind and re-reads
				// the object: with consumers as fast as the synthetic
				// reader on few CPUs, scheduling alone would detach them.
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

// count reads r to its end and returns the number of records.
func count(r deliver.RecordReader) int {
	n := 0
	for {
		if _, err := r.Next(); err != nil {
			if err != io.EOF {
				return -1
			}
			return n
		}
		n++
	}
}
