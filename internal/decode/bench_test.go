package decode

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/logdelivery/logdelivery/deliver"
)

// genEvents appends realistic Vector events to dst until it holds at least
// size bytes: ~1 KB events with Kubernetes metadata and a mix of message
// formats (application text with a record timestamp, etcd JSON, apiserver
// audit events, klog, Go log, logfmt, events without a timestamp or a
// message, and the odd array line).
func genEvents(dst []byte, size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	apps := []struct{ app, ns, container string }{
		{"kube-apiserver", "openshift-kube-apiserver", "kube-apiserver"},
		{"etcd", "openshift-etcd", "etcd"},
		{"checkout", "shop-prod", "checkout"},
		{"oauth-server", "openshift-authentication", "oauth-openshift"},
	}
	words := strings.Fields("the quick brown fox jumps over the lazy dog while reconciling deployment replicas in namespace with status code latency bytes request handler")
	var msg []byte
	for n := 0; len(dst) < size; n++ {
		a := apps[n%len(apps)]
		t := base.Add(time.Duration(n) * 1731 * time.Microsecond)
		pod := fmt.Sprintf("%s-%d-7f9c6b5d4-x%04d", a.app, n%3, n%7)
		msg = msg[:0]
		kind := rng.IntN(10)
		switch kind {
		case 0, 1, 2: // application text
			msg = append(msg, "INFO handled request id="...)
			msg = strconv.AppendInt(msg, int64(rng.Uint32()), 16)
			for range 30 + rng.IntN(40) {
				msg = append(msg, ' ')
				msg = append(msg, words[rng.IntN(len(words))]...)
			}
		case 3, 4: // etcd JSON
			msg = fmt.Appendf(msg, `{"level":"info","ts":"%s","caller":"mvcc/index.go:214","msg":"compact tree index","revision":%d,"took":"%dms","detail":"%s"}`,
				t.Format(time.RFC3339Nano), rng.IntN(1e7), rng.IntN(900), strings.Repeat("compaction ", 20+rng.IntN(30)))
		case 5: // audit event
			msg = fmt.Appendf(msg, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%08x-1c2b-4a5e-9f00-%012x","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/%s/deployments?limit=500","verb":"list","user":{"username":"system:serviceaccount:%s:default","groups":["system:serviceaccounts","system:authenticated"]},"sourceIPs":["10.128.0.%d"],"userAgent":"kube-controller-manager/v1.29.0","objectRef":{"resource":"deployments","namespace":"%s","apiGroup":"apps","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"%s","stageTimestamp":"%s","annotations":{"authorization.k8s.io/decision":"allow"}}`,
				rng.Uint32(), rng.Uint64()&0xffffffffffff, a.ns, a.ns, rng.IntN(255), a.ns, t.Format(time.RFC3339Nano), t.Add(3*time.Millisecond).Format(time.RFC3339Nano))
		case 6: // klog
			msg = fmt.Appendf(msg, "I%s       1 controller.go:%d] \"Observed a change\" deployment=%q replicas=%d %s",
				t.Format("0102 15:04:05.000000"), rng.IntN(900), a.ns+"/"+pod, rng.IntN(9), strings.Repeat("detail ", 60+rng.IntN(40)))
		case 7: // Go log
			msg = fmt.Appendf(msg, "%s http: TLS handshake error from 10.0.%d.%d:%d: %s",
				t.Format("2006/01/02 15:04:05.000000"), rng.IntN(255), rng.IntN(255), 1024+rng.IntN(60000), strings.Repeat("remote error: tls: bad certificate ", 12+rng.IntN(10)))
		default: // logfmt
			msg = fmt.Appendf(msg, `time="%s" level=info msg="reconciled object" name=%s %s`,
				t.Format(time.RFC3339Nano), pod, strings.Repeat("key=value ", 50+rng.IntN(30)))
		}
		ev := fmt.Appendf(nil, `"kubernetes":{"container_id":"cri-o://%016x","container_image":"quay.io/openshift/%s:v4.15","container_name":"%s","namespace_labels":{"kubernetes.io/metadata.name":"%s"},"pod_ip":"10.128.2.%d","pod_labels":{"app":"%s","pod-template-hash":"7f9c6b5d4"},"pod_name":"%s","pod_namespace":"%s","pod_node_name":"ip-10-0-1-%d.ec2.internal","pod_uid":"%08x-0000-4000-8000-%012x"},"cluster_id":"c-2f9a7e","namespace":"%s","application":"%s","pod_name":"%s","stream":"stdout","source_type":"kubernetes_logs","file":"/var/log/pods/%s/%s/0.log","ingest_timestamp":"%s"`,
			rng.Uint64(), a.container, a.container, a.ns, n%250, a.app, pod, a.ns, n%200, rng.Uint32(), rng.Uint64()&0xffffffffffff, a.ns, a.app, pod, pod, a.container, t.Add(time.Second).Format(time.RFC3339Nano))
		line := append([]byte(`{"message":`), strconv.AppendQuote(nil, string(msg))...)
		if n%10 != 9 { // one event in ten carries no timestamp
			line = append(line, `,"timestamp":"`...)
			line = t.AppendFormat(line, time.RFC3339Nano)
			line = append(line, '"')
		}
		line = append(line, ',')
		line = append(line, ev...)
		line = append(line, '}')
		if n%50 == 49 { // an array line of two events
			line = append(append(append([]byte{'['}, line...), ',', ' '), line...)
			line = append(line, ']')
		}
		dst = append(dst, line...)
		dst = append(dst, '\n')
	}
	return dst
}

var benchData = sync.OnceValues(func() ([]byte, []byte) {
	raw := genEvents(nil, 16<<20, 42)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	zw.Write(raw)
	zw.Close()
	return raw, buf.Bytes()
})

// gunzipSplit is the baseline: bare gunzip and line split of data.
func gunzipSplit(tb testing.TB, gz []byte) int {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), DefaultMaxLineBytes)
	lines := 0
	for sc.Scan() {
		lines++
	}
	if sc.Err() != nil || lines == 0 {
		tb.Fatal(sc.Err())
	}
	return lines
}

// decodeAll decodes data and returns the number of records.
func decodeAll(tb testing.TB, data []byte, optFns ...func(*Options)) int64 {
	r, err := NewReader(body(data), deliver.Object{Key: "k", Time: objTime}, optFns...)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var records int64
	for {
		_, err := r.Next()
		if err == io.EOF {
			return records
		}
		if err != nil {
			tb.Fatal(err)
		}
		records++
	}
}

// BenchmarkDecode measures decoding a realistic object (see genEvents)
// next to the bare gunzip + line split of the same object, and the cost of
// decoding the selector metadata (Options.Fields: host, pod and namespace
// labels). MB/s are of uncompressed input.
func BenchmarkDecode(b *testing.B) {
	raw, gz := benchData()
	b.Logf("object: %d bytes uncompressed, %d gzip", len(raw), len(gz))
	b.Run("gunzip+split", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			gunzipSplit(b, gz)
		}
	})
	decode := func(b *testing.B, data []byte, optFns ...func(*Options)) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		var records int64
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		cpu0, _ := cpuTime()
		for b.Loop() {
			records += decodeAll(b, data, optFns...)
		}
		cpu1, _ := cpuTime()
		runtime.ReadMemStats(&ms1)
		b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(records), "allocs/record")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(records), "ns/record")
		if cpu1 > 0 {
			b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(records), "cpu-ns/record")
		}
	}
	// Decompression on a goroutine of its own (the default with
	// GOMAXPROCS > 1) against on the decoder's: ns/record is wall time,
	// cpu-ns/record the process's CPU time.
	b.Run("decode-gzip", func(b *testing.B) { decode(b, gz) })
	b.Run("decode-gzip-sequential", func(b *testing.B) { decode(b, gz, func(o *Options) { o.Sequential = true }) })
	b.Run("decode-plain", func(b *testing.B) { decode(b, raw) })
	fields := func(o *Options) { o.Fields = deliver.FieldHost | deliver.FieldLabels | deliver.FieldNamespaceLabels }
	b.Run("decode-plain-fields", func(b *testing.B) { decode(b, raw, fields) })
}

// BenchmarkDecodeRatio alternates the baseline (gunzip + line split) and
// the full decode of the same gzip object in every iteration, so that both
// see the same machine load, and reports both throughputs and their ratio
// (decode / baseline; the target is ≥ 0.5), by wall time and by process
// CPU time (the per-core measure, robust to a loaded machine).
func BenchmarkDecodeRatio(b *testing.B) {
	raw, gz := benchData()
	var base, dec, baseCPU, decCPU time.Duration
	for b.Loop() {
		c0, _ := cpuTime()
		t0 := time.Now()
		gunzipSplit(b, gz)
		c1, _ := cpuTime()
		t1 := time.Now()
		decodeAll(b, gz)
		c2, _ := cpuTime()
		base += t1.Sub(t0)
		dec += time.Since(t1)
		baseCPU += c1 - c0
		decCPU += c2 - c1
	}
	mb := float64(len(raw)) * float64(b.N) / 1e6
	b.ReportMetric(mb/base.Seconds(), "baseline-MB/s")
	b.ReportMetric(mb/dec.Seconds(), "decode-MB/s")
	b.ReportMetric(base.Seconds()/dec.Seconds(), "ratio")
	if decCPU > 0 {
		b.ReportMetric(mb/baseCPU.Seconds(), "baseline-MB/cpu-s")
		b.ReportMetric(mb/decCPU.Seconds(), "decode-MB/cpu-s")
		b.ReportMetric(baseCPU.Seconds()/decCPU.Seconds(), "cpu-ratio")
	}
}

// BenchmarkDecodeFields alternates decoding the benchmark object (see
// genEvents) without and with the selector metadata (Options.Fields: host,
// pod and namespace labels) in every iteration, so that both see the same
// machine load, and reports the CPU time per record of each and the extra
// cost of the metadata. The generated records change pod and node at every
// record, which defeats the sharing of host strings (four are remembered);
// the four distinct label objects are shared.
func BenchmarkDecodeFields(b *testing.B) {
	raw, _ := benchData()
	fields := func(o *Options) { o.Fields = deliver.FieldHost | deliver.FieldLabels | deliver.FieldNamespaceLabels }
	var without, with time.Duration
	var records int64
	for b.Loop() {
		c0, _ := cpuTime()
		records += decodeAll(b, raw)
		c1, _ := cpuTime()
		decodeAll(b, raw, fields)
		c2, _ := cpuTime()
		without += c1 - c0
		with += c2 - c1
	}
	if without > 0 {
		b.ReportMetric(float64(without.Nanoseconds())/float64(records), "cpu-ns/record")
		b.ReportMetric(float64(with.Nanoseconds())/float64(records), "fields-cpu-ns/record")
		b.ReportMetric(100*(with.Seconds()/without.Seconds()-1), "fields-cost-%")
	}
}

// BenchmarkPeakMemory decodes a generated gzip stream of 1 GiB
// uncompressed, produced on the fly through a pipe, and reports the peak
// heap in use and the peak RSS (VmHWM) of the process. Run it alone:
//
//	go test -run '^$' -bench PeakMemory -benchtime 1x ./internal/decode
func BenchmarkPeakMemory(b *testing.B) {
	const total = 1 << 30
	chunk := genEvents(nil, 4<<20, 7)
	for b.Loop() {
		pr, pw := io.Pipe()
		go func() {
			zw, _ := gzip.NewWriterLevel(pw, gzip.BestSpeed)
			for written := 0; written < total; written += len(chunk) {
				if _, err := zw.Write(chunk); err != nil {
					pw.CloseWithError(err)
					return
				}
			}
			pw.CloseWithError(zw.Close())
		}()

		var peakHeap, peakSys uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				peakHeap = max(peakHeap, ms.HeapInuse)
				peakSys = max(peakSys, ms.Sys)
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()

		r, err := NewReader(&deliver.Body{ReadCloser: pr}, deliver.Object{Key: "k", Time: objTime})
		if err != nil {
			b.Fatal(err)
		}
		var records int64
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			records++
		}
		st := r.Stats()
		r.Close()
		close(stop)
		<-done
		if st.InputBytes < total {
			b.Fatalf("decoded %d bytes, want ≥ %d", st.InputBytes, total)
		}
		b.SetBytes(st.InputBytes)
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(peakSys)/(1<<20), "peak-sys-MB")
		if hwm, ok := vmHWM(); ok {
			b.ReportMetric(float64(hwm)/(1<<20), "peak-rss-MB")
		}
		b.Logf("%d records, %d bytes decoded, %d compressed", records, st.InputBytes, st.CompressedIn)
	}
}

// vmHWM returns the peak resident set size of the process on Linux.
func vmHWM() (uint64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

func TestGeneratedObjectDecodes(t *testing.T) {
	raw := genEvents(nil, 1<<20, 3)
	recs, st := decodeString(t, string(raw))
	if st.BadJSON != 0 || st.Empty != 0 || st.TooLong != 0 || st.InvalidUTF8 != 0 {
		t.Errorf("generated object has bad lines: %+v", st)
	}
	var fromObject int
	for _, r := range recs {
		if r.TimeSource == deliver.TimeFromObject {
			fromObject++
		}
		if r.Pod == "" || r.Namespace == "" || r.Cluster == "" || r.Application == "" || r.Container == "" || r.Stream == "" {
			t.Fatalf("record without metadata: %+v", r)
		}
	}
	// Only untimestamped application text falls back to the object time.
	if fromObject == 0 || fromObject > len(recs)/20 {
		t.Errorf("%d of %d records took the object time", fromObject, len(recs))
	}
}
