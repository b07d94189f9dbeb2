package cloudwatch_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

const (
	roleA = "arn:aws:iam::222222222222:role/logs"
	roleB = "arn:aws:iam::333333333333:role/logs"
)

// roleCreds carries the tenant's role as its access key, so the fake client
// knows whose delivery it serves.
type roleCreds string

func (r roleCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: string(r), SecretAccessKey: "s"}, nil
}

type roleChain struct{}

func (roleChain) Provider(_ context.Context, _ string, hops ...credentials.Hop) (aws.CredentialsProvider, error) {
	return roleCreds(hops[0].RoleARN), nil
}

// hangingClient hangs every PutLogEvents of tenant A, ignoring the context
// like a stalled TCP read.
type hangingClient struct {
	role    string
	started chan<- struct{}
	release <-chan struct{}
}

func (c hangingClient) PutLogEvents(ctx context.Context, in *cloudwatchlogs.PutLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutLogEventsOutput, error) {
	if c.role == roleA {
		c.started <- struct{}{}
		<-c.release
	}
	return &cloudwatchlogs.PutLogEventsOutput{}, nil
}

func (hangingClient) CreateLogStream(context.Context, *cloudwatchlogs.CreateLogStreamInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogStreamOutput, error) {
	return &cloudwatchlogs.CreateLogStreamOutput{}, nil
}

func (hangingClient) CreateLogGroup(context.Context, *cloudwatchlogs.CreateLogGroupInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error) {
	return &cloudwatchlogs.CreateLogGroupOutput{}, nil
}

func (hangingClient) PutRetentionPolicy(context.Context, *cloudwatchlogs.PutRetentionPolicyInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutRetentionPolicyOutput, error) {
	return &cloudwatchlogs.PutRetentionPolicyOutput{}, nil
}

type oneRecord struct{ done bool }

func (r *oneRecord) Next() (deliver.Record, error) {
	if r.done {
		return deliver.Record{}, io.EOF
	}
	r.done = true
	return deliver.Record{Time: time.Now(), Message: "hello"}, nil
}
func (*oneRecord) Stats() deliver.DecodeStats { return deliver.DecodeStats{} }
func (*oneRecord) Close() error               { return nil }

// sameStream is a delivery of a StatefulSet pod whose group and stream
// names are the same in every tenant's account.
func sameStream(tenantID, role string) *deliver.Delivery {
	return &deliver.Delivery{
		Key: keyparse.Key{Cluster: "c1", Namespace: tenantID, Tenant: tenantID, Application: "kafka", Pod: "kafka-0", File: "f.gz"},
		Config: tenant.DeliveryConfig{TenantID: tenantID, Type: "cloudwatch", TargetRegion: "us-east-1",
			Settings: map[string]any{"log_group_name": "/rosa/logs", "log_distribution_role_arn": role},
		},
		Records: func(context.Context) (deliver.RecordReader, error) { return &oneRecord{}, nil },
	}
}

func TestStreamLockIsPerTenantAccountAndHonoursDeadlines(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	dv, err := cloudwatch.New(roleChain{}, func(o *cloudwatch.Options) {
		o.NewClient = func(_ string, creds aws.CredentialsProvider) cloudwatch.Client {
			return hangingClient{role: string(creds.(roleCreds)), started: started, release: release}
		}
	})
	require.NoError(t, err)

	aDone := make(chan error, 1)
	go func() { _, err := dv.Deliver(context.Background(), sameStream("tenant-a", roleA)); aDone <- err }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("tenant A's delivery never reached PutLogEvents")
	}

	// Tenant B, another account with the same group and stream names, is
	// not held up by A.
	bDone := make(chan error, 1)
	go func() { _, err := dv.Deliver(context.Background(), sameStream("tenant-b", roleB)); bDone <- err }()
	select {
	case err := <-bDone:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("tenant B is stuck behind tenant A's stream lock")
	}

	// A second delivery to A's own stream waits for the lock, but gives up
	// at its own deadline instead of hanging with A.
	ctx, cancel := context.WithCancel(context.Background())
	again := make(chan error, 1)
	go func() { _, err := dv.Deliver(ctx, sameStream("tenant-a", roleA)); again <- err }()
	cancel()
	select {
	case err := <-again:
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.Canceled))
		assert.True(t, fault.IsRetryable(err))
	case <-time.After(10 * time.Second):
		t.Fatal("a delivery waiting for a stream lock ignored its context")
	}

	close(release)
	require.NoError(t, <-aDone)
}
