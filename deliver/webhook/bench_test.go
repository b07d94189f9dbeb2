package webhook_test

import (
	"context"
	"testing"
	"time"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/webhook"
	"github.com/logdelivery/logdelivery/internal/httpsend/httpsendtest"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// BenchmarkDeliverPerMillion delivers one object of one million realistic
// records, signed, as NDJSON and gzipped NDJSON, to a sink that reads the
// bodies and answers 200, and reports events/s, CPU seconds (the whole
// process) per GB of messages, and the requests against the minimum the
// 1 MiB bound allows (with gzip, the bound applies before compression:
// bytes/request is what went on the wire).
//
//	go test -run '^$' -bench DeliverPerMillion -benchtime 3x ./deliver/webhook/
func BenchmarkDeliverPerMillion(b *testing.B) {
	b.Run("ndjson", func(b *testing.B) { benchmarkDeliver(b, false) })
	b.Run("ndjson+gzip", func(b *testing.B) { benchmarkDeliver(b, true) })
}

func benchmarkDeliver(b *testing.B, gzip bool) {
	const events = 1_000_000
	sink := httpsendtest.NewSink(b, "")
	d, err := webhook.New(func(o *webhook.Options) {
		o.Policy = sink.Policy
		o.Secrets = testSecrets
	})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	key, _ := credentials.ParseSecretRef("file:key")
	m := httpsendtest.Start()
	for b.Loop() {
		sink.Reset()
		gen := httpsendtest.NewGenerator(events, time.Now().Add(-time.Hour))
		rcpt, err := d.Deliver(context.Background(), &deliver.Delivery{
			Key:      keyparse.Key{Cluster: "c1", Namespace: "team-a", Tenant: "team-a", Application: "api", Pod: "api-0"},
			Config:   tenant.DeliveryConfig{TenantID: "team-a", Type: webhook.KindName},
			Settings: &webhook.Settings{URL: sink.URL, Gzip: gzip, SigningKey: key, IncludeLabels: true},
			Records:  func(context.Context) (deliver.RecordReader, error) { return gen, nil },
		})
		if err != nil || rcpt.Events != events {
			b.Fatalf("delivered %d events: %v", rcpt.Events, err)
		}
		m.Add(rcpt.Events, gen.MessageBytes)
	}
	bodyBytes := sink.Bytes()
	if gzip {
		// The sink saw compressed bodies; the batches are those of
		// ndjson, whose minimum that benchmark reports.
		bodyBytes = -1
	}
	m.Report(b, sink, events, bodyBytes, webhook.DefaultMaxRequestBytes, webhook.DefaultMaxRequestEvents)
}
