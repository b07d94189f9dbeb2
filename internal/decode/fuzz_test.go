package decode

import (
	"bytes"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
)

func FuzzReader(f *testing.F) {
	seeds := []string{
		`{"message":"hello","timestamp":"2024-01-02T03:04:01.123456789Z","kubernetes":{"pod_name":"p","container_name":"c","namespace_name":"n"},"cluster_id":"c1","application":"a","stream":"stdout"}`,
		`{"message":"{\"level\":\"info\",\"ts\":1693394821.564974,\"msg\":\"x\"}"}`,
		`{"message":"{\"stageTimestamp\":\"2023-08-30T11:27:01.164974Z\",\"requestReceivedTimestamp\":\"2023-08-30T11:27:01.1Z\"}"}`,
		"I0830 11:27:01.564974       1 controller.go:123] Starting\n2023/08/30 11:27:01 go log\n",
		`time="2023-08-30T11:27:01+02:00" level=info msg=x`,
		`[{"message":"a"},"b",null,1,{"no":"message"}]`,
		`{"message":"\ud83d\ude00 \ud800 \u0000"}` + "\n\n\r\n" + `{"message":""}`,
		"{\"message\":\"\xff\xfe\"}\n\xff\n",
		`{"a":[[[[{"b":"c"}]]]],"message":null}`,
		`{"message":"x"} trailing`,
		"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff",
		"\x28\xb5\x2f\xfd\x00",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	f.Add(gzipped(f, seeds[0]+"\n", seeds[1]), true)
	f.Fuzz(func(t *testing.T, data []byte, gz bool) {
		if gz {
			data = gzipped(t, string(data))
		}
		r, err := NewReader(body(data), deliver.Object{Key: "k", Time: objTime}, func(o *Options) {
			o.MaxLineBytes = 256
			o.MaxDecompressedBytes = 1 << 20
		})
		if err != nil {
			if fault.IsRetryable(err) {
				t.Fatalf("in-memory object failed retryably: %v", err)
			}
			return
		}
		defer r.Close()
		var n int64
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if fault.IsRetryable(err) {
					t.Fatalf("in-memory object failed retryably: %v", err)
				}
				break
			}
			n++
			if rec.Message == "" {
				t.Fatalf("record %d has an empty message", n)
			}
			if !utf8.ValidString(rec.Message) {
				t.Fatalf("record %d message %q is not valid UTF-8", n, rec.Message)
			}
			for _, s := range []string{rec.Stream, rec.Namespace, rec.Pod, rec.Container, rec.Cluster, rec.Application} {
				if !utf8.ValidString(s) {
					t.Fatalf("record %d metadata %q is not valid UTF-8", n, s)
				}
			}
			if rec.Time.IsZero() {
				t.Fatalf("record %d has no time", n)
			}
			if rec.TimeSource == deliver.TimeFromObject && !rec.Time.Equal(objTime) {
				t.Fatalf("record %d: time %v from the object, want %v", n, rec.Time, objTime)
			}
		}
		st := r.Stats()
		if st.Records != n {
			t.Fatalf("Stats().Records = %d, returned %d", st.Records, n)
		}
		if r.Compression() == None && st.InputBytes > int64(len(data)) {
			t.Fatalf("InputBytes %d > %d", st.InputBytes, len(data))
		}
		if r.Compression() == None && bytes.IndexByte(data, '\n') < 0 && len(data) > 0 && st.Lines > 1 {
			t.Fatalf("%d lines without a newline", st.Lines)
		}
	})
}
