package records_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/records"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/decode"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

var objTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// atObjectTime sets the deliverer's clock to the objects' time, so that
// their events are not too old for CloudWatch Logs.
func atObjectTime(o *records.Options) { o.Now = func() time.Time { return objTime } }

func gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// delivery returns a Delivery of an in-memory gzip object whose Records
// decode it.
func delivery(t testing.TB, group, content string) *deliver.Delivery {
	t.Helper()
	key := "c1/team-a/checkout/checkout-7f9c-x1/1704164645-0001.json.gz"
	k, err := keyparse.Parse(key)
	if err != nil {
		t.Fatal(err)
	}
	data := gzipped(t, content)
	obj := deliver.Object{Bucket: "central", Key: key, Time: objTime}
	open := func(context.Context) (*deliver.Body, error) {
		return &deliver.Body{ReadCloser: io.NopCloser(bytes.NewReader(data)), ContentEncoding: "gzip", Size: int64(len(data))}, nil
	}
	return &deliver.Delivery{
		Object:   obj,
		Key:      k,
		Config:   tenant.DeliveryConfig{TenantID: "team-a", Type: "cloudwatch"},
		Settings: &cloudwatch.Settings{LogGroupName: group}, // decoded by hand: records checks the name itself
		Open:     open,
		Records: func(ctx context.Context) (deliver.RecordReader, error) {
			b, err := open(ctx)
			if err != nil {
				return nil, err
			}
			return decode.NewReader(b, obj, func(o *decode.Options) { o.Application = k.Application })
		},
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDeliver(t *testing.T) {
	dir := t.TempDir()
	w, err := records.New(dir, atObjectTime)
	if err != nil {
		t.Fatal(err)
	}
	in := `{"message":"third","timestamp":"2024-01-02T03:00:03.5Z","pod_name":"checkout-7f9c-x1"}
{"message":"first\nsecond line","timestamp":"2024-01-02T03:00:01.123456789+00:00"}
{"message":"other pod","timestamp":"2024-01-02T03:00:00Z","pod_name":"checkout-7f9c-x2","cluster_id":"c1"}
{"message":""}
I0102 03:00:02.000001   1 main.go:1] klog line
`
	rcpt, err := w.Deliver(context.Background(), delivery(t, "/aws/rosa/team-a", in))
	if err != nil {
		t.Fatal(err)
	}
	want := deliver.Receipt{Events: 4, Bytes: int64(len("third") + len("first\nsecond line") + len("other pod") + len("I0102 03:00:02.000001   1 main.go:1] klog line")),
		Undecoded: 1, Calls: 2, Location: filepath.Join(dir, "aws/rosa/team-a")}
	if rcpt != want {
		t.Errorf("receipt = %+v\nwant      %+v", rcpt, want)
	}
	got := readFile(t, filepath.Join(dir, "aws/rosa/team-a/c1/checkout/checkout-7f9c-x1.log"))
	// Times in milliseconds, as CloudWatch Logs keeps them.
	wantFile := "2024-01-02T03:00:01.123Z\tfirst\\nsecond line\n" +
		"2024-01-02T03:00:02Z\tI0102 03:00:02.000001   1 main.go:1] klog line\n" +
		"2024-01-02T03:00:03.5Z\tthird\n"
	if got != wantFile {
		t.Errorf("stream file:\n%s\nwant:\n%s", got, wantFile)
	}
	if got := readFile(t, filepath.Join(dir, "aws/rosa/team-a/c1/checkout/checkout-7f9c-x2.log")); got != "2024-01-02T03:00:00Z\tother pod\n" {
		t.Errorf("second stream file = %q", got)
	}

	// A second delivery appends.
	if _, err := w.Deliver(context.Background(), delivery(t, "/aws/rosa/team-a", `{"message":"later","timestamp":"2024-01-02T04:00:00Z"}`)); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "aws/rosa/team-a/c1/checkout/checkout-7f9c-x1.log")); !strings.HasSuffix(got, wantFile+"2024-01-02T04:00:00Z\tlater\n") {
		t.Errorf("after a second delivery:\n%s", got)
	}
}

func TestStreamTemplate(t *testing.T) {
	dir := t.TempDir()
	w, err := records.New(dir, atObjectTime, func(o *records.Options) { o.StreamTemplate = "{namespace}.{pod_name}" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Deliver(context.Background(), delivery(t, "g", "hello\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "g/team-a.checkout-7f9c-x1.log")); got != objTime.Format(time.RFC3339Nano)+"\thello\n" {
		t.Errorf("file = %q", got)
	}
	if _, err := records.New(dir, func(o *records.Options) { o.StreamTemplate = "{pod_name" }); err == nil {
		t.Error("New accepted a bad template")
	}
}

func TestRecordValuesFallBackToKey(t *testing.T) {
	dir := t.TempDir()
	w, _ := records.New(dir, atObjectTime)
	// A pod name holding "/" or ".." cannot name a stream: the key's is used.
	in := `{"message":"a","pod_name":"../../etc"}` + "\n" + `{"message":"b","pod_name":"x/y"}` + "\n"
	rcpt, err := w.Deliver(context.Background(), delivery(t, "g", in))
	if err != nil || rcpt.Events != 2 || rcpt.Dropped != 0 {
		t.Fatalf("receipt %+v, %v", rcpt, err)
	}
	got := readFile(t, filepath.Join(dir, "g/c1/checkout/checkout-7f9c-x1.log"))
	if strings.Count(got, "\n") != 2 {
		t.Errorf("file = %q", got)
	}
}

func TestInvalidGroupNames(t *testing.T) {
	dir := t.TempDir()
	w, _ := records.New(filepath.Join(dir, "out"), atObjectTime)
	for _, group := range []string{"", "..", "a/../../b", "./x", "a\\b", "a b", strings.Repeat("g", 513), "/", "a/./b"} {
		rcpt, err := w.Deliver(context.Background(), delivery(t, group, "hello\n"))
		if err == nil || !fault.IsPermanent(err) || !errors.Is(err, records.ErrInvalidName) || rcpt.Events != 0 {
			t.Errorf("group %q: %+v, %v; want a permanent ErrInvalidName", group, rcpt, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("files written for invalid groups: %v", entries)
	}
}

func TestWrongKind(t *testing.T) {
	w, _ := records.New(t.TempDir(), atObjectTime)
	d := delivery(t, "g", "x\n")
	d.Config.Type = "s3"
	if _, err := w.Deliver(context.Background(), d); !fault.IsPermanent(err) {
		t.Errorf("s3 config: %v, want a permanent error", err)
	}
}

func TestStreamErrorKeepsRecordsBefore(t *testing.T) {
	dir := t.TempDir()
	w, _ := records.New(dir, atObjectTime)
	good := strings.Repeat(`{"message":"good"}`+"\n", 100)
	d := delivery(t, "g", good)
	data := gzipped(t, good)
	data = append(data, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xde, 0xad) // a corrupt second member
	d.Records = func(context.Context) (deliver.RecordReader, error) {
		return decode.NewReader(&deliver.Body{ReadCloser: io.NopCloser(bytes.NewReader(data))}, d.Object)
	}
	rcpt, err := w.Deliver(context.Background(), d)
	if !errors.Is(err, decode.ErrCorrupt) || !fault.IsPermanent(err) {
		t.Errorf("err = %v, want permanent ErrCorrupt", err)
	}
	if rcpt.Events != 100 {
		t.Errorf("Events = %d, want 100", rcpt.Events)
	}
	if got := strings.Count(readFile(t, filepath.Join(dir, "g/c1/checkout/checkout-7f9c-x1.log")), "\tgood\n"); got != 100 {
		t.Errorf("%d lines written, want 100", got)
	}
}

func TestRecordsOpenError(t *testing.T) {
	w, _ := records.New(t.TempDir(), atObjectTime)
	d := delivery(t, "g", "x\n")
	boom := fault.Retryable(errors.New("s3 unavailable"))
	d.Records = func(context.Context) (deliver.RecordReader, error) { return nil, boom }
	if _, err := w.Deliver(context.Background(), d); !errors.Is(err, boom) || !fault.IsRetryable(err) {
		t.Errorf("err = %v, want the Records error", err)
	}
}

func TestCanceled(t *testing.T) {
	w, _ := records.New(t.TempDir(), atObjectTime)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := w.Deliver(ctx, delivery(t, "g", "x\n"))
	if !errors.Is(err, context.Canceled) || !fault.IsRetryable(err) {
		t.Errorf("err = %v, want retryable context.Canceled", err)
	}
}

func TestConcurrentDeliveriesDoNotInterleave(t *testing.T) {
	dir := t.TempDir()
	w, _ := records.New(dir, atObjectTime)
	const deliveries, events = 8, 500
	var wg sync.WaitGroup
	errs := make(chan error, deliveries)
	for i := range deliveries {
		var in strings.Builder
		for j := range events {
			fmt.Fprintf(&in, `{"message":"delivery %d event %04d %s","timestamp":"2024-01-02T03:00:00.%09dZ"}`+"\n", i, j, strings.Repeat("x", 200), j)
		}
		d := delivery(t, "g", in.String())
		wg.Go(func() {
			_, err := w.Deliver(context.Background(), d)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(readFile(t, filepath.Join(dir, "g/c1/checkout/checkout-7f9c-x1.log")), "\n"), "\n")
	if len(lines) != deliveries*events {
		t.Fatalf("%d lines, want %d", len(lines), deliveries*events)
	}
	// Each delivery is one batch: its lines are contiguous and in order.
	for start := 0; start < len(lines); start += events {
		var d int
		for j, line := range lines[start : start+events] {
			var di, ej int
			_, msg, _ := strings.Cut(line, "\t")
			if _, err := fmt.Sscanf(msg, "delivery %d event %d", &di, &ej); err != nil {
				t.Fatalf("line %d torn: %q", start+j, line)
			}
			if j == 0 {
				d = di
			}
			if di != d || ej != j {
				t.Fatalf("line %d = delivery %d event %d, want delivery %d event %d", start+j, di, ej, d, j)
			}
		}
	}
}

func TestLargeDeliveryIsBatched(t *testing.T) {
	dir := t.TempDir()
	w, _ := records.New(dir, atObjectTime)
	var in strings.Builder
	const n = 25000
	for j := range n {
		fmt.Fprintf(&in, "%d\n", j)
	}
	rcpt, err := w.Deliver(context.Background(), delivery(t, "g", in.String()))
	if err != nil {
		t.Fatal(err)
	}
	if rcpt.Events != n || rcpt.Calls != 3 {
		t.Errorf("receipt %+v, want %d events in 3 writes of at most 10,000", rcpt, n)
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(dir, "g/c1/checkout/checkout-7f9c-x1.log"))), "\n")
	for j, line := range lines {
		if !strings.HasSuffix(line, fmt.Sprintf("\t%d", j)) {
			t.Fatalf("line %d = %q: order not kept", j, line)
		}
	}
}

// recordsDelivery returns a Delivery of the given records, of one pod.
func recordsDelivery(t testing.TB, group string, recs []deliver.Record) *deliver.Delivery {
	t.Helper()
	d := delivery(t, group, "")
	d.Records = func(context.Context) (deliver.RecordReader, error) { return &sliceReader{recs: recs}, nil }
	return d
}

// sliceReader is a deliver.RecordReader over a slice.
type sliceReader struct {
	recs []deliver.Record
	i    int
}

func (r *sliceReader) Next() (deliver.Record, error) {
	if r.i >= len(r.recs) {
		return deliver.Record{}, io.EOF
	}
	r.i++
	return r.recs[r.i-1], nil
}

func (r *sliceReader) Stats() deliver.DecodeStats { return deliver.DecodeStats{Records: int64(r.i)} }
func (r *sliceReader) Close() error               { return nil }

// TestEventsCloudWatchRefusesAreDropped: events older than 14 days or more
// than 2 hours ahead are not written, as CloudWatch Logs would not store
// them, and are counted.
func TestEventsCloudWatchRefusesAreDropped(t *testing.T) {
	dir := t.TempDir()
	w, _ := records.New(dir)
	now := time.Now()
	rcpt, err := w.Deliver(context.Background(), recordsDelivery(t, "g", []deliver.Record{
		{Time: now.Add(-15 * 24 * time.Hour), Message: "too old"},
		{Time: now.Add(-time.Hour), Message: "kept"},
		{Time: now.Add(3 * time.Hour), Message: "too new"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if rcpt.Events != 1 || rcpt.Dropped != 2 || rcpt.Bytes != int64(len("kept")) {
		t.Errorf("receipt %+v, want 1 event written and 2 dropped", rcpt)
	}
	got := readFile(t, filepath.Join(dir, "g/c1/checkout/checkout-7f9c-x1.log"))
	if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\tkept\n") {
		t.Errorf("file = %q, want only the kept event", got)
	}
}

// TestLongMessagesAreTruncated: a message over CloudWatch's 1 MB event
// limit is cut on a UTF-8 boundary, as the CloudWatch deliverer cuts it.
func TestLongMessagesAreTruncated(t *testing.T) {
	dir := t.TempDir()
	w, _ := records.New(dir)
	// "é" (2 bytes) straddles the limit: the cut falls before it.
	long := strings.Repeat("x", cloudwatch.MaxEventSize-1) + "é" + strings.Repeat("y", 100)
	rcpt, err := w.Deliver(context.Background(), recordsDelivery(t, "g", []deliver.Record{
		{Time: time.Now().Add(-time.Minute), Message: long},
		{Time: time.Now(), Message: "short"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("x", cloudwatch.MaxEventSize-1)
	if rcpt.Events != 2 || rcpt.Truncated != 1 || rcpt.Bytes != int64(len(want)+len("short")) {
		t.Errorf("receipt %+v, want 2 events, 1 truncated, %d bytes", rcpt, len(want)+len("short"))
	}
	lines := strings.Split(strings.TrimSuffix(readFile(t, filepath.Join(dir, "g/c1/checkout/checkout-7f9c-x1.log")), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	if _, msg, _ := strings.Cut(lines[0], "\t"); msg != want {
		t.Errorf("first message is %d bytes (valid UTF-8: %v), want %d bytes of x", len(msg), utf8.ValidString(msg), len(want))
	}
}

func TestLegacyEventSizeAndSpan(t *testing.T) {
	dir := t.TempDir()
	w, _ := records.New(dir, func(o *records.Options) { o.MaxEventSize = cloudwatch.LegacyMaxEventSize })
	now := time.Now()
	rcpt, err := w.Deliver(context.Background(), recordsDelivery(t, "g", []deliver.Record{
		{Time: now.Add(-50 * time.Hour), Message: strings.Repeat("x", 300<<10)},
		{Time: now.Add(-time.Hour), Message: "a day and more later: a batch of its own"},
		{Time: now, Message: "bad \xff byte"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if rcpt.Truncated != 1 || rcpt.Calls != 2 || rcpt.Events != 3 {
		t.Errorf("receipt %+v, want 3 events, 1 truncated, in 2 writes (a batch spans at most 24 hours)", rcpt)
	}
	got := readFile(t, filepath.Join(dir, "g/c1/checkout/checkout-7f9c-x1.log"))
	if !strings.Contains(got, "\t"+strings.Repeat("x", cloudwatch.LegacyMaxEventSize)+"\n") {
		t.Error("the long message is not cut at the legacy limit")
	}
	if !strings.HasSuffix(got, "\tbad \uFFFD byte\n") {
		t.Errorf("invalid UTF-8 is not repaired as CloudWatch would store it: %q", got[len(got)-20:])
	}
}
