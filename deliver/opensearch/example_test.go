package opensearch_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/opensearch"
	"github.com/logdelivery/logdelivery/deliver/opensearch/opensearchtest"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// Example delivers two records to a tenant's cluster, here a fake on
// loopback, which the egress policy must allow explicitly (a processor
// serving tenants never does).
func Example() {
	fake := opensearchtest.NewServer(opensearchtest.Options{})
	defer fake.Close()
	u, _ := url.Parse(fake.URL)
	port, _ := strconv.Atoi(u.Port())

	d, err := opensearch.New(func(o *opensearch.Options) {
		o.Policy = egress.Policy{AllowHTTP: true, AllowLoopback: true, Ports: []int{port}}
	})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	t := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	recs := []deliver.Record{{Time: t, Message: "started"}, {Time: t.Add(time.Second), Message: "ready"}}
	rcpt, err := d.Deliver(context.Background(), &deliver.Delivery{
		Key:      keyparse.Key{Cluster: "c1", Namespace: "team-a", Tenant: "team-a", Application: "api", Pod: "api-0", File: "f.gz"},
		Config:   tenant.DeliveryConfig{TenantID: "team-a", Type: opensearch.KindName},
		Settings: &opensearch.Settings{URL: fake.URL}, // the Dispatcher decodes them from the config
		Records: func(context.Context) (deliver.RecordReader, error) {
			return &sliceReader{recs: recs}, nil
		},
	})
	fmt.Println(rcpt.Events, rcpt.Calls, err)
	for _, doc := range fake.Documents("logs-team-a-2026.11.30") {
		fmt.Println(doc.Source["@timestamp"], doc.Source["message"], doc.Source["kubernetes"])
	}
	// Output:
	// 2 1 <nil>
	// 2026-11-30T10:00:00.000000000Z started map[namespace:team-a pod:api-0]
	// 2026-11-30T10:00:01.000000000Z ready map[namespace:team-a pod:api-0]
}

// ExampleIndexTemplate shows the index names of a template, and a template
// reaching past its tenant's own indexes.
func ExampleIndexTemplate() {
	x, err := opensearch.ParseIndexTemplate("logs-{tenant_id}-%Y.%m.%d")
	if err != nil {
		panic(err)
	}
	fmt.Println(x.Index("Acme", time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC)))
	_, err = opensearch.ParseIndexTemplate("logs-{tenant_id}-corp-%Y.%m.%d")
	fmt.Println(err)
	// Output:
	// logs-acme-2026.11.30
	// invalid index template: must continue after {tenant_id} with a separator and %Y, such as -%Y.%m.%d
}
