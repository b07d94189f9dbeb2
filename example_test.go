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

// A Dispatcher turns notifications into per-destination results. Here the
// configs live in memory and the "destination" is a function; in
// production they are tenant/dynamostore and deliver/cloudwatch or
// deliver/s3.
func ExampleDispatcher() {
	store, err := memstore.New([]tenant.DeliveryConfig{
		{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-logs"}},
		{TenantID: "acme", Type: "s3:audit", Settings: map[string]any{"bucket_name": "acme-audit"}, Groups: []string{"API"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	// The s3 kind (its settings, validated as in production), delivered
	// by a function instead of the real copy.
	kind := s3.Kind()
	kind.Deliverer = deliver.DelivererFunc(func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		bucket := d.Settings.(*s3.Settings).BucketName
		return deliver.Receipt{Objects: 1, Location: "s3://" + bucket + "/" + d.Object.Key}, nil
	})
	kinds, err := deliver.NewRegistry([]deliver.Kind{kind})
	if err != nil {
		log.Fatal(err)
	}
	d, err := logdelivery.NewDispatcher(store, kinds)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	body := []byte(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
		"s3":{"bucket":{"name":"central"},"object":{"key":"prod-1/acme/payments/payments-0/1693396021-a.log.gz","size":512}}}]}`)
	objs, err := logdelivery.ParseNotification(body)
	if err != nil {
		log.Fatal(err)
	}
	objs[0].ID = "message-1"

	results := d.Dispatch(context.Background(), objs...)
	for _, r := range results {
		fmt.Printf("%s %s %s %s%s\n", r.Object.ID, r.Destination, r.Outcome, r.Receipt.Location, r.Reason)
	}
	fmt.Println("retry:", results.RetryIDs())
	// Output:
	// message-1 s3 delivered s3://acme-logs/prod-1/acme/payments/payments-0/1693396021-a.log.gz
	// message-1 s3:audit skipped not selected by desired_logs, groups or match
	// retry: []
}
