package loki_test

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"strconv"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/loki"
	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/tenant"
)

// Example delivers two records to the Loki fake as tenant acme: the
// labels come from the record, the pod is structured metadata.
func Example() {
	srv := lokitest.NewServer(lokitest.Options{})
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())

	dv, err := loki.New(func(o *loki.Options) {
		// The fake listens on loopback, which only a local deployment or a
		// test allows.
		o.Egress = egress.Policy{AllowHTTP: true, AllowLoopback: true, Ports: []int{port}}
	})
	if err != nil {
		log.Fatal(err)
	}
	defer dv.Close()

	cfg := tenant.DeliveryConfig{TenantID: "acme", Type: loki.KindName, Settings: map[string]any{
		"url":             srv.URL,
		"labels":          map[string]any{"env": "prod"},
		"label_fields":    map[string]any{"namespace": "namespace"},
		"metadata_fields": map[string]any{"pod": "pod"},
	}}
	t := time.Date(2026, 11, 21, 12, 0, 0, 1, time.UTC)
	recs := []deliver.Record{
		{Time: t, Message: "payment accepted", Namespace: "shop", Pod: "api-0"},
		{Time: t.Add(time.Second), Message: "receipt sent", Namespace: "shop", Pod: "api-1"},
	}
	rcpt, err := dv.Deliver(context.Background(), &deliver.Delivery{Config: cfg,
		Records: func(context.Context) (deliver.RecordReader, error) { return &sliceReader{recs: recs}, nil }})
	fmt.Println(rcpt.Events, rcpt.Calls, err)
	for _, e := range srv.Entries("acme") {
		fmt.Println(e.Labels, e.Time.Format(time.RFC3339Nano), e.Line, e.Metadata)
	}

	// A URL the strict default policy refuses, as a configuration API
	// validating with loki.Kind() reports it.
	reg, _ := deliver.NewRegistry([]deliver.Kind{loki.Kind()})
	fmt.Println(reg.Validate(tenant.DeliveryConfig{TenantID: "acme", Type: loki.KindName, Settings: map[string]any{
		"url": "http://10.0.0.5:3100", "labels": map[string]any{"pod": "{pod}"},
	}}))
	// Output:
	// 2 1 <nil>
	// {env="prod", namespace="shop"} 2026-11-21T12:00:00.000000001Z payment accepted map[pod:api-0]
	// {env="prod", namespace="shop"} 2026-11-21T12:00:01.000000001Z receipt sent map[pod:api-1]
	// invalid delivery config acme/loki: settings.url: the http scheme is not allowed (use https); settings.labels.pod: '{' and '}' may only form the placeholders {namespace} and {application}
}
