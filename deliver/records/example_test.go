package records_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/records"
	"github.com/logdelivery/logdelivery/internal/decode"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

func Example() {
	dir, _ := os.MkdirTemp("", "records")
	defer os.RemoveAll(dir)
	// The clock CloudWatch Logs would judge the events by: events more
	// than 14 days old would be dropped.
	w, err := records.New(dir, func(o *records.Options) {
		o.Now = func() time.Time { return time.Date(2024, 3, 1, 12, 5, 0, 0, time.UTC) }
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	key := "c1/shop/web/web-1/1709294460.json"
	k, _ := keyparse.Parse(key)
	obj := deliver.Object{Bucket: "central", Key: key, Time: time.Date(2024, 3, 1, 12, 1, 0, 0, time.UTC)}
	open := func(context.Context) (*deliver.Body, error) {
		return &deliver.Body{ReadCloser: io.NopCloser(strings.NewReader(
			`{"message":"second","timestamp":"2024-03-01T12:00:02Z"}` + "\n" +
				`{"message":"first","timestamp":"2024-03-01T12:00:01Z"}` + "\n"))}, nil
	}
	rcpt, err := w.Deliver(context.Background(), &deliver.Delivery{
		Object:   obj,
		Key:      k,
		Config:   tenant.DeliveryConfig{TenantID: "shop", Type: "cloudwatch"},
		Settings: &cloudwatch.Settings{LogGroupName: "/rosa/shop"},
		Open:     open,
		Records:  decode.Records(open, obj, func(o *decode.Options) { o.Application = k.Application }),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("events:", rcpt.Events)
	b, _ := os.ReadFile(filepath.Join(dir, "rosa/shop/c1/web/web-1.log"))
	fmt.Print(string(b))
	// Output:
	// events: 2
	// 2024-03-01T12:00:01Z	first
	// 2024-03-01T12:00:02Z	second
}
