package dataprepper_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/dataprepper"
	"github.com/logdelivery/logdelivery/deliver/dataprepper/datapreppertest"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// Example delivers records to a pipeline's HTTP source whose buffer is
// full at first: the deliverer waits for it to drain and sends again.
func Example() {
	fake := datapreppertest.NewServer(datapreppertest.Options{BufferCapacity: 2, DrainInterval: 50 * time.Millisecond})
	defer fake.Close()
	u, _ := url.Parse(fake.URL)
	port, _ := strconv.Atoi(u.Port())

	d, err := dataprepper.New(func(o *dataprepper.Options) {
		o.Policy = egress.Policy{AllowHTTP: true, AllowLoopback: true, Ports: []int{port}}
		o.MaxRequestEvents = 2
	})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	t := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	recs := []deliver.Record{{Time: t, Message: "started"}, {Time: t, Message: "listening"}, {Time: t, Message: "ready"}}
	rcpt, err := d.Deliver(context.Background(), &deliver.Delivery{
		Key:      keyparse.Key{Cluster: "c1", Namespace: "team-a", Tenant: "team-a", Application: "api", Pod: "api-0", File: "f.gz"},
		Config:   tenant.DeliveryConfig{TenantID: "team-a", Type: dataprepper.KindName},
		Settings: &dataprepper.Settings{URL: fake.URL},
		Records: func(context.Context) (deliver.RecordReader, error) {
			return &sliceReader{recs: recs}, nil
		},
	})
	fmt.Println(rcpt.Events, rcpt.Location == fake.URL+"/log/ingest", err)
	for _, e := range fake.Events() {
		fmt.Println(e["message"])
	}
	// Output:
	// 3 true <nil>
	// started
	// listening
	// ready
}
