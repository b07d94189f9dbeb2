package cloudwatch_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	smithy "github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch/cloudwatchtest"
	"github.com/logdelivery/logdelivery/fault"
)

// fakeAssumer is an stscreds.AssumeRoleAPIClient that issues the key
// "KEY<account id>" and counts calls per role.
type fakeAssumer struct {
	mu     *sync.Mutex
	calls  map[string]int
	denied string // role ARN answered with AccessDenied
}

func (f fakeAssumer) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[*in.RoleArn]++
	if *in.RoleArn == f.denied {
		return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform sts:AssumeRole", Fault: smithy.FaultClient}
	}
	return &sts.AssumeRoleOutput{Credentials: &ststypes.Credentials{
		AccessKeyId: aws.String("KEY" + (*in.RoleArn)[13:25]), SecretAccessKey: aws.String("s"), SessionToken: aws.String("t"),
		Expiration: aws.Time(time.Now().Add(time.Hour)),
	}}, nil
}

// signing wraps fakeAssumer with the credentials a real client would sign
// its request with: it retrieves them on every call, as signing does.
type signing struct {
	creds aws.CredentialsProvider
	fakeAssumer
}

func (s signing) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	if _, err := s.creds.Retrieve(ctx); err != nil {
		return nil, err
	}
	return s.fakeAssumer.AssumeRole(ctx, in, optFns...)
}

func TestDeliverWithSTSChainReusesCredentials(t *testing.T) {
	f := newFake(t)
	f.CreateLogGroup(group)
	var mu sync.Mutex
	var keys []string
	f.SetHook(func(c cloudwatchtest.Call) *cloudwatchtest.Fault {
		mu.Lock()
		keys = append(keys, c.AccessKeyID)
		mu.Unlock()
		return nil
	})
	assumer := fakeAssumer{mu: &sync.Mutex{}, calls: map[string]int{}}
	chain, err := credentials.NewSTS(aws.Config{Region: "eu-west-1", Credentials: awscreds.NewStaticCredentialsProvider("BASE", "s", "")},
		"arn:aws:iam::123456789012:role/central", func(o *credentials.STSOptions) {
			o.NewClient = func(_ string, creds aws.CredentialsProvider) stscreds.AssumeRoleAPIClient {
				return signing{creds, assumer}
			}
		})
	require.NoError(t, err)
	d, err := cloudwatch.New(chain, func(o *cloudwatch.Options) {
		o.AWSConfig = aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(f.URL)}
		o.Now = func() time.Time { return now }
	})
	require.NoError(t, err)

	for i := range 5 {
		_, err := d.Deliver(context.Background(), delivery(records(10, 0)))
		require.NoError(t, err, "delivery %d", i)
	}
	assert.Equal(t, map[string]int{
		"arn:aws:iam::123456789012:role/central": 1,
		"arn:aws:iam::222222222222:role/logs":    1,
	}, assumer.calls, "two AssumeRole calls for five deliveries, not ten (or fifteen)")
	for _, k := range keys {
		assert.Equal(t, "KEY222222222222", k, "CloudWatch calls are signed with the tenant role")
	}
	assert.Equal(t, 50, f.EventCount(group, stream))
}

func TestDeliverAccessDeniedNamesTheHop(t *testing.T) {
	f := newFake(t)
	f.CreateLogStream(group, stream)
	assumer := fakeAssumer{mu: &sync.Mutex{}, calls: map[string]int{}, denied: "arn:aws:iam::222222222222:role/logs"}
	chain, err := credentials.NewSTS(aws.Config{Region: "eu-west-1", Credentials: awscreds.NewStaticCredentialsProvider("BASE", "s", "")},
		"arn:aws:iam::123456789012:role/central", func(o *credentials.STSOptions) {
			o.NewClient = func(_ string, creds aws.CredentialsProvider) stscreds.AssumeRoleAPIClient {
				return signing{creds, assumer}
			}
		})
	require.NoError(t, err)
	d, err := cloudwatch.New(chain, func(o *cloudwatch.Options) {
		o.AWSConfig = aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(f.URL), HTTPClient: http.DefaultClient}
		o.Now = func() time.Time { return now }
	})
	require.NoError(t, err)
	reader := &sliceReader{recs: records(25000, 0)}
	del := delivery(nil)
	del.Records = func(context.Context) (deliver.RecordReader, error) { return reader, nil }
	rcpt, err := d.Deliver(context.Background(), del)
	require.Error(t, err)
	assert.True(t, fault.IsPermanent(err), "%v", err)
	var are *credentials.AssumeRoleError
	require.ErrorAs(t, err, &are)
	assert.Equal(t, 2, are.Hop)
	assert.Contains(t, err.Error(), "hop 2 of 2 (arn:aws:iam::222222222222:role/logs)")
	assert.Contains(t, err.Error(), "AccessDenied")
	assert.Zero(t, rcpt.Events)
	assert.Zero(t, f.EventCount(group, stream))
	var de *cloudwatch.DeliveryError
	require.ErrorAs(t, err, &de)
	// Every event read is accounted for: none was delivered, so every one
	// read before the failure stopped the reading is not delivered. How
	// many were read before the failure became visible depends on
	// scheduling; at least the first full batch was.
	assert.Equal(t, int64(reader.i), de.NotDelivered, fmt.Sprint(err))
	assert.GreaterOrEqual(t, de.NotDelivered, int64(10000), fmt.Sprint(err))
}
