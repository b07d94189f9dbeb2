package s3_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

func ExampleNew() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// In production the chain assumes the central delivery role; Static
	// uses the processor's own identity.
	d, err := s3.New(credentials.Static{Credentials: cfg.Credentials}, func(o *s3.Options) {
		o.AWSConfig = cfg
	})
	if err != nil {
		log.Fatal(err)
	}
	key, err := keyparse.Parse("prod-1/acme/payments/payments-7d9f/0001.json.gz")
	if err != nil {
		log.Fatal(err)
	}
	rcpt, err := d.Deliver(ctx, &deliver.Delivery{
		Object: deliver.Object{Bucket: "central-logs", Key: "prod-1/acme/payments/payments-7d9f/0001.json.gz"},
		Key:    key,
		Config: tenant.DeliveryConfig{TenantID: "acme", Type: "s3", Settings: map[string]any{"bucket_name": "acme-cluster-logs", "bucket_owner": "222222222222"}},
	})
	if err != nil {
		log.Fatalf("retry=%v: %v", fault.IsRetryable(err), err)
	}
	fmt.Println(rcpt.Location) // s3://acme-cluster-logs/ROSA/cluster-logs/acme/prod-1/payments/payments-7d9f/0001.json.gz
}

func ExampleNewOpener() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	o := s3.NewOpener(awss3.NewFromConfig(cfg))
	body, err := o.Open(ctx, deliver.Object{Bucket: "central-logs", Key: "prod-1/acme/payments/payments-7d9f/0001.json.gz"})
	if err != nil {
		log.Fatal(err)
	}
	defer body.Close()
	fmt.Println(body.ContentEncoding, body.Size)
}
