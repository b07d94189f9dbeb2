package dataprepper_test

import (
	"context"
	"testing"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/dataprepper"
	"github.com/logdelivery/logdelivery/internal/httpsend/httpsendtest"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// BenchmarkDeliverPerMillion delivers one object of one million realistic
// records (labels included) to a sink that reads the bodies and answers
// 200, and reports events/s, CPU seconds (the whole process) per GB of
// messages, and the requests against the minimum the 5 MiB bound allows.
//
//	go test -run '^$' -bench DeliverPerMillion -benchtime 3x ./deliver/dataprepper/
func BenchmarkDeliverPerMillion(b *testing.B) {
	const events = 1_000_000
	sink := httpsendtest.NewSink(b, "")
	d, err := dataprepper.New(func(o *dataprepper.Options) { o.Policy = sink.Policy })
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	m := httpsendtest.Start()
	for b.Loop() {
		sink.Reset()
		gen := httpsendtest.NewGenerator(events, time.Now().Add(-time.Hour))
		rcpt, err := d.Deliver(context.Background(), &deliver.Delivery{
			Key:      keyparse.Key{Cluster: "c1", Namespace: "team-a", Tenant: "team-a", Application: "api", Pod: "api-0"},
			Config:   tenant.DeliveryConfig{TenantID: "team-a", Type: dataprepper.KindName},
			Settings: &dataprepper.Settings{URL: sink.URL, IncludeLabels: true},
			Records:  func(context.Context) (deliver.RecordReader, error) { return gen, nil },
		})
		if err != nil || rcpt.Events != events {
			b.Fatalf("delivered %d events: %v", rcpt.Events, err)
		}
		m.Add(rcpt.Events, gen.MessageBytes)
	}
	m.Report(b, sink, events, sink.Bytes(), dataprepper.DefaultMaxRequestBytes, dataprepper.DefaultMaxRequestEvents)
}
