package logdelivery_test

import (
	"context"
	"fmt"
	"log"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// Explain tells what delivering an object would do, and why, without
// delivering or downloading anything.
func ExampleDispatcher_Explain() {
	store, err := memstore.New([]tenant.DeliveryConfig{
		{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-logs"}},
		{TenantID: "acme", Type: "s3:audit", Settings: map[string]any{"bucket_name": "acme-audit"}, Groups: []string{"API"}},
		{TenantID: "acme", Type: "s3:old", Settings: map[string]any{"bucket_name": "acme-old"}, Enabled: tenant.Bool(false)},
	})
	if err != nil {
		log.Fatal(err)
	}
	kinds, err := deliver.NewRegistry([]deliver.Kind{s3.Kind().With(deliver.DelivererFunc(
		func(context.Context, *deliver.Delivery) (deliver.Receipt, error) { panic("Explain delivers nothing") }))})
	if err != nil {
		log.Fatal(err)
	}
	d, err := logdelivery.NewDispatcher(store, kinds)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	e := d.Explain(context.Background(), logdelivery.Object{Bucket: "central", Key: "prod-1/acme/payments/payments-0/1.log.gz"})
	fmt.Print(e)
	// Output:
	// object:  s3://central/prod-1/acme/payments/payments-0/1.log.gz
	// key:     cluster=prod-1 namespace=acme application=payments pod=payments-0 file=1.log.gz
	// tenant:  acme
	// deliver: s3: selected; the object is copied whole
	// skip:    s3:audit: not selected by desired_logs, groups or match: application "payments" is not among desired_logs and groups (kube-apiserver, openshift-apiserver)
	// skip:    s3:old: delivery config disabled
}
