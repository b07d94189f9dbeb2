package logdelivery_test

import (
	"context"
	"fmt"
	"log"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// A Dispatcher turns notifications into per-destination results. Here the
// configs live in memory and the "destination" is a function; in
// production they are tenant/dynamostore and deliver/cloudwatch or
// deliver/s3.
func ExampleDispatcher() {
	store, err := memstore.New([]tenant.DeliveryConfig{
		{TenantID: "acme", Type: "s3", BucketName: "acme-logs"},
		{TenantID: "acme", Type: "s3:audit", BucketName: "acme-audit", Groups: []string{"API"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	copyToBucket := deliver.DelivererFunc(func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		return deliver.Receipt{Objects: 1, Location: "s3://" + d.Config.Settings["bucket_name"] + "/" + d.Object.Key}, nil
	})
	d, err := logdelivery.NewDispatcher(store, map[string]deliver.Deliverer{"s3": copyToBucket})
	if err != nil {
		log.Fatal(err)
	}

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
	// message-1 s3:audit skipped application not selected by desired_logs or groups
	// retry: []
}
