package opensearch_test

import (
	"context"
	"testing"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/opensearch"
	"github.com/logdelivery/logdelivery/internal/httpsend/httpsendtest"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// BenchmarkDeliverPerMillion delivers one object of one million realistic
// records (labels included) to a sink that reads the _bulk bodies and
// answers "no errors", and reports events/s, CPU seconds (the whole
// process: generator, deliverer, loopback sink) per GB of messages, and
// the _bulk requests against the minimum the 5 MiB bound allows.
//
//	go test -run '^$' -bench DeliverPerMillion -benchtime 3x ./deliver/opensearch/
func BenchmarkDeliverPerMillion(b *testing.B) {
	const events = 1_000_000
	sink := httpsendtest.NewSink(b, `{"took":1,"errors":false}`)
	d, err := opensearch.New(func(o *opensearch.Options) { o.Policy = sink.Policy })
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
			Config:   tenant.DeliveryConfig{TenantID: "team-a", Type: opensearch.KindName},
			Settings: &opensearch.Settings{URL: sink.URL, IncludeLabels: true},
			Records:  func(context.Context) (deliver.RecordReader, error) { return gen, nil },
		})
		if err != nil || rcpt.Events != events {
			b.Fatalf("delivered %d events: %v", rcpt.Events, err)
		}
		m.Add(rcpt.Events, gen.MessageBytes)
	}
	m.Report(b, sink, events, sink.Bytes(), opensearch.DefaultMaxRequestBytes, opensearch.DefaultMaxRequestDocuments)
}
