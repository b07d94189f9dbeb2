package cloudwatch_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch/cloudwatchtest"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// Example delivers two records to a tenant's log group. In production the
// chain is credentials.NewSTS and AWSConfig comes from config.LoadDefaultConfig;
// here a fake CloudWatch Logs endpoint and static credentials stand in.
func Example() {
	fake := cloudwatchtest.NewServer(cloudwatchtest.Options{})
	defer fake.Close()
	fake.CreateLogGroup("/tenants/team-a")

	chain := credentials.Static{Credentials: awscreds.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	d, err := cloudwatch.New(chain, func(o *cloudwatch.Options) {
		o.AWSConfig = aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(fake.URL)}
	})
	if err != nil {
		panic(err)
	}
	t := time.Now().Add(-time.Minute)
	recs := []deliver.Record{{Time: t, Message: "started"}, {Time: t.Add(time.Second), Message: "ready"}}
	rcpt, err := d.Deliver(context.Background(), &deliver.Delivery{
		Key:      keyparse.Key{Cluster: "c1", Namespace: "team-a", Tenant: "team-a", Application: "api", Pod: "api-0", File: "f.gz"},
		Config:   tenant.DeliveryConfig{TenantID: "team-a", Type: "cloudwatch"},
		Settings: &cloudwatch.Settings{LogGroupName: "/tenants/team-a"}, // the Dispatcher decodes them from the config
		Records: func(context.Context) (deliver.RecordReader, error) {
			return &sliceReader{recs: recs}, nil
		},
	})
	fmt.Println(rcpt.Events, rcpt.Location, err)
	// Output: 2 cloudwatch:eu-west-1:/tenants/team-a:c1/api/api-0 <nil>
}
