package fanout_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/internal/decode"
	"github.com/logdelivery/logdelivery/internal/fanout"
)

// Two destinations of one tenant read the records of one object, opened
// and decoded once; one of them only wants the records of the "web"
// application.
func Example() {
	object := `{"message":"GET / 200","application":"web"}
{"message":"compacted","application":"etcd"}
{"message":"GET /healthz 200","application":"web"}
`
	obj := deliver.Object{Bucket: "central", Key: "c1/shop/web/web-1/1709294460.json", Time: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)}
	open := func(context.Context) (*deliver.Body, error) {
		return &deliver.Body{ReadCloser: io.NopCloser(strings.NewReader(object))}, nil
	}
	ctx := context.Background()
	s, err := fanout.New(ctx, decode.Records(open, obj), 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	web := func(rec *deliver.Record) bool { return rec.Application == "web" }

	out := make([][]string, 2)
	var wg sync.WaitGroup
	for i, accept := range []func(*deliver.Record) bool{nil, web} {
		r, err := s.Reader(ctx, accept) // as each destination's Delivery.Records would
		if err != nil {
			fmt.Println(err)
			return
		}
		wg.Go(func() {
			defer r.Close()
			for {
				rec, err := r.Next()
				if err != nil {
					st := r.Stats()
					out[i] = append(out[i], fmt.Sprintf("(%v: %d records, %d filtered)", err, st.Records, st.Filtered))
					return
				}
				out[i] = append(out[i], rec.Message)
			}
		})
	}
	wg.Wait()
	fmt.Println("all:", strings.Join(out[0], ", "))
	fmt.Println("web:", strings.Join(out[1], ", "))
	fmt.Println("opens:", s.Opens())
	// Output:
	// all: GET / 200, compacted, GET /healthz 200, (EOF: 3 records, 0 filtered)
	// web: GET / 200, GET /healthz 200, (EOF: 2 records, 1 filtered)
	// opens: 1
}
