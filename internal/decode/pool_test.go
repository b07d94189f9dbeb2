package decode

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
)

// Readers sharing a Pool, in turn and at once, decode every object as a
// Reader of its own does: nothing of one object leaks into the next, and
// a corrupt or plain object between them changes nothing.
func TestPoolReusesStateSafely(t *testing.T) {
	objects := [][]byte{
		gzipped(t, `{"message":"first \"object\"","timestamp":"2024-01-02T03:04:05Z"}`+"\n"+strings.Repeat("x", 70_000)+"\nlast"),
		[]byte("plain text object\nsecond line\n"),
		append(gzipped(t, `{"message":"cut"}`+"\n"), 0xde, 0xad), // trailing garbage: corrupt
		gzipped(t, `{"message":"short"}`, `[{"message":"a"},{"message":"b"}]`+"\n"),
		{0x1f, 0x8b, 0x08}, // a truncated gzip header
		gzipped(t, strings.Repeat(`{"message":"many lines","kubernetes":{"pod_name":"p"}}`+"\n", 3000)),
	}
	type outcome struct {
		recs  []deliver.Record
		stats deliver.DecodeStats
		err   string
	}
	decodeWith := func(data []byte, pool *Pool) outcome {
		var o outcome
		rd, err := NewReader(body(data), deliver.Object{Key: "k.gz", Time: objTime}, func(opt *Options) { opt.Pool = pool })
		if err != nil {
			o.err = err.Error()
			return o
		}
		for {
			rec, err := rd.Next()
			if err != nil {
				if err.Error() != "EOF" {
					o.err = err.Error()
				}
				break
			}
			o.recs = append(o.recs, rec)
		}
		o.stats = rd.Stats()
		require.NoError(t, rd.Close())
		return o
	}
	want := make([]outcome, len(objects))
	for i, data := range objects {
		want[i] = decodeWith(data, nil)
	}
	assert.NotEmpty(t, want[2].err, "the corrupt object fails")
	assert.NotEmpty(t, want[4].err, "the truncated header fails")

	var pool Pool
	for round := range 3 {
		for i, data := range objects {
			assert.Equal(t, want[i], decodeWith(data, &pool), "object %d, round %d", i, round)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 5 {
				i := (g + round) % len(objects)
				assert.Equal(t, want[i], decodeWith(objects[i], &pool), fmt.Sprintf("goroutine %d, object %d", g, i))
			}
		}()
	}
	wg.Wait()
}

// BenchmarkSmallObjects decodes 200 KB objects one after another, as a
// processor of collectors' frequent flushes does, with and without a Pool:
// B/op is what each object costs the garbage collector.
//
//	go test -run '^$' -bench SmallObjects -benchmem ./internal/decode/
func BenchmarkSmallObjects(b *testing.B) {
	data := gzipped(b, string(genEvents(nil, 200_000, 3)))
	for _, pooled := range []bool{false, true} {
		b.Run(fmt.Sprintf("pool=%t", pooled), func(b *testing.B) {
			var pool *Pool
			if pooled {
				pool = &Pool{}
			}
			b.SetBytes(200_000)
			b.ReportAllocs()
			for b.Loop() {
				decodeAll(b, data, func(o *Options) { o.Pool = pool })
			}
		})
	}
}

// The kubernetes objects of the pods repeat, more pods than the memo
// remembers, some differing from another only in their last bytes or by
// escapes: every record gets its own pod's metadata.
func TestKubernetesMemo(t *testing.T) {
	k8s := func(pod, extra string) string {
		return `{"container_name":"c-` + pod + `","pod_labels":{"app":"` + pod + `"},"pod_name":"` + pod +
			`","pod_namespace":"ns","pod_node_name":"node-` + pod + `"` + extra + `}`
	}
	objs := []struct{ raw, pod, app, host string }{
		{k8s("a", ""), "a", "a", "node-a"},
		{k8s("b", ""), "b", "b", "node-b"},
		{k8s("a", `,"x":1`), "a", "a", "node-a"}, // a's object plus a member
		{`{"container_name":"c-e","pod_labels":{"app":"\u0065"},"pod_name":"e","pod_node_name":"node-e"}`, "e", "e", "node-e"}, // escapes
		{k8s("c", ""), "c", "c", "node-c"},
		{k8s("d", ""), "d", "d", "node-d"},
		{k8s("f", `,"namespace_labels":{"team":"f"}`), "f", "f", "node-f"},
		{`{"pod_name":"g"}`, "g", "", ""},
	}
	var in strings.Builder
	var want []deliver.Record
	for i := range 200 {
		o := objs[(i*3)%len(objs)]
		fmt.Fprintf(&in, `{"kubernetes":%s,"message":"m%d"}`+"\n", o.raw, i)
		rec := deliver.Record{Pod: o.pod, Host: o.host, Message: fmt.Sprintf("m%d", i)}
		if o.app != "" {
			rec.Labels = map[string]string{"app": o.app}
			rec.Container = "c-" + o.pod
		}
		if o.pod != "e" && o.pod != "g" {
			rec.Namespace = "ns"
		}
		if o.pod == "f" {
			rec.NamespaceLabels = map[string]string{"team": "f"}
		}
		want = append(want, rec)
	}
	recs, _, err := readAll(t, body([]byte(in.String())), deliver.Object{Key: "k", Time: objTime}, func(o *Options) {
		o.Fields = deliver.FieldHost | deliver.FieldLabels | deliver.FieldNamespaceLabels
	})
	require.NoError(t, err)
	require.Len(t, recs, len(want))
	for i, rec := range recs {
		got := deliver.Record{Pod: rec.Pod, Container: rec.Container, Namespace: rec.Namespace, Host: rec.Host,
			Labels: rec.Labels, NamespaceLabels: rec.NamespaceLabels, Message: rec.Message}
		assert.Equal(t, want[i], got, "record %d", i)
	}
}

// Decompressing ahead, on a goroutine of its own, decodes what the
// sequential path decodes, ends with the same errors and counts, and a
// Reader closed early, even with its body blocked in a read, stops the
// goroutine.
func TestDecompressAhead(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("decompression ahead needs GOMAXPROCS > 1")
	}
	big := gzipped(t, string(genEvents(nil, 3<<20, 5)))
	objects := map[string][]byte{
		"big":       big,
		"corrupt":   append(big[:len(big)/2:len(big)/2], bytes.Repeat([]byte{0xff}, 5000)...),
		"truncated": big[:len(big)-100],
		"members":   gzipped(t, "a\n", "b\n", `{"message":"c"}`),
	}
	for name, data := range objects {
		for _, maxBytes := range []int64{0, 1 << 20} {
			var seq, ahead []deliver.Record
			var seqStats, aheadStats deliver.DecodeStats
			var seqErr, aheadErr error
			seq, seqStats, seqErr = readAll(t, body(data), deliver.Object{Key: "k.gz", Time: objTime}, func(o *Options) {
				o.Sequential, o.MaxDecompressedBytes = true, maxBytes
			})
			ahead, aheadStats, aheadErr = readAll(t, body(data), deliver.Object{Key: "k.gz", Time: objTime}, func(o *Options) {
				o.MaxDecompressedBytes = maxBytes
			})
			assert.Equal(t, len(seq), len(ahead), "%s, max %d", name, maxBytes)
			assert.Equal(t, seq, ahead, "%s, max %d", name, maxBytes)
			assert.Equal(t, fmt.Sprint(seqErr), fmt.Sprint(aheadErr), "%s, max %d", name, maxBytes)
			assert.Equal(t, seqStats, aheadStats, "%s, max %d", name, maxBytes)
		}
	}

	small, err := NewReader(body(objects["members"]), deliver.Object{Key: "k.gz", Time: objTime})
	require.NoError(t, err)
	assert.Nil(t, small.ahead, "a small object is decompressed in line")
	require.NoError(t, small.Close())

	before := runtime.NumGoroutine()
	var pool Pool
	for range 10 {
		rd, err := NewReader(body(big), deliver.Object{Key: "k.gz", Time: objTime}, func(o *Options) { o.Pool = &pool })
		require.NoError(t, err)
		require.NotNil(t, rd.ahead, "%d compressed bytes are decompressed ahead", len(big))
		_, err = rd.Next()
		require.NoError(t, err)
		require.NoError(t, rd.Close())
	}
	// A body whose read blocks until it is closed.
	pr, pw := io.Pipe()
	go func() { pw.Write(big[:len(big)/3]) }()
	rd, err := NewReader(&deliver.Body{ReadCloser: pr}, deliver.Object{Key: "k.gz", Time: objTime})
	require.NoError(t, err)
	_, err = rd.Next()
	require.NoError(t, err)
	require.NoError(t, rd.Close())
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+1 && time.Now().Before(deadline) { // +1: the writer, blocked on the closed pipe until it fails
		time.Sleep(time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before+1, "decompressing goroutines stopped")
}
