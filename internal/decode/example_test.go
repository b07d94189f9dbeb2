package decode_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/internal/decode"
)

func Example() {
	object := `{"message":"GET /healthz 200","timestamp":"2024-03-01T12:00:00.5Z","kubernetes":{"pod_name":"web-1","container_name":"web","namespace_name":"shop"},"application":"web","stream":"stdout"}
{"message":"{\"level\":\"info\",\"ts\":1709294401.25,\"msg\":\"compacted\"}"}
I0301 12:00:02.000001       1 controller.go:42] synced
not JSON {
`
	body := &deliver.Body{ReadCloser: io.NopCloser(strings.NewReader(object))}
	obj := deliver.Object{Bucket: "central", Key: "c1/shop/web/web-1/1709294460.json", Time: time.Date(2024, 3, 1, 12, 1, 0, 0, time.UTC)}
	r, err := decode.NewReader(body, obj, func(o *decode.Options) { o.Application = "web" })
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(rec.Time.Format(time.RFC3339Nano), rec.TimeSource, rec.Pod, rec.Message)
	}
	st := r.Stats()
	fmt.Println("lines", st.Lines, "records", st.Records)
	// Output:
	// 2024-03-01T12:00:00.5Z record web-1 GET /healthz 200
	// 2024-03-01T12:00:01.25Z message  {"level":"info","ts":1709294401.25,"msg":"compacted"}
	// 2024-03-01T12:00:02.000001Z message  I0301 12:00:02.000001       1 controller.go:42] synced
	// 2024-03-01T12:01:00Z object  not JSON {
	// lines 4 records 4
}

func ExampleRecords() {
	obj := deliver.Object{Bucket: "central", Key: "c1/shop/web/web-1/1709294460.json", Time: time.Now()}
	open := func(context.Context) (*deliver.Body, error) {
		return &deliver.Body{ReadCloser: io.NopCloser(strings.NewReader("hello\n"))}, nil
	}
	d := &deliver.Delivery{Object: obj, Records: decode.Records(open, obj)}
	r, _ := d.Records(context.Background())
	defer r.Close()
	rec, _ := r.Next()
	fmt.Println(rec.Message)
	// Output: hello
}
