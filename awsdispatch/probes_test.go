package awsdispatch

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/health"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/ledger/dynamoledger"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

func problems(t *testing.T, probes []health.Probe) map[string]string {
	out := map[string]string{}
	for _, p := range health.Check(mototest.Context(t), probes, 0) {
		out[p.Probe] = p.Err.Error()
	}
	return out
}

func TestProbesOnMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx := mototest.Context(t)
	cfg := srv.Config()
	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, "configs"))
	require.NoError(t, dynamostore.CreateIdentityTable(ctx, ddb, "identities"))
	require.NoError(t, dynamoledger.CreateTable(ctx, ddb, "ledger"))
	central := "arn:aws:iam::123456789012:role/CentralLogDistributionRole"

	good := Probes(cfg, func(o *Options) {
		o.Table, o.IdentityTable, o.LedgerTable, o.CentralRoleARN = "configs", "identities", "ledger", central
	})
	var names []string
	for _, p := range good {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{`tenant config table "configs"`, `tenant identity table "identities"`, `ledger table "ledger"`,
		"central role " + central}, names)
	assert.Empty(t, problems(t, good))

	bad := problems(t, Probes(cfg, func(o *Options) {
		o.Table, o.IdentityTable, o.LedgerTable, o.CentralRoleARN = "confgis", "identites", "ledger", central
	}))
	assert.Len(t, bad, 2)
	assert.Contains(t, bad[`tenant config table "confgis"`], "no such table in us-east-1")
	assert.Contains(t, bad[`tenant identity table "identites"`], "no such table in us-east-1")

	// The central role is assumed with the processor's credentials: none, no role.
	noCreds := srv.ConfigWith(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no EC2 instance role")
	}))
	bad = problems(t, Probes(noCreds, func(o *Options) { o.Table, o.CentralRoleARN = "configs", central }))
	assert.Contains(t, bad["central role "+central], "no EC2 instance role")
	assert.Contains(t, bad[`tenant config table "configs"`], "no EC2 instance role")
	bad = problems(t, Probes(noCreds, func(o *Options) { o.Table = "configs" }))
	assert.Contains(t, bad["the processor's own credentials (no central role)"], "no EC2 instance role")
}

func TestQueueProbeOnMoto(t *testing.T) {
	srv := mototest.Start(t)
	client := sqs.NewFromConfig(srv.Config())
	q, err := client.CreateQueue(mototest.Context(t), &sqs.CreateQueueInput{QueueName: aws.String("notifications")})
	require.NoError(t, err)
	assert.Empty(t, problems(t, []health.Probe{QueueProbe(client, "queue", aws.ToString(q.QueueUrl))}))
	bad := problems(t, []health.Probe{QueueProbe(client, "queue", aws.ToString(q.QueueUrl)+"-typo")})
	assert.Contains(t, bad["queue "+aws.ToString(q.QueueUrl)+"-typo"], "NonExistentQueue")
}
