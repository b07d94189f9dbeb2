package loki

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
)

// lineGen makes collector output: mostly klog-style controller lines,
// JSON access logs with ids and timings, a few multi-kilobyte stack
// traces, of words (Zipf-distributed) and random hexadecimal ids, that
// compress about as real logs do rather than as repeated letters.
type lineGen struct {
	rng   *rand.Rand
	zipf  *rand.Zipf // word ranks: a few words are most of the text
	words []string
}

func newLineGen() *lineGen {
	g := &lineGen{rng: rand.New(rand.NewPCG(1, 2))}
	for range 2000 {
		n := 3 + g.rng.IntN(9)
		w := make([]byte, n)
		for i := range w {
			w[i] = byte('a' + g.rng.IntN(26))
		}
		g.words = append(g.words, string(w))
	}
	g.zipf = rand.NewZipf(g.rng, 1.2, 1, uint64(len(g.words)-1))
	return g
}

func (g *lineGen) text(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(g.words[g.zipf.Uint64()])
	}
	return b.String()
}

func (g *lineGen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b)
}

func (g *lineGen) line(i int) string {
	switch p := g.rng.IntN(100); {
	case p < 70:
		return fmt.Sprintf("I1121 12:00:%02d.%06d       1 controller.go:%d] Reconciled %s/%s in %dms: %s",
			i%60, g.rng.IntN(1e6), g.rng.IntN(900), g.text(1), g.hex(8), g.rng.IntN(900), g.text(5+g.rng.IntN(20)))
	case p < 97:
		return fmt.Sprintf(`{"level":"info","ts":"2026-11-21T12:00:%02d.%03dZ","msg":"request","method":"GET","path":"/api/v1/%s/%s","status":%d,"latency_ms":%d,"trace_id":"%s","user_agent":"%s"}`,
			i%60, g.rng.IntN(1000), g.text(1), g.hex(12), 200+g.rng.IntN(4)*100, g.rng.IntN(500), g.hex(32), g.text(3+g.rng.IntN(10)))
	}
	var b strings.Builder
	b.WriteString("panic: runtime error: " + g.text(6) + "\n\ngoroutine 1 [running]:\n")
	for range 20 + g.rng.IntN(60) {
		fmt.Fprintf(&b, "main.%s(0xc000%s)\n\t/src/%s.go:%d +0x%s\n", g.text(1), g.hex(6), g.text(1), g.rng.IntN(900), g.hex(2))
	}
	return b.String()
}

// realisticBatch returns a batch as full as DefaultBatchBytes allows of
// lineGen's lines from 8 pods of 2 namespaces, the pod as structured
// metadata.
func realisticBatch() *batch {
	g := newLineGen()
	b := newBatch()
	start := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for i := 0; ; i++ {
		line := g.line(i)
		pod := i % 8
		meta := []pair{{"pod", fmt.Sprintf("api-%d-7d9f8c6b5-x%d", pod, pod)}}
		e := entry{ts: start.Add(time.Duration(i) * 5 * time.Millisecond).Add(time.Duration(g.rng.IntN(1000))), line: line, meta: meta}
		if b.bytes+len(line)+metaSize(meta) > DefaultBatchBytes {
			return b
		}
		b.add(fmt.Sprintf(`{app="api", cluster="prod-1", namespace="team-%d"}`, pod%2), e)
	}
}

// jsonBody encodes b as Loki's JSON push body, gzip-compressed at level.
func jsonBody(b *batch, level int) []byte {
	type jsonStream struct {
		Stream map[string]string `json:"stream"`
		Values [][]any           `json:"values"`
	}
	var req struct {
		Streams []jsonStream `json:"streams"`
	}
	for _, st := range b.streams {
		pairs, _ := lokitest.ParseLabels(st.labels)
		js := jsonStream{Stream: map[string]string{}}
		for _, p := range pairs {
			js.Stream[p[0]] = p[1]
		}
		for _, e := range st.entries {
			meta := map[string]string{}
			for _, p := range e.meta {
				meta[p.Name] = p.Value
			}
			js.Values = append(js.Values, []any{strconv.FormatInt(e.ts.UnixNano(), 10), e.line, meta})
		}
		req.Streams = append(req.Streams, js)
	}
	raw, err := json.Marshal(req)
	if err != nil {
		panic(err)
	}
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, level)
	zw.Write(raw)
	zw.Close()
	return out.Bytes()
}

// The push body decodes, in the fake's strict decoder, to the batch.
func TestEncodeRoundTrip(t *testing.T) {
	b := realisticBatch()
	var enc encoder
	req, err := lokitest.DecodeProtobuf(enc.encode(b).B)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Streams) != len(b.streams) {
		t.Fatalf("%d streams, want %d", len(req.Streams), len(b.streams))
	}
	for i, st := range req.Streams {
		want := b.streams[i]
		if st.Labels != want.labels || len(st.Entries) != len(want.entries) {
			t.Fatalf("stream %d: %s with %d entries, want %s with %d", i, st.Labels, len(st.Entries), want.labels, len(want.entries))
		}
		for j, e := range st.Entries {
			w := want.entries[j]
			if !e.Time.Equal(w.ts) || e.Line != w.line || e.Metadata["pod"] != w.meta[0].Value {
				t.Fatalf("stream %d entry %d: %v %q %v, want %v %q %v", i, j, e.Time, e.Line, e.Metadata, w.ts, w.line, w.meta)
			}
		}
	}
	// Times before 1970, with zero seconds or nanoseconds, survive too.
	for _, ts := range []time.Time{time.Unix(0, 0), time.Unix(-5, 7), time.Unix(3, 0), time.Unix(0, 999_999_999)} {
		b := newBatch()
		b.add(`{a="b"}`, entry{ts: ts, line: ""})
		req, err := lokitest.DecodeProtobuf(enc.encode(b).B)
		if err != nil || !req.Streams[0].Entries[0].Time.Equal(ts) {
			t.Fatalf("time %v: %v %v", ts, req, err)
		}
	}
}

// BenchmarkEncoding measures what the choice of push encoding costs: the
// CPU to encode a realistic 1 MiB batch and the bytes it puts on the wire,
// for protobuf with snappy (the deliverer's) and JSON with gzip.
//
//	go test -run '^$' -bench Encoding -benchmem ./deliver/loki/
func BenchmarkEncoding(b *testing.B) {
	batch := realisticBatch()
	run := func(b *testing.B, encode func() int) {
		n := 0
		cpu := cpuTime()
		for b.Loop() {
			n = encode()
		}
		b.SetBytes(int64(batch.bytes))
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
		b.ReportMetric(float64(n), "wire-bytes")
		b.ReportMetric(float64(batch.bytes)/float64(n), "ratio")
	}
	b.Run("protobuf+snappy", func(b *testing.B) {
		var enc encoder
		run(b, func() int {
			body := enc.encode(batch)
			defer enc.pool.Put(body)
			return len(body.B)
		})
	})
	for _, level := range []int{gzip.BestSpeed, gzip.DefaultCompression} {
		b.Run(fmt.Sprintf("json+gzip-%d", level), func(b *testing.B) {
			run(b, func() int { return len(jsonBody(batch, level)) })
		})
	}
}
