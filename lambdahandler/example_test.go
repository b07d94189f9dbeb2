package lambdahandler_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/lambdahandler"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// The handler returns, as BatchItemFailures, the messages whose objects
// failed retryably somewhere and, unless a failure queue is set, those that
// failed permanently, for the queue's redrive policy: nothing is lost. In a
// function: lambda.Start(h.Handle).
func ExampleHandler_Handle() {
	store, err := memstore.New([]tenant.DeliveryConfig{
		{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-logs"}},
		{TenantID: "globex", Type: "s3", Settings: map[string]any{"bucket_name": "globex-logs"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	copyObject := deliver.DelivererFunc(func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		if d.Key.Tenant == "globex" {
			return deliver.Receipt{}, fault.Retryable(errors.New("SlowDown"))
		}
		return deliver.Receipt{Objects: 1}, nil
	})
	kinds, err := deliver.NewRegistry([]deliver.Kind{s3.Kind().With(copyObject)})
	if err != nil {
		log.Fatal(err)
	}
	d, err := logdelivery.NewDispatcher(store, kinds)
	if err != nil {
		log.Fatal(err)
	}
	h, err := lambdahandler.New(d)
	if err != nil {
		log.Fatal(err)
	}

	event := func(key string) string {
		return `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"central"},"object":{"key":"` + key + `"}}}]}`
	}
	resp, _ := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: event("prod-1/acme/api/api-0/1693396021-a.log.gz")},
		{MessageId: "m2", Body: event("prod-1/globex/api/api-0/1693396021-b.log.gz")},
		{MessageId: "m3", Body: "not a notification"},
	}})
	for _, f := range resp.BatchItemFailures {
		fmt.Println("retry", f.ItemIdentifier)
	}
	// Output:
	// retry m2
	// retry m3
}
