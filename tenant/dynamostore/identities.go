package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/tenant"
)

// IdentityAPI is the part of the DynamoDB API Identities uses.
// *dynamodb.Client implements it.
type IdentityAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Identities is a tenant.IdentityStore in a table of its own (partition
// key tenant_id; attributes accounts, a string set, and external_id),
// apart from the configs table, so that IAM can give tenants' writers no
// access to it: only the platform operator writes identities. It is safe
// for concurrent use.
type Identities struct {
	client IdentityAPI
	table  string
	now    func() time.Time
}

var _ tenant.IdentityStore = (*Identities)(nil)

// NewIdentities returns the identity store of table, read and written
// through client.
func NewIdentities(client IdentityAPI, table string) *Identities {
	return &Identities{client: client, table: table, now: time.Now}
}

// Identity returns the tenant's identity, read consistently (an operator
// binding a new account expects it to count at once).
func (s *Identities) Identity(ctx context.Context, tenantID string) (tenant.Identity, error) {
	if tenantID == "" {
		return tenant.Identity{}, fmt.Errorf("dynamostore: empty tenant id: %w", tenant.ErrNoIdentity)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{PartitionKey: &types.AttributeValueMemberS{Value: tenantID}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return tenant.Identity{}, fault.Retryable(fmt.Errorf("dynamostore: get the identity of tenant %q from table %s: %w", tenantID, s.table, err))
	}
	if len(out.Item) == 0 {
		return tenant.Identity{}, fmt.Errorf("dynamostore: tenant %q in table %s: %w", tenantID, s.table, tenant.ErrNoIdentity)
	}
	id := tenant.Identity{TenantID: stringAttr(out.Item, PartitionKey), ExternalID: stringAttr(out.Item, "external_id"),
		CreatedAt: stringAttr(out.Item, "created_at"), UpdatedAt: stringAttr(out.Item, "updated_at")}
	switch v := out.Item["accounts"].(type) {
	case *types.AttributeValueMemberSS:
		id.Accounts = v.Value
	case *types.AttributeValueMemberL:
		for _, e := range v.Value {
			if s, ok := e.(*types.AttributeValueMemberS); ok {
				id.Accounts = append(id.Accounts, s.Value)
			}
		}
	}
	if err := id.Validate(); err != nil {
		return tenant.Identity{}, fault.Retryable(fmt.Errorf("dynamostore: the identity of tenant %q in table %s: %w", tenantID, s.table, err))
	}
	return id, nil
}

// Put stores id, validated, replacing the tenant's identity if any.
func (s *Identities) Put(ctx context.Context, id tenant.Identity) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("dynamostore: %w", err)
	}
	now := s.now().UTC().Format(time.RFC3339Nano)
	if id.CreatedAt == "" {
		id.CreatedAt = now
	}
	item := map[string]types.AttributeValue{
		PartitionKey: &types.AttributeValueMemberS{Value: id.TenantID},
		"accounts":   &types.AttributeValueMemberSS{Value: id.Accounts},
		"created_at": &types.AttributeValueMemberS{Value: id.CreatedAt},
		"updated_at": &types.AttributeValueMemberS{Value: now},
	}
	if id.ExternalID != "" {
		item["external_id"] = &types.AttributeValueMemberS{Value: id.ExternalID}
	}
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fault.Retryable(fmt.Errorf("dynamostore: put the identity of tenant %q in table %s: %w", id.TenantID, s.table, err))
	}
	return nil
}

// Delete removes the tenant's identity.
func (s *Identities) Delete(ctx context.Context, tenantID string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       map[string]types.AttributeValue{PartitionKey: &types.AttributeValueMemberS{Value: tenantID}},
	})
	if err != nil {
		return fault.Retryable(fmt.Errorf("dynamostore: delete the identity of tenant %q in table %s: %w", tenantID, s.table, err))
	}
	return nil
}

// CreateIdentityTable creates a table in the schema Identities expects
// (partition key tenant_id; on-demand capacity) and waits for it, like
// CreateTable.
func CreateIdentityTable(ctx context.Context, client TableAPI, table string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(PartitionKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(PartitionKey), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		return fmt.Errorf("dynamostore: create table %s: %w", table, err)
	}
	return waitActive(ctx, client, table)
}
