// Package dynamostore is a tenant.Store backed by a DynamoDB table in the
// original delivery-config schema: partition key tenant_id (S), sort key
// type (S), one item per destination. Items of the cloudwatch and s3 kinds
// keep their settings as top-level attributes, exactly as the seed
// describes them; other kinds keep theirs in one map attribute, settings
// (see package tenant). Tables written by earlier processors work
// unchanged.
//
// Reads are tolerant of how other writers stored the common attributes
// (enabled as a string or number, ttl as a string, lists as string sets,
// timestamps as epoch numbers). Items that still cannot be decoded are
// skipped and reported in a *tenant.ItemsError next to the tenant's other
// configurations. Whether an item's settings are valid is the kind's to
// say: the Dispatcher and the configuration API ask their registry, so an
// attribute no kind knows makes that one destination invalid, loudly,
// never silently ignored. Replace writes the whole item.
package dynamostore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/tenant"
)

// Key attribute names of the table.
const (
	PartitionKey = "tenant_id"
	SortKey      = "type"
)

// API is the part of the DynamoDB API a Store uses. *dynamodb.Client
// implements it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Options configures a Store.
type Options struct {
	// ConsistentRead makes Configs and List use strongly consistent reads
	// (twice the read capacity). Get always reads consistently, so that a
	// configuration API reads its own writes. Default: false.
	ConsistentRead bool

	// QueryLimit caps the items of one Query page of Configs; Configs
	// follows the pages to the end either way. Default: 0, DynamoDB's own
	// 1 MB pages.
	QueryLimit int32

	// Now returns the current time, for created_at and updated_at.
	// Default: time.Now.
	Now func() time.Time

	// Logger receives a warning for each item skipped by a read.
	// Default: discard.
	Logger *slog.Logger
}

// Store is a tenant.Store in one DynamoDB table. It is safe for concurrent
// use.
type Store struct {
	client API
	table  string
	opts   Options
}

var _ tenant.Store = (*Store)(nil)

// New returns a Store of table, read and written through client.
func New(client API, table string, optFns ...func(*Options)) *Store {
	s := &Store{client: client, table: table}
	for _, fn := range optFns {
		fn(&s.opts)
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// Configs returns every usable configuration of the tenant, ordered by
// type, following Query pages to the end. Items that cannot be used are
// returned in a *tenant.ItemsError alongside the others.
func (s *Store) Configs(ctx context.Context, tenantID string) ([]tenant.DeliveryConfig, error) {
	if tenantID == "" {
		return []tenant.DeliveryConfig{}, nil // DynamoDB refuses an empty key
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": PartitionKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: tenantID}},
		ConsistentRead:            aws.Bool(s.opts.ConsistentRead),
	}
	if s.opts.QueryLimit > 0 {
		in.Limit = aws.Int32(s.opts.QueryLimit)
	}
	out := []tenant.DeliveryConfig{}
	var bad []*tenant.ItemError
	for {
		page, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, fault.Retryable(fmt.Errorf("dynamostore: query configs of tenant %q in table %s: %w", tenantID, s.table, err))
		}
		for _, item := range page.Items {
			c, ierr := s.usable(ctx, item)
			if ierr != nil {
				bad = append(bad, ierr)
				continue
			}
			out = append(out, c)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	if len(bad) > 0 {
		return out, &tenant.ItemsError{Items: bad}
	}
	return out, nil
}

// usable decodes one item. Whether its settings are valid is for the
// kind to say (the Dispatcher and the configuration API ask the registry).
func (s *Store) usable(ctx context.Context, item map[string]types.AttributeValue) (tenant.DeliveryConfig, *tenant.ItemError) {
	c, err := decode(item)
	if err != nil {
		ierr := &tenant.ItemError{TenantID: stringAttr(item, PartitionKey), Type: stringAttr(item, SortKey), Err: err}
		s.opts.Logger.WarnContext(ctx, "dynamostore: skipping unusable delivery config", "table", s.table, "tenant_id", ierr.TenantID, "type", ierr.Type, "error", err)
		return tenant.DeliveryConfig{}, ierr
	}
	return c, nil
}

// Get returns one configuration, read consistently. An item that cannot be
// decoded is a *tenant.ItemError; an invalid one is returned as stored, so
// that it can be inspected and fixed.
func (s *Store) Get(ctx context.Context, tenantID, typ string) (tenant.DeliveryConfig, error) {
	if tenantID == "" || typ == "" {
		return tenant.DeliveryConfig{}, fmt.Errorf("%s/%s: %w", tenantID, typ, tenant.ErrNotFound)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(tenantID, typ),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return tenant.DeliveryConfig{}, fault.Retryable(fmt.Errorf("dynamostore: get %s/%s from table %s: %w", tenantID, typ, s.table, err))
	}
	if len(out.Item) == 0 {
		return tenant.DeliveryConfig{}, fmt.Errorf("%s/%s: %w", tenantID, typ, tenant.ErrNotFound)
	}
	c, err := decode(out.Item)
	if err != nil {
		return tenant.DeliveryConfig{}, &tenant.ItemError{TenantID: tenantID, Type: typ, Err: err}
	}
	return c, nil
}

// Create stores a new configuration with a PutItem conditioned on the
// item's absence.
func (s *Store) Create(ctx context.Context, cfg tenant.DeliveryConfig) (tenant.DeliveryConfig, error) {
	if err := checkKey(cfg); err != nil {
		return tenant.DeliveryConfig{}, err
	}
	cfg.CreatedAt, cfg.UpdatedAt = tenant.Stamp(tenant.DeliveryConfig{}, false, s.opts.Now())
	item, err := encode(cfg)
	if err != nil {
		return tenant.DeliveryConfig{}, fmt.Errorf("dynamostore: encode %s/%s: %w", cfg.TenantID, cfg.Type, err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": PartitionKey},
	})
	if ccf := (*types.ConditionalCheckFailedException)(nil); errors.As(err, &ccf) {
		return tenant.DeliveryConfig{}, fmt.Errorf("%s/%s: %w", cfg.TenantID, cfg.Type, tenant.ErrExists)
	}
	if err != nil {
		return tenant.DeliveryConfig{}, fault.Retryable(fmt.Errorf("dynamostore: create %s/%s in table %s: %w", cfg.TenantID, cfg.Type, s.table, err))
	}
	return cfg, nil
}

// Replace overwrites an existing configuration: the stored item is read
// (consistently) and replaced as a whole by a PutItem conditioned on its
// updated_at, so that attributes the new config no longer has are removed
// and a concurrent write is never lost; created_at is kept. When another
// writer wins the race and cond is not set, the read and the put are tried
// again, a few times.
func (s *Store) Replace(ctx context.Context, cfg tenant.DeliveryConfig, cond tenant.Condition) (tenant.DeliveryConfig, error) {
	if err := checkKey(cfg); err != nil {
		return tenant.DeliveryConfig{}, err
	}
	const attempts = 4
	for attempt := 1; ; attempt++ {
		out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(s.table),
			Key:            key(cfg.TenantID, cfg.Type),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return tenant.DeliveryConfig{}, fault.Retryable(fmt.Errorf("dynamostore: replace %s/%s in table %s: read: %w", cfg.TenantID, cfg.Type, s.table, err))
		}
		if len(out.Item) == 0 {
			return tenant.DeliveryConfig{}, fmt.Errorf("%s/%s: %w", cfg.TenantID, cfg.Type, tenant.ErrNotFound)
		}
		stored := tenant.DeliveryConfig{CreatedAt: stringAttr(out.Item, "created_at"), UpdatedAt: stringAttr(out.Item, "updated_at")}
		if c, err := decode(out.Item); err == nil {
			stored.CreatedAt = c.CreatedAt // epoch numbers normalised
		}
		if cond.IfUpdatedAt != "" && cond.IfUpdatedAt != stored.UpdatedAt {
			return tenant.DeliveryConfig{}, fmt.Errorf("%s/%s (stored updated_at %s): %w", cfg.TenantID, cfg.Type, stored.UpdatedAt, tenant.ErrConflict)
		}
		next := cfg
		next.CreatedAt, next.UpdatedAt = tenant.Stamp(stored, true, s.opts.Now())
		item, err := encode(next)
		if err != nil {
			return tenant.DeliveryConfig{}, fmt.Errorf("dynamostore: encode %s/%s: %w", cfg.TenantID, cfg.Type, err)
		}
		e := newExpr()
		condition := "attribute_exists(" + e.name(PartitionKey) + ") AND "
		if raw, ok := out.Item["updated_at"]; ok {
			condition += e.name("updated_at") + " = " + e.value(raw) // as stored, whatever its type
		} else {
			condition += "attribute_not_exists(" + e.name("updated_at") + ")"
		}
		_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 aws.String(s.table),
			Item:                      item,
			ConditionExpression:       aws.String(condition),
			ExpressionAttributeNames:  e.names,
			ExpressionAttributeValues: e.valuesOrNil(),
		})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			return next, nil
		case !errors.As(err, &ccf):
			return tenant.DeliveryConfig{}, fault.Retryable(fmt.Errorf("dynamostore: replace %s/%s in table %s: %w", cfg.TenantID, cfg.Type, s.table, err))
		case cond.IfUpdatedAt != "":
			return tenant.DeliveryConfig{}, fmt.Errorf("%s/%s: %w", cfg.TenantID, cfg.Type, tenant.ErrConflict)
		case attempt == attempts:
			return tenant.DeliveryConfig{}, fmt.Errorf("%s/%s: changed by other writers %d times in a row: %w", cfg.TenantID, cfg.Type, attempts, tenant.ErrConflict)
		}
	}
}

// Delete removes a configuration with a DeleteItem conditioned on its
// existence (and its updated_at).
func (s *Store) Delete(ctx context.Context, tenantID, typ string, cond tenant.Condition) error {
	e := newExpr()
	condition := e.condition(cond)
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 key(tenantID, typ),
		ConditionExpression:                 aws.String(condition),
		ExpressionAttributeNames:            e.names,
		ExpressionAttributeValues:           e.valuesOrNil(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return s.writeError("delete", tenantID, typ, err)
	}
	return nil
}

// writeError maps a failed conditional write: with the old item returned,
// the condition failed on updated_at (ErrConflict); without, there was no
// item (ErrNotFound).
func (s *Store) writeError(op, tenantID, typ string, err error) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return fmt.Errorf("%s/%s: %w", tenantID, typ, tenant.ErrNotFound)
		}
		return fmt.Errorf("%s/%s (stored updated_at %s): %w", tenantID, typ, stringAttr(ccf.Item, "updated_at"), tenant.ErrConflict)
	}
	return fault.Retryable(fmt.Errorf("dynamostore: %s %s/%s in table %s: %w", op, tenantID, typ, s.table, err))
}

// List returns a page of up to limit configurations with one Scan.
//
// Unlike the order tenant.Store documents, pages follow DynamoDB's scan
// order: a tenant's configurations come together, ordered by type, but
// tenants come in the order of their partition key hashes. Ordering the
// whole table would mean reading all of it for every page; every
// configuration is still listed exactly once across pages. A page may hold
// fewer than limit configurations (even none) while more remain: follow the
// cursor until it is "". Unusable items are skipped and returned in a
// *tenant.ItemsError together with the page and its cursor.
func (s *Store) List(ctx context.Context, limit int, cursor string) ([]tenant.DeliveryConfig, string, error) {
	if limit <= 0 {
		return nil, "", fmt.Errorf("dynamostore: list limit %d must be positive", limit)
	}
	in := &dynamodb.ScanInput{
		TableName:      aws.String(s.table),
		Limit:          aws.Int32(int32(min(limit, 1<<30))),
		ConsistentRead: aws.Bool(s.opts.ConsistentRead),
	}
	if cursor != "" {
		start, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		in.ExclusiveStartKey = start
	}
	out, err := s.client.Scan(ctx, in)
	if err != nil {
		return nil, "", fault.Retryable(fmt.Errorf("dynamostore: scan table %s: %w", s.table, err))
	}
	configs := make([]tenant.DeliveryConfig, 0, len(out.Items))
	var bad []*tenant.ItemError
	for _, item := range out.Items {
		c, ierr := s.usable(ctx, item)
		if ierr != nil {
			bad = append(bad, ierr)
			continue
		}
		configs = append(configs, c)
	}
	next := ""
	if len(out.LastEvaluatedKey) > 0 {
		next = encodeCursor(out.LastEvaluatedKey)
	}
	if len(bad) > 0 {
		return configs, next, &tenant.ItemsError{Items: bad}
	}
	return configs, next, nil
}

func checkKey(cfg tenant.DeliveryConfig) error {
	if cfg.TenantID == "" || cfg.Type == "" {
		return fmt.Errorf("dynamostore: tenant_id and type are required: %w", tenant.ErrInvalidConfig)
	}
	return nil
}

func key(tenantID, typ string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		PartitionKey: &types.AttributeValueMemberS{Value: tenantID},
		SortKey:      &types.AttributeValueMemberS{Value: typ},
	}
}

func stringAttr(item map[string]types.AttributeValue, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// expr collects the placeholders of an expression.
type expr struct {
	names  map[string]string
	values map[string]types.AttributeValue
}

func newExpr() *expr {
	return &expr{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// name returns the placeholder of an attribute name.
func (e *expr) name(attr string) string {
	for p, a := range e.names {
		if a == attr {
			return p
		}
	}
	p := fmt.Sprintf("#n%d", len(e.names))
	e.names[p] = attr
	return p
}

// value returns a new placeholder for v.
func (e *expr) value(v types.AttributeValue) string {
	p := fmt.Sprintf(":v%d", len(e.values))
	e.values[p] = v
	return p
}

// valuesOrNil returns the value placeholders, or nil when there are none:
// DynamoDB refuses an empty map.
func (e *expr) valuesOrNil() map[string]types.AttributeValue {
	if len(e.values) == 0 {
		return nil
	}
	return e.values
}

// condition returns the condition of a write to an existing item.
func (e *expr) condition(cond tenant.Condition) string {
	c := "attribute_exists(" + e.name(PartitionKey) + ")"
	if cond.IfUpdatedAt != "" {
		c += " AND " + e.name("updated_at") + " = " + e.value(&types.AttributeValueMemberS{Value: cond.IfUpdatedAt})
	}
	return c
}

// cursorKey is the JSON form of a Scan's LastEvaluatedKey.
type cursorKey struct {
	TenantID string `json:"t"`
	Type     string `json:"y"`
}

func encodeCursor(k map[string]types.AttributeValue) string {
	b, _ := json.Marshal(cursorKey{TenantID: stringAttr(k, PartitionKey), Type: stringAttr(k, SortKey)})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string) (map[string]types.AttributeValue, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: cursor %q: %w", c, tenant.ErrInvalidCursor)
	}
	var k cursorKey
	if err := json.Unmarshal(b, &k); err != nil || k.TenantID == "" || k.Type == "" {
		return nil, fmt.Errorf("dynamostore: cursor %q: %w", c, tenant.ErrInvalidCursor)
	}
	return key(k.TenantID, k.Type), nil
}
