package dynamolimits_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/limits"
	"github.com/logdelivery/logdelivery/limits/dynamolimits"
)

type reloads struct {
	mu   sync.Mutex
	errs []error
}

func (r *reloads) Reloaded(source string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if source != dynamolimits.SourceName {
		panic(source)
	}
	r.errs = append(r.errs, err)
}

func n(v float64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatFloat(v, 'f', -1, 64)}
}

func TestSourceLastGoodMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx := mototest.Context(t)
	client := dynamodb.NewFromConfig(srv.Config())
	const table = "tenant-limits"
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(dynamolimits.PartitionKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(dynamolimits.PartitionKey), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	require.NoError(t, err)
	put := func(item map[string]types.AttributeValue) {
		t.Helper()
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
		require.NoError(t, err)
	}
	put(map[string]types.AttributeValue{
		"tenant_id":         &types.AttributeValueMemberS{Value: "acme"},
		"events_per_second": n(2000),
		"kinds": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"webhook": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"max_concurrent_deliveries": n(1)}},
		}},
	})
	// Enough tenants for the scan to take several pages.
	for i := range 30 {
		put(map[string]types.AttributeValue{"tenant_id": &types.AttributeValueMemberS{Value: "t" + strconv.Itoa(i)}, "bytes_per_second": n(float64(1000 + i))})
	}

	l, err := limits.New()
	require.NoError(t, err)
	obs := &reloads{}
	pages := &pagingScan{API: client, limit: 7}
	src, err := dynamolimits.Open(ctx, pages, table, l, func(o *dynamolimits.Options) {
		o.Observer = obs
		o.Parse = func(po *limits.ParseOptions) { po.Kinds = []string{"cloudwatch", "webhook"} }
	})
	require.NoError(t, err)
	assert.Greater(t, pages.calls, 1, "the scan was paged")
	assert.Equal(t, limits.Limits{EventsPerSecond: 2000, MaxConcurrentDeliveries: 1}, l.Limits("acme", "webhook"))
	assert.Equal(t, 1029.0, l.Limits("t29", "s3").BytesPerSecond)
	applied, err := src.Check(ctx)
	require.NoError(t, err)
	assert.False(t, applied, "nothing changed")

	// An invalid item refuses the whole table's version.
	put(map[string]types.AttributeValue{"tenant_id": &types.AttributeValueMemberS{Value: "acme"}, "events_per_second": n(10)})
	put(map[string]types.AttributeValue{"tenant_id": &types.AttributeValueMemberS{Value: "globex"}, "events_per_second": n(-1),
		"rate": n(5), "bytes_burst": &types.AttributeValueMemberS{Value: "10MB"}})
	applied, err = src.Check(ctx)
	assert.False(t, applied)
	var ve *limits.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.ElementsMatch(t, []string{
		`overrides.globex.bytes_burst: want a number, got a string ("10MB")`,
		"overrides.globex.events_per_second: must not be negative (got -1)",
		"overrides.globex.rate: unknown limit; known: events_per_second, events_burst, bytes_per_second, bytes_burst, max_concurrent_deliveries",
	}, ve.Problems)
	assert.Equal(t, 2000.0, l.Limits("acme", "webhook").EventsPerSecond, "the last good version stays, acme's valid change too")
	assert.Equal(t, 1, src.Status().Refused)

	_, err = client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{"tenant_id": &types.AttributeValueMemberS{Value: "globex"}}})
	require.NoError(t, err)
	applied, err = src.Check(ctx)
	require.NoError(t, err)
	assert.True(t, applied)
	assert.Equal(t, limits.Limits{EventsPerSecond: 10}, l.Limits("acme", "webhook"), "the whole item is the tenant's overrides")
	obs.mu.Lock()
	require.Len(t, obs.errs, 2)
	assert.Error(t, obs.errs[0])
	assert.NoError(t, obs.errs[1])
	obs.mu.Unlock()

	// A table with an invalid version does not start.
	put(map[string]types.AttributeValue{"tenant_id": &types.AttributeValueMemberS{Value: "initech"}, "kinds": n(3)})
	_, err = dynamolimits.Open(ctx, client, table, l)
	assert.ErrorContains(t, err, "overrides.initech.kinds: want a mapping")
}

// pagingScan makes the scan return at most limit items a page.
type pagingScan struct {
	dynamolimits.API
	limit int32
	calls int
}

func (p *pagingScan) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	p.calls++
	in.Limit = aws.Int32(p.limit)
	return p.API.Scan(ctx, in, optFns...)
}
