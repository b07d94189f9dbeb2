// Package dynamoledger is a ledger.Ledger in a DynamoDB table: partition
// key id (S, ledger.Key.ID), one item per delivery, with conditional writes
// so that a late checkpoint never undoes a delivery marked done, and a TTL
// attribute (expires_at) so that DynamoDB deletes old entries. On-demand
// capacity suits it: two writes per delivery on the happy path, plus one
// per checkpoint.
package dynamoledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/ledger"
)

// API is the part of the DynamoDB API a Ledger uses. *dynamodb.Client
// implements it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Options configures a Ledger.
type Options struct {
	// TTL is how long an entry is kept after its last change (the
	// expires_at attribute; enable time to live on it). Default:
	// ledger.DefaultTTL.
	TTL time.Duration
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// Ledger is a ledger.Ledger in one DynamoDB table. It is safe for
// concurrent use.
type Ledger struct {
	client API
	table  string
	opts   Options
}

var _ ledger.Ledger = (*Ledger)(nil)

// New returns the ledger in table, read and written through client.
func New(client API, table string, optFns ...func(*Options)) (*Ledger, error) {
	l := &Ledger{client: client, table: table}
	for _, fn := range optFns {
		fn(&l.opts)
	}
	switch {
	case client == nil || table == "":
		return nil, errors.New("dynamoledger: a client and a table are required")
	case l.opts.TTL < 0:
		return nil, errors.New("dynamoledger: negative TTL")
	}
	if l.opts.TTL == 0 {
		l.opts.TTL = ledger.DefaultTTL
	}
	if l.opts.Now == nil {
		l.opts.Now = time.Now
	}
	return l, nil
}

const (
	attrID         = "id"
	attrState      = "state"
	attrCheckpoint = "checkpoint"
	attrUpdated    = "updated_at"
	attrExpires    = "expires_at"
	attrKey        = "delivery"
)

// Get returns the entry of k, read consistently. An entry past its
// expires_at counts as none, even before DynamoDB deletes it.
func (l *Ledger) Get(ctx context.Context, k ledger.Key) (ledger.Entry, bool, error) {
	out, err := l.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(l.table),
		Key:            map[string]types.AttributeValue{attrID: &types.AttributeValueMemberS{Value: k.ID()}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return ledger.Entry{}, false, fault.Retryable(fmt.Errorf("dynamoledger: get %s from table %s: %w", k, l.table, err))
	}
	if len(out.Item) == 0 {
		return ledger.Entry{}, false, nil
	}
	exp, _ := out.Item[attrExpires].(*types.AttributeValueMemberN)
	if exp != nil {
		if secs, err := strconv.ParseInt(exp.Value, 10, 64); err == nil && l.opts.Now().Unix() >= secs {
			return ledger.Entry{}, false, nil
		}
	}
	var e ledger.Entry
	if s, ok := out.Item[attrState].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.Atoi(s.Value)
		e.State = ledger.State(n)
	}
	if e.State != ledger.Started && e.State != ledger.Done {
		return ledger.Entry{}, false, fault.Retryable(fmt.Errorf("dynamoledger: the entry of %s in table %s has no valid state", k, l.table))
	}
	if b, ok := out.Item[attrCheckpoint].(*types.AttributeValueMemberB); ok {
		e.Checkpoint = b.Value
	}
	if s, ok := out.Item[attrUpdated].(*types.AttributeValueMemberS); ok {
		e.Updated, _ = time.Parse(time.RFC3339Nano, s.Value)
	}
	return e, true, nil
}

// Save records a checkpoint of k with a write conditioned on k not being
// done.
func (l *Ledger) Save(ctx context.Context, k ledger.Key, checkpoint []byte) error {
	item := l.item(k, ledger.Started)
	if len(checkpoint) > 0 {
		item[attrCheckpoint] = &types.AttributeValueMemberB{Value: checkpoint}
	}
	_, err := l.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(l.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(#id) OR #state <> :done"),
		ExpressionAttributeNames:  map[string]string{"#id": attrID, "#state": attrState},
		ExpressionAttributeValues: map[string]types.AttributeValue{":done": &types.AttributeValueMemberN{Value: strconv.Itoa(int(ledger.Done))}},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil // done already: a late checkpoint changes nothing
	}
	if err != nil {
		return fault.Retryable(fmt.Errorf("dynamoledger: save a checkpoint of %s in table %s: %w", k, l.table, err))
	}
	return nil
}

// Done marks k complete.
func (l *Ledger) Done(ctx context.Context, k ledger.Key) error {
	_, err := l.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.table), Item: l.item(k, ledger.Done)})
	if err != nil {
		return fault.Retryable(fmt.Errorf("dynamoledger: mark %s done in table %s: %w", k, l.table, err))
	}
	return nil
}

func (l *Ledger) item(k ledger.Key, s ledger.State) map[string]types.AttributeValue {
	now := l.opts.Now()
	return map[string]types.AttributeValue{
		attrID:      &types.AttributeValueMemberS{Value: k.ID()},
		attrState:   &types.AttributeValueMemberN{Value: strconv.Itoa(int(s))},
		attrUpdated: &types.AttributeValueMemberS{Value: now.UTC().Format(time.RFC3339Nano)},
		attrExpires: &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(l.opts.TTL).Unix(), 10)},
		attrKey:     &types.AttributeValueMemberS{Value: truncate(k.String(), 2048)},
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// TableAPI is the part of the DynamoDB API CreateTable uses.
type TableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// CreateTable creates a ledger table (partition key id, on-demand
// capacity), waits for it and enables time to live on expires_at: for
// tests, examples and local setups; production tables belong in
// infrastructure code.
func CreateTable(ctx context.Context, client TableAPI, table string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(attrID), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(attrID), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		return fmt.Errorf("dynamoledger: create table %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 5*time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 2*time.Minute); err != nil {
		return fmt.Errorf("dynamoledger: table %s did not become active: %w", table, err)
	}
	if _, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attrExpires), Enabled: aws.Bool(true)}}); err != nil {
		return fmt.Errorf("dynamoledger: enable time to live on table %s: %w", table, err)
	}
	return nil
}
