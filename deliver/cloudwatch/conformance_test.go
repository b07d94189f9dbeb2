package cloudwatch_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch/cloudwatchtest"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/tenant"
)

// TestConformance runs the kind conformance suite against the CloudWatch
// Logs fake, through the real SDK client.
func TestConformance(t *testing.T) {
	delivertest.RunKind(t, delivertest.KindHarness{
		Kind:           cloudwatch.Kind(),
		NewDestination: newConformanceDestination,
		WriteSize:      cloudwatchtest.MaxBatchEvents,
	})
}

func newConformanceDestination(t *testing.T) *delivertest.Destination {
	srv := cloudwatchtest.NewServer(cloudwatchtest.Options{})
	t.Cleanup(srv.Close)
	d, err := cloudwatch.New(credentials.Static{Credentials: awscreds.NewStaticCredentialsProvider("AKID", "SECRET", "")},
		func(o *cloudwatch.Options) {
			o.AWSConfig = aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL)}
			o.CreateLogGroup = true // tenants' groups appear on first delivery
			o.MaxAttempts = 3
			o.RetryBase, o.RetryMax = time.Millisecond, 5*time.Millisecond
		})
	require.NoError(t, err)
	return &delivertest.Destination{
		Deliverer: d,
		Config: func(tenantID string) tenant.DeliveryConfig {
			return tenant.DeliveryConfig{TenantID: tenantID, Type: cloudwatch.KindName, Settings: map[string]any{
				"log_group_name":            "/tenants/" + tenantID,
				"log_distribution_role_arn": "arn:aws:iam::222222222222:role/logs",
			}}
		},
		Received: func() int64 {
			var n int64
			for _, g := range srv.Groups() {
				for _, s := range srv.Streams(g) {
					n += int64(srv.EventCount(g, s))
				}
			}
			return n
		},
		Fail: func(f delivertest.Fault, after int) bool {
			var answer *cloudwatchtest.Fault
			switch f {
			case delivertest.FaultRetryable:
				answer = cloudwatchtest.Unavailable()
			case delivertest.FaultPermanent:
				answer = cloudwatchtest.AccessDenied()
			case delivertest.FaultHang:
				answer = cloudwatchtest.Hang()
			default:
				return false
			}
			var writes atomic.Int64
			srv.SetHook(func(c cloudwatchtest.Call) *cloudwatchtest.Fault {
				// A write is a PutLogEvents to an existing stream: one that
				// would store events.
				if c.Op != "PutLogEvents" || !slices.Contains(srv.Streams(c.Group), c.Stream) {
					return nil
				}
				if writes.Add(1) <= int64(after) {
					return nil
				}
				return answer
			})
			return true
		},
	}
}
