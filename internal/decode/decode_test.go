package decode

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
)

var objTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func body(data []byte) *deliver.Body {
	return &deliver.Body{ReadCloser: io.NopCloser(bytes.NewReader(data)), Size: int64(len(data))}
}

func gzipped(t testing.TB, parts ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, p := range parts { // one gzip member per part
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func zstded(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll returns every record of data and the error that ended the stream
// (nil at io.EOF).
func readAll(t testing.TB, b *deliver.Body, obj deliver.Object, optFns ...func(*Options)) ([]deliver.Record, deliver.DecodeStats, error) {
	t.Helper()
	r, err := NewReader(b, obj, optFns...)
	if err != nil {
		return nil, deliver.DecodeStats{}, err
	}
	defer r.Close()
	var recs []deliver.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, r.Stats(), nil
		}
		if err != nil {
			return recs, r.Stats(), err
		}
		recs = append(recs, rec)
	}
}

func decodeString(t testing.TB, s string, optFns ...func(*Options)) ([]deliver.Record, deliver.DecodeStats) {
	t.Helper()
	recs, stats, err := readAll(t, body([]byte(s)), deliver.Object{Bucket: "b", Key: "k", Time: objTime}, optFns...)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return recs, stats
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

type want struct {
	msg  string
	time time.Time
	src  deliver.TimeSource
}

func TestFormats(t *testing.T) {
	const k8s = `"kubernetes":{"pod_name":"etcd-0","container_name":"etcd","namespace_name":"openshift-etcd","pod_labels":{"app":"etcd"}},"cluster_id":"c1","namespace":"openshift-etcd","application":"etcd","pod_name":"etcd-0","stream":"stderr","ingest_timestamp":"2024-01-02T03:04:04Z"`
	tests := []struct {
		name string
		in   string
		want []want
	}{
		{
			name: "vector event with timestamp",
			in:   `{"message":"hello world","timestamp":"2024-01-02T03:04:01.123456789Z",` + k8s + "}\n",
			want: []want{{"hello world", ts("2024-01-02T03:04:01.123456789Z"), deliver.TimeFromRecord}},
		},
		{
			name: "etcd JSON log without record timestamp",
			in:   `{"message":"{\"level\":\"info\",\"ts\":\"2023-08-30T11:27:01.564974Z\",\"caller\":\"etcdserver/server.go:2044\",\"msg\":\"published local member to cluster through raft\"}",` + k8s + "}\n",
			want: []want{{`{"level":"info","ts":"2023-08-30T11:27:01.564974Z","caller":"etcdserver/server.go:2044","msg":"published local member to cluster through raft"}`,
				ts("2023-08-30T11:27:01.564974Z"), deliver.TimeFromMessage}},
		},
		{
			name: "zap epoch seconds with fraction",
			in:   `{"message":"{\"level\":\"info\",\"ts\":1693394821.564974,\"msg\":\"started\"}"}` + "\n",
			want: []want{{`{"level":"info","ts":1693394821.564974,"msg":"started"}`, ts("2023-08-30T11:27:01.564974Z"), deliver.TimeFromMessage}},
		},
		{
			name: "kube-apiserver audit event",
			in:   `{"message":"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"a1\",\"stage\":\"ResponseComplete\",\"requestURI\":\"/api/v1/namespaces\",\"verb\":\"list\",\"user\":{\"username\":\"system:admin\"},\"responseStatus\":{\"code\":200},\"requestReceivedTimestamp\":\"2023-08-30T11:27:01.100000Z\",\"stageTimestamp\":\"2023-08-30T11:27:01.164974Z\"}"}` + "\n",
			want: []want{{`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces","verb":"list","user":{"username":"system:admin"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2023-08-30T11:27:01.100000Z","stageTimestamp":"2023-08-30T11:27:01.164974Z"}`,
				ts("2023-08-30T11:27:01.164974Z"), deliver.TimeFromMessage}},
		},
		{
			name: "audit event with only requestReceivedTimestamp",
			in:   `{"message":"{\"requestReceivedTimestamp\":\"2023-08-30T11:27:01.1Z\",\"verb\":\"get\"}"}` + "\n",
			want: []want{{`{"requestReceivedTimestamp":"2023-08-30T11:27:01.1Z","verb":"get"}`, ts("2023-08-30T11:27:01.1Z"), deliver.TimeFromMessage}},
		},
		{
			name: "klog",
			in:   `{"message":"I0830 11:27:01.564974       1 controller.go:123] Starting controller"}` + "\n",
			want: []want{{"I0830 11:27:01.564974       1 controller.go:123] Starting controller", ts("2023-08-30T11:27:01.564974Z"), deliver.TimeFromMessage}},
		},
		{
			name: "klog December line in a January object",
			in:   "E1231 23:59:58.000001   12 leader.go:9] lost lease\n",
			want: []want{{"E1231 23:59:58.000001   12 leader.go:9] lost lease", ts("2023-12-31T23:59:58.000001Z"), deliver.TimeFromMessage}},
		},
		{
			name: "Go log",
			in:   "2023/08/30 11:27:01 http: TLS handshake error from 10.0.0.1:1234: EOF\n2023/08/30 11:27:02.123456 with micros\n",
			want: []want{
				{"2023/08/30 11:27:01 http: TLS handshake error from 10.0.0.1:1234: EOF", ts("2023-08-30T11:27:01Z"), deliver.TimeFromMessage},
				{"2023/08/30 11:27:02.123456 with micros", ts("2023-08-30T11:27:02.123456Z"), deliver.TimeFromMessage},
			},
		},
		{
			name: "logfmt time=",
			in:   `time="2023-08-30T11:27:01+02:00" level=info msg="reconciled" name=foo` + "\n" + `level=warn ts=2023-08-30T11:27:01.5Z caller=main.go:1 msg=x` + "\n",
			want: []want{
				{`time="2023-08-30T11:27:01+02:00" level=info msg="reconciled" name=foo`, ts("2023-08-30T09:27:01Z"), deliver.TimeFromMessage},
				{`level=warn ts=2023-08-30T11:27:01.5Z caller=main.go:1 msg=x`, ts("2023-08-30T11:27:01.5Z"), deliver.TimeFromMessage},
			},
		},
		{
			name: "plain text",
			in:   "just some text\r\n[INFO] bracketed, not JSON\n",
			want: []want{
				{"just some text", objTime, deliver.TimeFromObject},
				{"[INFO] bracketed, not JSON", objTime, deliver.TimeFromObject},
			},
		},
		{
			name: "leading ISO-8601 with offset",
			in:   "2023-08-30T11:27:01.123-07:30 something happened\n2023-08-30 11:27:01,5+0100 comma fraction\n",
			want: []want{
				{"2023-08-30T11:27:01.123-07:30 something happened", ts("2023-08-30T18:57:01.123Z"), deliver.TimeFromMessage},
				{"2023-08-30 11:27:01,5+0100 comma fraction", ts("2023-08-30T10:27:01.5Z"), deliver.TimeFromMessage},
			},
		},
		{
			name: "time without zone is not trusted",
			in:   "2023-08-30T11:27:01 no zone\n",
			want: []want{{"2023-08-30T11:27:01 no zone", objTime, deliver.TimeFromObject}},
		},
		{
			name: "JSON array of events",
			in:   `[{"message":"a","timestamp":"2024-01-01T00:00:01Z"}, {"message":"b","timestamp":"2024-01-01T00:00:02Z"} ,"c",{"message":""},null,42]` + "\n",
			want: []want{
				{"a", ts("2024-01-01T00:00:01Z"), deliver.TimeFromRecord},
				{"b", ts("2024-01-01T00:00:02Z"), deliver.TimeFromRecord},
				{"c", objTime, deliver.TimeFromObject},
				{"42", objTime, deliver.TimeFromObject},
			},
		},
		{
			name: "no message: event without metadata",
			in:   `{"level":"info","msg":"x","timestamp":"2024-01-01T00:00:01Z","kubernetes":{"pod_name":"p"},"stream":"stdout","nested":{ "a" : [1, 2] }}` + "\n",
			want: []want{{`{"level":"info","msg":"x","nested":{"a":[1,2]}}`, ts("2024-01-01T00:00:01Z"), deliver.TimeFromRecord}},
		},
		{
			name: "no message: time from the remaining fields",
			in:   `{"time":"2024-01-01T00:00:01Z","msg":"x","message":null}` + "\n",
			want: []want{{`{"time":"2024-01-01T00:00:01Z","msg":"x"}`, ts("2024-01-01T00:00:01Z"), deliver.TimeFromMessage}},
		},
		{
			name: "non-string message",
			in:   `{"message":{"ts": 1693394821564, "a":"b"}}` + "\n" + `{"message":[1, true]}` + "\n",
			want: []want{
				{`{"ts":1693394821564,"a":"b"}`, ts("2023-08-30T11:27:01.564Z"), deliver.TimeFromMessage},
				{`[1,true]`, objTime, deliver.TimeFromObject},
			},
		},
		{
			name: "escapes in message",
			in:   `{"message":"tab\there \"quoted\" \u00e9 \ud83d\ude00 \ud800 back\\slash\/"}` + "\n",
			want: []want{{"tab\there \"quoted\" é 😀 \uFFFD back\\slash/", objTime, deliver.TimeFromObject}},
		},
		{
			name: "bad lines between good lines",
			in: `{"message":"one"}` + "\n" + `{"message": "broken` + "\n" + "\n" + `{"message":""}` + "\n" + "   \n" + `{"message":"two"} trailing` + "\n" +
				`[{"message":"bad array"` + "\n" + `{"message":"three"}`,
			want: []want{
				{"one", objTime, deliver.TimeFromObject},
				{`{"message": "broken`, objTime, deliver.TimeFromObject},
				{`{"message":"two"} trailing`, objTime, deliver.TimeFromObject},
				{`[{"message":"bad array"`, objTime, deliver.TimeFromObject},
				{"three", objTime, deliver.TimeFromObject},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _ := decodeString(t, tt.in)
			if len(recs) != len(tt.want) {
				t.Fatalf("got %d records, want %d: %+v", len(recs), len(tt.want), recs)
			}
			for i, w := range tt.want {
				got := recs[i]
				if got.Message != w.msg {
					t.Errorf("record %d message = %q, want %q", i, got.Message, w.msg)
				}
				if !got.Time.Equal(w.time) {
					t.Errorf("record %d time = %v, want %v", i, got.Time, w.time)
				}
				if got.TimeSource != w.src {
					t.Errorf("record %d time source = %v, want %v", i, got.TimeSource, w.src)
				}
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	in := `{"message":"m","kubernetes":{"pod_name":"api-1","container_name":"kube-apiserver","namespace_name":"openshift-kube-apiserver"},"cluster_id":"c1","application":"kube-apiserver","stream":"stdout"}
{"message":"m","namespace":"ns","pod_name":"p","container_name":"c"}
plain
`
	recs, _ := decodeString(t, in, func(o *Options) { o.Application = "from-key" })
	want := []deliver.Record{
		{Stream: "stdout", Namespace: "openshift-kube-apiserver", Pod: "api-1", Container: "kube-apiserver", Cluster: "c1", Application: "kube-apiserver"},
		{Namespace: "ns", Pod: "p", Container: "c", Application: "from-key"},
		{Application: "from-key"},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		got := recs[i]
		got.Message, got.Time, got.TimeSource = "", time.Time{}, 0
		if !reflect.DeepEqual(got, w) {
			t.Errorf("record %d = %+v, want %+v", i, got, w)
		}
	}
}

func TestStats(t *testing.T) {
	in := `{"message":"one"}` + "\n" + // record
		`{"message": "broken` + "\n" + // bad JSON, sent as text
		"\n" + // empty
		`{"message":""}` + "\n" + // empty
		strings.Repeat("x", 100) + "\n" + // too long
		"bad \xff utf8\n" + // repaired
		`{"message":"a","application":"other"}` + "\n" + // filtered
		`{"message":"two"}` // unterminated last line
	recs, st := decodeString(t, in, func(o *Options) {
		o.MaxLineBytes = 50
		o.Accept = func(app string) bool { return app != "other" }
	})
	want := deliver.DecodeStats{Lines: 8, Records: 4, BadJSON: 1, InvalidUTF8: 1, TooLong: 1, Empty: 2, Filtered: 1, InputBytes: int64(len(in))}
	if st != want {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
	if got := recs[2].Message; got != "bad \uFFFD utf8" {
		t.Errorf("repaired message = %q", got)
	}
	if st.Undecoded() != 3 {
		t.Errorf("Undecoded() = %d, want 3", st.Undecoded())
	}
}

func TestTooLongLines(t *testing.T) {
	// Lines around the limit and far over the buffer size, in every
	// position, must not take their neighbours with them.
	for _, n := range []int{63, 64, 65, 1000, 200000} {
		in := "a\n" + strings.Repeat("y", n) + "\nb\n" + strings.Repeat("z", n)
		recs, st := decodeString(t, in, func(o *Options) { o.MaxLineBytes = 64 })
		var msgs []string
		for _, r := range recs {
			msgs = append(msgs, r.Message)
		}
		wantLong := 0
		want := []string{"a", strings.Repeat("y", n), "b", strings.Repeat("z", n)}
		if n > 64 {
			wantLong = 2
			want = []string{"a", "b"}
		}
		if strings.Join(msgs, ",") != strings.Join(want, ",") || st.TooLong != int64(wantLong) {
			t.Errorf("n=%d: got %d records (TooLong %d), want %d (TooLong %d)", n, len(msgs), st.TooLong, len(want), wantLong)
		}
	}
}

func TestCompression(t *testing.T) {
	const text = `{"message":"one"}` + "\n" + `{"message":"two"}` + "\n"
	tests := []struct {
		name string
		body *deliver.Body
		key  string
		want Compression
	}{
		{"gzip", body(gzipped(t, text)), "k", Gzip},
		{"multi-member gzip", body(gzipped(t, `{"message":"one"}`+"\n", `{"message":"two"}`+"\n")), "k.gz", Gzip},
		{"multi-member gzip split mid-line", body(gzipped(t, `{"message":"o`, `ne"}`+"\n"+`{"message":"two"}`)), "k", Gzip},
		{"zstd", body(zstded(t, text)), "k.zst", Zstd},
		{"plain", body([]byte(text)), "k", None},
		{"declared gzip, already decompressed", &deliver.Body{ReadCloser: io.NopCloser(strings.NewReader(text)), ContentEncoding: "gzip"}, "k.gz", None},
		{"gzip read one byte at a time", &deliver.Body{ReadCloser: io.NopCloser(iotest.OneByteReader(bytes.NewReader(gzipped(t, text))))}, "k", Gzip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(tt.body, deliver.Object{Key: tt.key, Time: objTime})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Compression() != tt.want {
				t.Errorf("compression = %v, want %v", r.Compression(), tt.want)
			}
			var msgs []string
			for {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				msgs = append(msgs, rec.Message)
			}
			if got := strings.Join(msgs, ","); got != "one,two" {
				t.Errorf("messages = %q, want one,two", got)
			}
			st := r.Stats()
			if want := int64(len(text)); st.InputBytes != want && !strings.Contains(tt.name, "split") {
				t.Errorf("InputBytes = %d, want %d", st.InputBytes, want)
			}
			if (tt.want != None) != (st.CompressedIn > 0) {
				t.Errorf("CompressedIn = %d for %v", st.CompressedIn, tt.want)
			}
		})
	}
}

func TestEmptyObject(t *testing.T) {
	for _, b := range []*deliver.Body{body(nil), {ReadCloser: io.NopCloser(strings.NewReader("")), ContentEncoding: "gzip"}, body(gzipped(t, ""))} {
		recs, st, err := readAll(t, b, deliver.Object{Key: "k.gz", Time: objTime})
		if err != nil || len(recs) != 0 || st.Lines != 0 {
			t.Errorf("empty object: %d records, %+v, %v", len(recs), st, err)
		}
	}
}

type errReadCloser struct {
	r   io.Reader
	err error
}

func (e *errReadCloser) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}
func (e *errReadCloser) Close() error { return nil }

func TestErrors(t *testing.T) {
	good := gzipped(t, strings.Repeat(`{"message":"good"}`+"\n", 1000))
	corrupt := append([]byte(nil), good...)
	for i := len(corrupt) / 2; i < len(corrupt)/2+16; i++ {
		corrupt[i] ^= 0xff
	}
	netErr := errors.New("connection reset by peer")
	tests := []struct {
		name      string
		body      *deliver.Body
		optFns    []func(*Options)
		sentinel  error
		retryable bool
	}{
		{"corrupt gzip", body(corrupt), nil, ErrCorrupt, false},
		{"truncated gzip", body(good[:len(good)-10]), nil, ErrCorrupt, false},
		{"trailing garbage after gzip", body(append(append([]byte(nil), good...), "garbage!"...)), nil, ErrCorrupt, false},
		{"declared gzip, binary", &deliver.Body{ReadCloser: io.NopCloser(bytes.NewReader([]byte{0, 1, 2, 0xff, 0xfe})), ContentEncoding: "gzip"}, nil, ErrCorrupt, false},
		{"corrupt zstd", body(append([]byte{0x28, 0xb5, 0x2f, 0xfd}, bytes.Repeat([]byte{0xff}, 64)...)), nil, ErrCorrupt, false},
		{"size cap", body(good), []func(*Options){func(o *Options) { o.MaxDecompressedBytes = 5000 }}, ErrTooLarge, false},
		{"size cap plain", body(bytes.Repeat([]byte("line\n"), 2000)), []func(*Options){func(o *Options) { o.MaxDecompressedBytes = 5000 }}, ErrTooLarge, false},
		{"body read error", &deliver.Body{ReadCloser: &errReadCloser{r: bytes.NewReader(good[:len(good)/2]), err: netErr}}, nil, netErr, true},
		{"plain body read error", &deliver.Body{ReadCloser: &errReadCloser{r: strings.NewReader("a\nb\n"), err: netErr}}, nil, netErr, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _, err := readAll(t, tt.body, deliver.Object{Bucket: "bkt", Key: "k", Time: objTime}, tt.optFns...)
			if err == nil {
				t.Fatalf("no error after %d records", len(recs))
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error %v does not wrap %v", err, tt.sentinel)
			}
			if fault.IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable(%v) = %v, want %v", err, fault.IsRetryable(err), tt.retryable)
			}
			if !strings.Contains(err.Error(), "s3://bkt/k") {
				t.Errorf("error %q does not name the object", err)
			}
			if tt.sentinel == ErrCorrupt {
				return // corrupt deflate data may decode to garbage before its checksum fails
			}
			for _, r := range recs {
				if r.Message != "good" && r.Message != "line" && r.Message != "a" && r.Message != "b" {
					t.Errorf("unexpected record %q before the error", r.Message)
				}
			}
		})
	}
}

func TestSizeCapKeepsRecordsBefore(t *testing.T) {
	in := strings.Repeat("0123456789\n", 10) // 110 bytes
	recs, st, err := readAll(t, body([]byte(in)), deliver.Object{Key: "k", Time: objTime}, func(o *Options) { o.MaxDecompressedBytes = 55 })
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if len(recs) != 5 || st.InputBytes != 55 {
		t.Errorf("got %d records and %d input bytes, want 5 and 55", len(recs), st.InputBytes)
	}
	// Exactly at the cap is fine.
	recs, _, err = readAll(t, body([]byte(in)), deliver.Object{Key: "k", Time: objTime}, func(o *Options) { o.MaxDecompressedBytes = 110 })
	if err != nil || len(recs) != 10 {
		t.Errorf("at the cap: %d records, %v", len(recs), err)
	}
}

func TestObjectTimeFallback(t *testing.T) {
	lm := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	b := body([]byte("no time here\n"))
	b.LastModified = lm
	recs, _, err := readAll(t, b, deliver.Object{Key: "k"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if !recs[0].Time.Equal(lm) || recs[0].TimeSource != deliver.TimeFromObject {
		t.Errorf("time = %v (%v), want LastModified %v", recs[0].Time, recs[0].TimeSource, lm)
	}
}

func TestNextAfterClose(t *testing.T) {
	r, err := NewReader(body([]byte("a\n")), deliver.Object{Time: objTime})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err == nil || err == io.EOF {
		t.Errorf("Next after Close = %v, want an error", err)
	}
}

func TestReaderImplementsRecordReader(t *testing.T) {
	var _ deliver.RecordReader = (*Reader)(nil)
}

func TestAcceptFiltersEveryKind(t *testing.T) {
	in := `{"message":"a","application":"no"}` + "\n" + `["b",{"message":"c"},{"message":"d","application":"yes"}]` + "\nplain\n"
	recs, st := decodeString(t, in, func(o *Options) {
		o.Application = "no"
		o.Accept = func(app string) bool { return app == "yes" }
	})
	if len(recs) != 1 || recs[0].Message != "d" || st.Filtered != 4 {
		t.Errorf("got %+v, Filtered %d; want only d and 4 filtered", recs, st.Filtered)
	}
}
