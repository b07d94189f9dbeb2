package cloudwatchtest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/logdelivery/logdelivery/deliver/cloudwatch/cloudwatchtest"
)

// Example points an SDK client at a server, writes events and reads them
// back, and shows a rule of the service being enforced.
func Example() {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	srv := cloudwatchtest.NewServer(cloudwatchtest.Options{Now: func() time.Time { return now }})
	defer srv.Close()
	srv.CreateLogStream("/tenants/acme", "api-0") // set up directly, no call counted

	client := cloudwatchlogs.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	ctx := context.Background()
	at := func(d time.Duration) *int64 { return aws.Int64(now.Add(d).UnixMilli()) }
	_, err := client.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
		LogGroupName:  aws.String("/tenants/acme"),
		LogStreamName: aws.String("api-0"),
		LogEvents: []types.InputLogEvent{
			{Timestamp: at(-2 * time.Second), Message: aws.String("started")},
			{Timestamp: at(-time.Second), Message: aws.String("ready")},
		},
	})
	fmt.Println("put:", err)

	// Events out of order break a rule: the service refuses the batch.
	_, err = client.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
		LogGroupName:  aws.String("/tenants/acme"),
		LogStreamName: aws.String("api-0"),
		LogEvents: []types.InputLogEvent{
			{Timestamp: at(0), Message: aws.String("b")},
			{Timestamp: at(-time.Minute), Message: aws.String("a")},
		},
	})
	fmt.Println("out of order refused:", err != nil)

	for _, e := range srv.Events("/tenants/acme", "api-0") {
		fmt.Println(time.UnixMilli(e.Timestamp).UTC().Format(time.TimeOnly), e.Message)
	}
	fmt.Println("PutLogEvents calls:", srv.Calls("PutLogEvents"))
	// Output:
	// put: <nil>
	// out of order refused: true
	// 11:59:58 started
	// 11:59:59 ready
	// PutLogEvents calls: 2
}
