package decode

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
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
	seeds = append(seeds,
		vectorEvent("m", `"pod_node_name":"n1","pod_labels":{"app":"a","app.kubernetes.io/name":"x\u00e9","n":1},"namespace_labels":{"tier":"prod"}`)+"\n"+
			vectorEvent("m", `"pod_node_name":"n1","pod_labels":{"app":"a","app.kubernetes.io/name":"x\u00e9","n":1},"namespace_labels":{"tier":"prod"}`),
		`[{"message":"a","kubernetes":{"pod_labels":{"k":["v"]},"pod_node_name":"\ud800"}},{"message":"b","kubernetes":{"pod_labels":"x","namespace_labels":null}}]`,
		"{\"message\":\"m\",\"kubernetes\":{\"pod_labels\":{\"k\xff\":\"\xfe\",\"k\xff\":\"v\"}}}",
	)
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	f.Add(gzipped(f, seeds[0]+"\n", seeds[1]), true)
	f.Fuzz(func(t *testing.T, data []byte, gz bool) {
		if gz {
			data = gzipped(t, string(data))
		}
		recs, ok := fuzzDecode(t, data, 0)
		if !ok {
			return
		}
		// Asking for the selector metadata changes nothing else.
		withFields, _ := fuzzDecode(t, data, allFields)
		if len(withFields) != len(recs) {
			t.Fatalf("%d records with Fields, %d without", len(withFields), len(recs))
		}
		for i, rec := range withFields {
			if !utf8.ValidString(rec.Host) {
				t.Fatalf("record %d host %q is not valid UTF-8", i, rec.Host)
			}
			for _, labels := range []map[string]string{rec.Labels, rec.NamespaceLabels} {
				if labels != nil && len(labels) == 0 {
					t.Fatalf("record %d has an empty, non-nil labels map", i)
				}
				for k, v := range labels {
					if !utf8.ValidString(k) || !utf8.ValidString(v) {
						t.Fatalf("record %d label %q=%q is not valid UTF-8", i, k, v)
					}
				}
			}
			rec.Host, rec.Labels, rec.NamespaceLabels = "", nil, nil
			if !reflect.DeepEqual(rec, recs[i]) {
				t.Fatalf("record %d with Fields = %+v, without %+v", i, rec, recs[i])
			}
		}
	})
}

// fuzzDecode decodes data, checks the invariants of every record and of
// the stats, and returns the records; false when NewReader failed.
func fuzzDecode(t *testing.T, data []byte, fields deliver.Fields) ([]deliver.Record, bool) {
	r, err := NewReader(body(data), deliver.Object{Key: "k", Time: objTime}, func(o *Options) {
		o.MaxLineBytes = 256
		o.MaxDecompressedBytes = 1 << 20
		o.Fields = fields
	})
	if err != nil {
		if fault.IsRetryable(err) {
			t.Fatalf("in-memory object failed retryably: %v", err)
		}
		return nil, false
	}
	defer r.Close()
	var recs []deliver.Record
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
		recs = append(recs, rec)
		n := len(recs)
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
	if st.Records != int64(len(recs)) {
		t.Fatalf("Stats().Records = %d, returned %d", st.Records, len(recs))
	}
	if r.Compression() == None && st.InputBytes > int64(len(data)) {
		t.Fatalf("InputBytes %d > %d", st.InputBytes, len(data))
	}
	if r.Compression() == None && bytes.IndexByte(data, '\n') < 0 && len(data) > 0 && st.Lines > 1 {
		t.Fatalf("%d lines without a newline", st.Lines)
	}
	return recs, true
}

// FuzzLabels checks the decoding of label objects against encoding/json.
func FuzzLabels(f *testing.F) {
	for _, s := range []string{
		`{"app":"checkout","app.kubernetes.io/name":"checkout","pod-template-hash":"7f9c6b5d4"}`,
		`{"app\u002ekubernetes.io/name":"caf\u00e9","q":"a\"b\\c","\ud83d\ude00":"\ud800"}`,
		`{"n":1.5e3,"t":true,"z":null,"o":{ "a" : [1, "x y"] },"l":[ ],"s":""}`,
		`{"a":"1","a":"2"}`,
		`{ }`,
		"{\"k\xff\":\"v\xc3\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		end, ok := 0, len(obj) > 0 && obj[0] == '{'
		if ok {
			end, ok = skipComposite(obj, 0, 0)
		}
		if !ok || end != len(obj) {
			return
		}
		var r Reader
		got := r.decodeLabels(obj)
		if got != nil && len(got) == 0 {
			t.Fatalf("empty, non-nil map for %q", obj)
		}
		for k, v := range got {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("label %q=%q is not valid UTF-8", k, v)
			}
		}
		if !utf8.Valid(obj) || bytes.ContainsFunc(obj, func(r rune) bool { return r < 0x20 }) {
			return // encoding/json repairs differently and rejects raw control characters
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(obj, &raw); err != nil {
			t.Fatalf("decoded %q, which encoding/json rejects: %v", obj, err)
		}
		want := map[string]string{}
		for k, v := range raw {
			var s string
			if v[0] == '"' {
				if err := json.Unmarshal(v, &s); err != nil {
					t.Fatal(err)
				}
			} else {
				var buf bytes.Buffer
				if err := json.Compact(&buf, v); err != nil {
					t.Fatal(err)
				}
				s = buf.String()
			}
			want[k] = s
		}
		if len(want) == 0 {
			want = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("labels of %q = %#v, encoding/json says %#v", obj, got, want)
		}
	})
}
