package cloudwatch_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant"
)

// TestMotoCrossAccount assumes the central role in moto's default account,
// then the tenant's role in a second account, delivers into the tenant's
// log group and reads the events back with the tenant account's
// credentials.
func TestMotoCrossAccount(t *testing.T) {
	s := mototest.Start(t)
	ctx := mototest.Context(t)
	const (
		centralRole = "arn:aws:iam::123456789012:role/log-distribution"
		tenantRole  = "arn:aws:iam::222222222222:role/tenant-logs"
		tenantGroup = "/rosa/team-a"
	)
	chain, err := credentials.NewSTS(s.Config(), centralRole)
	require.NoError(t, err)

	hop := credentials.Hop{RoleARN: tenantRole, SessionName: "logdelivery-team-a"}
	tenantCreds, err := chain.Provider(ctx, mototest.Region, hop)
	require.NoError(t, err)
	c, err := tenantCreds.Retrieve(ctx)
	require.NoError(t, err)
	require.Equal(t, "222222222222", c.AccountID, "moto acts as the tenant's account")
	tenantLogs := cloudwatchlogs.NewFromConfig(s.ConfigWith(tenantCreds))
	_, err = tenantLogs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(tenantGroup)})
	require.NoError(t, err)

	now := time.Now()
	recs := make([]deliver.Record, 25000)
	for i := range recs {
		recs[i] = deliver.Record{
			Time:    now.Add(-time.Hour + time.Duration(i)*time.Millisecond),
			Message: fmt.Sprintf("%06d héllo wörld — line of pod api-7d9f", i),
		}
	}
	d, err := cloudwatch.New(chain, func(o *cloudwatch.Options) { o.AWSConfig = s.Config() })
	require.NoError(t, err)
	del := &deliver.Delivery{
		Object: deliver.Object{Bucket: "central", Key: "c1/team-a/api/api-7d9f/f.json.gz", Time: now},
		Key:    key,
		Config: tenant.DeliveryConfig{TenantID: "team-a", Type: "cloudwatch", Settings: map[string]any{"log_group_name": tenantGroup, "log_distribution_role_arn": tenantRole}},
		Records: func(context.Context) (deliver.RecordReader, error) {
			return &sliceReader{recs: recs}, nil
		},
	}
	rcpt, err := d.Deliver(ctx, del)
	require.NoError(t, err)
	assert.Equal(t, int64(len(recs)), rcpt.Events)
	assert.Equal(t, 5, rcpt.Calls, "PutLogEvents, CreateLogStream, then 3 batches")

	var got []string
	var token *string
	for {
		out, err := tenantLogs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(tenantGroup), LogStreamName: aws.String(stream),
			StartFromHead: aws.Bool(true), NextToken: token,
		})
		require.NoError(t, err)
		for _, e := range out.Events {
			got = append(got, *e.Message)
		}
		if len(out.Events) == 0 || (token != nil && *out.NextForwardToken == *token) {
			break
		}
		token = out.NextForwardToken
	}
	require.Len(t, got, len(recs), "complete")
	for i, m := range got {
		require.Equal(t, recs[i].Message, m, "in order: event %d", i)
	}

	// The central account has no such group: the events are in the tenant's.
	central := cloudwatchlogs.NewFromConfig(s.Config())
	_, err = central.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(tenantGroup), LogStreamName: aws.String(stream)})
	require.Error(t, err)
}
