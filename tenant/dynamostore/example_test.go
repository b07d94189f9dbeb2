package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

func ExampleNew() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	store := dynamostore.New(dynamodb.NewFromConfig(cfg), "tenant-delivery-configs")

	// A processor reads through a cache kept across Lambda invocations.
	configs := tenant.NewCache(store, func(o *tenant.CacheOptions) { o.TTL = 2 * time.Minute })
	got, err := configs.Configs(ctx, "acme")
	var bad *tenant.ItemsError
	switch {
	case errors.As(err, &bad):
		log.Printf("skipping unusable configs: %v", bad) // the others are in got
	case err != nil:
		log.Fatal(err)
	}
	for _, c := range got {
		fmt.Println(c.Type, c.IsEnabled())
	}
}
