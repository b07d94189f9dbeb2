package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// fakeClient returns a client of a new in-process fake.
func fakeClient(t testing.TB) (*dynamodb.Client, *fakeDynamo) {
	t.Helper()
	f := newFakeDynamo()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return dynamodb.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  awscreds.NewStaticCredentialsProvider("AKID", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   srv.Client(),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				o.RateLimiter = ratelimit.None
			})
		},
	}), f
}

var tables atomic.Int64

// newTable creates a table with a name of its own.
func newTable(t *testing.T, client *dynamodb.Client) string {
	t.Helper()
	name := fmt.Sprintf("delivery-configs-%d", tables.Add(1))
	require.NoError(t, CreateTable(ctx(t), client, name))
	return name
}

// eachBackend runs fn against the fake and against moto, each with a new
// table.
func eachBackend(t *testing.T, fn func(t *testing.T, client *dynamodb.Client, table string, fake *fakeDynamo)) {
	t.Run("fake", func(t *testing.T) {
		client, fake := fakeClient(t)
		fn(t, client, newTable(t, client), fake)
	})
	t.Run("moto", func(t *testing.T) {
		srv := mototest.Start(t)
		client := dynamodb.NewFromConfig(srv.Config())
		fn(t, client, newTable(t, client), nil)
	})
}

func TestConformanceFake(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tenant.Store {
		client, _ := fakeClient(t)
		return New(client, newTable(t, client))
	})
}

func TestConformanceMoto(t *testing.T) {
	srv := mototest.Start(t)
	client := dynamodb.NewFromConfig(srv.Config())
	storetest.Run(t, func(t *testing.T) tenant.Store {
		return New(client, newTable(t, client))
	})
}

func s(v string) types.AttributeValue     { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue     { return &types.AttributeValueMemberN{Value: v} }
func boolAV(v bool) types.AttributeValue  { return &types.AttributeValueMemberBOOL{Value: v} }
func ss(v ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: v} }
func l(v ...types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberL{Value: v}
}

func putRaw(t *testing.T, client *dynamodb.Client, table string, items ...map[string]types.AttributeValue) {
	t.Helper()
	for _, item := range items {
		_, err := client.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
		require.NoError(t, err)
	}
}

func TestSeedItemsLoadUnchanged(t *testing.T) {
	eachBackend(t, func(t *testing.T, client *dynamodb.Client, table string, _ *fakeDynamo) {
		// Items exactly as the original processor's table holds them.
		putRaw(t, client, table,
			map[string]types.AttributeValue{
				"tenant_id": s("acme"), "type": s("cloudwatch"), "enabled": boolAV(true),
				"desired_logs": l(s("kube-apiserver"), s("payments")), "groups": l(s("API")),
				"target_region": s("us-east-1"), "ttl": n("4102444800"),
				"created_at": s("2024-05-01T10:00:00Z"), "updated_at": s("2024-05-02T11:30:00Z"),
				"log_distribution_role_arn": s("arn:aws:iam::222222222222:role/CustomerLogDistribution-us-east-1"),
				"log_group_name":            s("/rosa/acme"),
			},
			map[string]types.AttributeValue{
				"tenant_id": s("acme"), "type": s("s3"), "enabled": boolAV(false),
				"desired_logs": l(), "groups": l(),
				"bucket_name": s("acme-cluster-logs"), "bucket_prefix": s("ROSA/cluster-logs/"),
				"target_region": s("us-west-2"),
				"created_at":    s("2024-05-01T10:00:00Z"), "updated_at": s("2024-05-01T10:00:00Z"),
			},
		)
		got, err := New(client, table).Configs(ctx(t), "acme")
		require.NoError(t, err)
		require.Len(t, got, 2)
		assert.Equal(t, tenant.DeliveryConfig{
			TenantID: "acme", Type: "cloudwatch", Enabled: tenant.Bool(true),
			DesiredLogs: []string{"kube-apiserver", "payments"}, Groups: []string{"API"},
			TargetRegion: "us-east-1", TTL: 4102444800,
			CreatedAt: "2024-05-01T10:00:00Z", UpdatedAt: "2024-05-02T11:30:00Z",
			Settings: map[string]any{"log_distribution_role_arn": "arn:aws:iam::222222222222:role/CustomerLogDistribution-us-east-1", "log_group_name": "/rosa/acme"},
		}, got[0])
		assert.Equal(t, tenant.DeliveryConfig{
			TenantID: "acme", Type: "s3", Enabled: tenant.Bool(false),
			DesiredLogs: []string{}, Groups: []string{}, TargetRegion: "us-west-2",
			CreatedAt: "2024-05-01T10:00:00Z", UpdatedAt: "2024-05-01T10:00:00Z",
			Settings: map[string]any{"bucket_name": "acme-cluster-logs", "bucket_prefix": "ROSA/cluster-logs/"},
		}, got[1])
	})
}

func TestTolerantDecoding(t *testing.T) {
	eachBackend(t, func(t *testing.T, client *dynamodb.Client, table string, _ *fakeDynamo) {
		putRaw(t, client, table,
			map[string]types.AttributeValue{
				"tenant_id": s("legacy"), "type": s("cloudwatch"),
				"enabled": s("FALSE"), "ttl": s("4102444800"),
				"desired_logs": ss("payments", "billing"), "groups": s("API"),
				"created_at":                n("1714557600"),
				"log_distribution_role_arn": s("arn:aws:iam::222222222222:role/R"),
				"log_group_name":            s("/legacy"),
				"owner_team":                s("platform"), // unknown: ignored
				"notes":                     &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"x": n("1")}},
			},
			map[string]types.AttributeValue{
				"tenant_id": s("legacy"), "type": s("s3"),
				"enabled": n("1"), "ttl": n("4102444800.5"), "target_region": &types.AttributeValueMemberNULL{Value: true},
				"bucket_name": s("legacy-logs"),
			},
		)
		got, err := New(client, table).Configs(ctx(t), "legacy")
		require.NoError(t, err)
		require.Len(t, got, 2)
		cw := got[0]
		assert.Equal(t, tenant.Bool(false), cw.Enabled)
		assert.Equal(t, int64(4102444800), cw.TTL)
		assert.ElementsMatch(t, []string{"payments", "billing"}, cw.DesiredLogs)
		assert.Equal(t, []string{"API"}, cw.Groups)
		assert.Equal(t, "2024-05-01T10:00:00Z", cw.CreatedAt)
		s3 := got[1]
		assert.Equal(t, tenant.Bool(true), s3.Enabled)
		assert.Equal(t, int64(4102444800), s3.TTL)
		assert.Empty(t, s3.TargetRegion)
		assert.Equal(t, "legacy-logs", s3.Settings["bucket_name"])
	})
}

func TestUnusableItemsAreReported(t *testing.T) {
	eachBackend(t, func(t *testing.T, client *dynamodb.Client, table string, _ *fakeDynamo) {
		putRaw(t, client, table,
			map[string]types.AttributeValue{"tenant_id": s("acme"), "type": s("s3"), "bucket_name": s("acme-logs")},
			map[string]types.AttributeValue{"tenant_id": s("acme"), "type": s("s3:broken"), "bucket_name": l(s("a"), s("b"))},
			map[string]types.AttributeValue{"tenant_id": s("acme"), "type": s("s3:invalid"), "bucket_name": s("Not_A_Bucket!")},
			map[string]types.AttributeValue{"tenant_id": s("acme"), "type": s("s3:parked"), "bucket_name": s("TBD"), "enabled": &types.AttributeValueMemberBOOL{Value: false}},
			map[string]types.AttributeValue{"tenant_id": s("acme"), "type": s("cloudwatch"), "enabled": s("maybe"),
				"log_distribution_role_arn": s("arn:aws:iam::222222222222:role/R"), "log_group_name": s("/acme")},
		)
		st := New(client, table)
		got, err := st.Configs(ctx(t), "acme")
		require.Len(t, got, 4, "every item that decodes is returned: whether it is valid is the kind's to say")
		assert.Equal(t, "acme-logs", got[0].Settings["bucket_name"])
		assert.Equal(t, "s3:parked", got[3].Type)
		assert.False(t, got[3].IsEnabled())
		var items *tenant.ItemsError
		require.ErrorAs(t, err, &items)
		require.Len(t, items.Items, 1, "the item that does not decode is reported")
		assert.Equal(t, "acme", items.Items[0].TenantID)
		assert.Equal(t, "cloudwatch", items.Items[0].Type)
		assert.ErrorContains(t, items.Items[0], `enabled: "maybe"`)

		kinds, err := deliver.NewRegistry([]deliver.Kind{s3.Kind()})
		require.NoError(t, err)
		assert.NoError(t, kinds.Validate(got[0]))
		assert.ErrorContains(t, kinds.Validate(got[1]), "bucket_name: must be a string", "the kind refuses the broken one")
		assert.ErrorContains(t, kinds.Validate(got[2]), "bucket_name")

		// List reports them too, with the page.
		page, next, err := st.List(ctx(t), 10, "")
		assert.Len(t, page, 4)
		assert.Empty(t, next)
		require.ErrorAs(t, err, &items)
		assert.Len(t, items.Items, 1)
	})
}

func TestManyItemsSmallPages(t *testing.T) {
	eachBackend(t, func(t *testing.T, client *dynamodb.Client, table string, fake *fakeDynamo) {
		st := New(client, table, func(o *Options) { o.QueryLimit = 4 })
		const count = 25
		for i := range count {
			c := storetest.S3("big")
			c.Type = fmt.Sprintf("s3:d%02d", i)
			_, err := st.Create(ctx(t), c)
			require.NoError(t, err)
		}
		_, err := st.Create(ctx(t), storetest.S3("other"))
		require.NoError(t, err)
		got, err := st.Configs(ctx(t), "big")
		require.NoError(t, err)
		require.Len(t, got, count)
		for i, c := range got {
			assert.Equal(t, fmt.Sprintf("s3:d%02d", i), c.Type, "ordered by type")
		}
		if fake != nil {
			queries := fake.ops("Query")
			assert.Len(t, queries, 7, "25 items in pages of 4")
			assert.Equal(t, float64(4), queries[0].Input["Limit"])
		}
	})
}

func TestReplaceReplacesTheWholeItem(t *testing.T) {
	eachBackend(t, func(t *testing.T, client *dynamodb.Client, table string, _ *fakeDynamo) {
		putRaw(t, client, table, map[string]types.AttributeValue{
			"tenant_id": s("acme"), "type": s("s3"), "bucket_name": s("acme-logs"),
			"desired_logs": l(s("payments")), "created_at": s("2024-05-01T10:00:00Z"), "updated_at": s("2024-05-01T10:00:00Z"),
			"owner_team": s("platform"),
		})
		now := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
		st := New(client, table, func(o *Options) { o.Now = func() time.Time { return now } })
		c := storetest.S3("acme")
		c.Settings["bucket_name"] = "acme-new"
		stored, err := st.Replace(ctx(t), c, tenant.Condition{IfUpdatedAt: "2024-05-01T10:00:00Z"})
		require.NoError(t, err)
		assert.Equal(t, "2024-05-01T10:00:00Z", stored.CreatedAt, "created_at is kept")
		assert.Equal(t, "2026-11-21T20:00:00Z", stored.UpdatedAt)
		assert.Equal(t, "acme-new", stored.Settings["bucket_name"])
		assert.Empty(t, stored.DesiredLogs, "a field the new config leaves out is removed")

		raw, err := client.GetItem(ctx(t), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("acme", "s3")})
		require.NoError(t, err)
		assert.NotContains(t, raw.Item, "owner_team", "the item is the new config: an attribute it does not have is removed")
		assert.NotContains(t, raw.Item, "desired_logs")
		assert.Equal(t, s("ROSA/cluster-logs/"), raw.Item["bucket_prefix"])
	})
}

func TestReadOptions(t *testing.T) {
	client, fake := fakeClient(t)
	table := newTable(t, client)
	st := New(client, table, func(o *Options) { o.ConsistentRead = true })
	_, err := st.Configs(ctx(t), "acme")
	require.NoError(t, err)
	_, _, err = st.List(ctx(t), 5, "")
	require.NoError(t, err)
	assert.Equal(t, true, fake.ops("Query")[0].Input["ConsistentRead"])
	assert.Equal(t, true, fake.ops("Scan")[0].Input["ConsistentRead"])

	_, err = New(client, table).Get(ctx(t), "acme", "s3")
	assert.ErrorIs(t, err, tenant.ErrNotFound)
	assert.Equal(t, true, fake.ops("GetItem")[0].Input["ConsistentRead"], "Get reads its writes")

	got, err := st.Configs(ctx(t), "")
	require.NoError(t, err, "an empty tenant id has no configs (DynamoDB refuses empty keys)")
	assert.Empty(t, got)
	assert.Len(t, fake.ops("Query"), 1, "and is not queried")
}

func TestErrorsAreClassified(t *testing.T) {
	client, fake := fakeClient(t)
	table := newTable(t, client)
	st := New(client, table)

	fake.fail = func(op string) *fakeErr {
		return &fakeErr{status: 400, code: "ProvisionedThroughputExceededException", msg: "slow down"}
	}
	_, err := st.Configs(ctx(t), "acme")
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err), "%v", err)
	assert.Contains(t, err.Error(), `tenant "acme"`)

	fake.fail = nil
	_, err = New(client, "missing-table").Configs(ctx(t), "acme")
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err), "the table is the processor's own: a missing one is its failure, never the objects': %v", err)
	assert.ErrorContains(t, err, "missing-table")

	_, _, err = st.List(ctx(t), 2, "bm90LWpzb24")
	assert.ErrorIs(t, err, tenant.ErrInvalidCursor)
	_, _, err = st.List(ctx(t), 0, "")
	assert.Error(t, err)
}

func FuzzCursor(f *testing.F) {
	f.Add(encodeCursor(key("acme", "s3:archive")))
	f.Add("not-a-cursor!")
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, c string) {
		k, err := decodeCursor(c)
		if err != nil {
			if !errors.Is(err, tenant.ErrInvalidCursor) {
				t.Fatalf("error %v is not ErrInvalidCursor", err)
			}
			return
		}
		again, err := decodeCursor(encodeCursor(k))
		if err != nil || stringAttr(again, PartitionKey) != stringAttr(k, PartitionKey) || stringAttr(again, SortKey) != stringAttr(k, SortKey) {
			t.Fatalf("cursor %q does not round-trip: %v", c, err)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add("acme", "s3", "true", "4102444800", "payments")
	f.Add("", "", "maybe", "soon", "")
	f.Add("a", "cloudwatch", "0", "1.5e9", "x")
	f.Fuzz(func(t *testing.T, tenantID, typ, enabled, ttl, app string) {
		for _, item := range []map[string]types.AttributeValue{
			{"tenant_id": s(tenantID), "type": s(typ), "enabled": s(enabled), "ttl": s(ttl), "desired_logs": s(app)},
			{"tenant_id": s(tenantID), "type": s(typ), "enabled": n(enabled), "ttl": n(ttl), "created_at": n(ttl), "groups": ss(app)},
		} {
			c, err := decode(item)
			if err == nil && c.TenantID != tenantID {
				t.Fatalf("tenant %q decoded as %q", tenantID, c.TenantID)
			}
		}
	})
}

func TestDecodeErrorsNameTheAttribute(t *testing.T) {
	for _, tc := range []struct {
		item map[string]types.AttributeValue
		want string
	}{
		{map[string]types.AttributeValue{"tenant_id": s("a"), "type": s("s3"), "ttl": s("soon")}, "ttl"},
		{map[string]types.AttributeValue{"tenant_id": s("a"), "type": s("s3"), "enabled": n("x")}, "enabled"},
		{map[string]types.AttributeValue{"tenant_id": s("a"), "type": s("s3"), "created_at": n("NaN")}, "created_at"},
		{map[string]types.AttributeValue{"tenant_id": s("a"), "type": s("s3"), "bucket_name": &types.AttributeValueMemberB{Value: []byte("x")}}, "attribute bucket_name"},
		{map[string]types.AttributeValue{"tenant_id": s("a"), "type": s("loki"), "url": s("https://x")}, `"settings"`},
	} {
		_, err := decode(tc.item)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
	assert.True(t, errors.Is(fmt.Errorf("x: %w", tenant.ErrNotFound), tenant.ErrNotFound))
}

func BenchmarkDecodeSeedItem(b *testing.B) {
	item := map[string]types.AttributeValue{
		"tenant_id": s("acme"), "type": s("cloudwatch"), "enabled": boolAV(true),
		"desired_logs": l(s("kube-apiserver"), s("payments")), "groups": l(s("API")),
		"target_region": s("us-east-1"), "ttl": n("4102444800"),
		"created_at": s("2024-05-01T10:00:00Z"), "updated_at": s("2024-05-02T11:30:00Z"),
		"log_distribution_role_arn": s("arn:aws:iam::222222222222:role/CustomerLogDistribution-us-east-1"),
		"log_group_name":            s("/rosa/acme"),
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decode(item); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConfigs measures one uncached lookup of a tenant with two
// configs through the SDK and the in-process fake (HTTP included); compare
// with tenant.BenchmarkCacheHit.
func BenchmarkConfigs(bm *testing.B) {
	client, _ := fakeClient(bm)
	table := fmt.Sprintf("bench-%d", tables.Add(1))
	if err := CreateTable(context.Background(), client, table); err != nil {
		bm.Fatal(err)
	}
	st := New(client, table)
	for _, c := range []tenant.DeliveryConfig{storetest.S3("acme"), storetest.CloudWatch("acme")} {
		if _, err := st.Create(context.Background(), c); err != nil {
			bm.Fatal(err)
		}
	}
	bm.ReportAllocs()
	for bm.Loop() {
		got, err := st.Configs(context.Background(), "acme")
		if err != nil || len(got) != 2 {
			bm.Fatal(len(got), err)
		}
	}
}
