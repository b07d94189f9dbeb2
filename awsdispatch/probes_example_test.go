package awsdispatch_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/health"
)

// A self-check at start: one line per problem, and a non-zero exit.
func ExampleProbes() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	opts := func(o *awsdispatch.Options) {
		o.Table = "tenant-delivery-configs"
		o.CentralRoleARN = "arn:aws:iam::111111111111:role/ROSA-CentralLogDistributionRole-0a1b2c3d"
	}
	probes := append(awsdispatch.Probes(cfg, opts),
		awsdispatch.QueueProbe(sqs.NewFromConfig(cfg), "queue", "https://sqs.us-east-1.amazonaws.com/111111111111/log-delivery-notifications"))
	problems := health.Check(ctx, probes, 0)
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	// The same probes keep a readiness endpoint honest:
	//	ready, _ := health.NewReadiness(func(o *health.Options) { o.Probes = probes })
	//	go ready.Run(ctx)
	//	d, _ := awsdispatch.New(cfg, opts, func(o *awsdispatch.Options) { o.Observer = ready })
}
