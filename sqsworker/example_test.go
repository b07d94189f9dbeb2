package sqsworker_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/sqsworker"
)

// A long-running consumer: it stops receiving on SIGTERM, lets messages in
// flight finish (or releases them) and returns.
func ExampleWorker_Run() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	d, err := awsdispatch.New(cfg, func(o *awsdispatch.Options) {
		o.Table = "tenant-delivery-configs"
		o.CentralRoleARN = "arn:aws:iam::111111111111:role/ROSA-CentralLogDistributionRole-0a1b2c3d"
	})
	if err != nil {
		log.Fatal(err)
	}
	w, err := sqsworker.New(sqs.NewFromConfig(cfg), "https://sqs.us-east-1.amazonaws.com/111111111111/log-delivery-notifications", d)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
