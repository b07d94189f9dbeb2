package metrics_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/metrics"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// In Lambda, EMF lines written to stdout become CloudWatch metrics; flush
// once per invocation (lambdahandler.Options.Flusher does).
func ExampleEMF() {
	emf := metrics.NewEMF(os.Stdout, func(o *metrics.EMFOptions) {
		o.Now = func() time.Time { return time.Unix(1756553220, 0) }
	})
	store, err := memstore.New([]tenant.DeliveryConfig{{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-logs"}}})
	if err != nil {
		log.Fatal(err)
	}
	copyObject := deliver.DelivererFunc(func(context.Context, *deliver.Delivery) (deliver.Receipt, error) {
		return deliver.Receipt{Objects: 1, Bytes: 2048}, nil
	})
	kinds, err := deliver.NewRegistry([]deliver.Kind{s3.Kind().With(copyObject)})
	if err != nil {
		log.Fatal(err)
	}
	d, err := logdelivery.NewDispatcher(store, kinds, func(o *logdelivery.Options) { o.Observer = emf })
	if err != nil {
		log.Fatal(err)
	}
	d.Dispatch(context.Background(), logdelivery.Object{Bucket: "central", Key: "prod-1/acme/api/api-0/1693396021-a.log.gz"})
	if err := emf.Flush(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// {"Bytes":2048,"Delivered":1,"DeliveryType":"s3","EventsDelivered":0,"EventsDropped":0,"EventsRejected":0,"EventsTruncated":0,"Failed":0,"FailedRetryable":0,"Skipped":0,"Tenant":"acme","_aws":{"CloudWatchMetrics":[{"Dimensions":[["Tenant","DeliveryType"],["DeliveryType"]],"Metrics":[{"Name":"Delivered","Unit":"Count"},{"Name":"Skipped","Unit":"Count"},{"Name":"Failed","Unit":"Count"},{"Name":"FailedRetryable","Unit":"Count"},{"Name":"EventsDelivered","Unit":"Count"},{"Name":"EventsRejected","Unit":"Count"},{"Name":"EventsDropped","Unit":"Count"},{"Name":"EventsTruncated","Unit":"Count"},{"Name":"Bytes","Unit":"Bytes"}],"Namespace":"LogDelivery"}],"Timestamp":1756553220000}}
}
