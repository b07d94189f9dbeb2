// Package dynamolimits keeps a limits.Limiter's per-tenant overrides in a
// DynamoDB table instead of a file: one item per tenant, its partition
// key tenant_id, its other attributes the tenant's limits as numbers
// (named as limits.Names returns them) and, optionally, kinds: a map of
// destination kind to a map of limits. For example:
//
//	{"tenant_id": {"S": "acme"}, "events_per_second": {"N": "20000"},
//	 "kinds": {"M": {"webhook": {"M": {"max_concurrent_deliveries": {"N": "1"}}}}}}
//
// A Source scans the table every Interval and treats the whole table as
// one version of the overrides, with the semantics of an overrides file:
// validated as a whole (every problem named, with the tenant's path:
// "overrides.acme.rate: unknown limit"), applied atomically when valid,
// refused when not, the last good version staying in force. Defaults come
// from limits.Options.Defaults. Use one source of overrides per Limiter:
// a file and a table would replace each other's.
package dynamolimits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/logdelivery/logdelivery/internal/reload"
	"github.com/logdelivery/logdelivery/limits"
)

// PartitionKey is the table's partition key: the tenant id.
const PartitionKey = "tenant_id"

// SourceName is the source name of a Source in logs and metrics.
const SourceName = "limits_dynamodb"

// API is the part of the DynamoDB client a Source uses.
type API interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Options configures a Source.
type Options struct {
	// Interval is how often Run scans the table. Default: 30s.
	Interval time.Duration
	// Timeout bounds one scan of the table. Default: 30s.
	Timeout time.Duration
	// Parse configures the validation of every version (ParseOptions.Kinds:
	// the kinds the processor delivers). Default: none.
	Parse func(*limits.ParseOptions)
	// ConsistentRead scans with strongly consistent reads. Default: false.
	ConsistentRead bool
	// Logger receives a line per version applied (Info) or refused
	// (Error, naming every problem). Default: discard.
	Logger *slog.Logger
	// Observer is told every outcome. Default: none.
	Observer limits.ReloadObserver
}

// Source keeps a Limiter's overrides in step with a table. It is safe for
// concurrent use.
type Source struct {
	client API
	table  string
	opts   Options
	w      *reload.Watcher
}

// Open scans the table and puts its overrides in force on l. It fails,
// changing nothing, when the table cannot be read or its overrides are
// invalid.
func Open(ctx context.Context, client API, table string, l *limits.Limiter, optFns ...func(*Options)) (*Source, error) {
	if client == nil || table == "" || l == nil {
		return nil, errors.New("dynamolimits: a client, a table and a Limiter are required")
	}
	s := &Source{client: client, table: table}
	for _, fn := range optFns {
		fn(&s.opts)
	}
	switch {
	case s.opts.Interval < 0, s.opts.Timeout < 0:
		return nil, errors.New("dynamolimits: Options.Interval and Options.Timeout must not be negative")
	}
	if s.opts.Interval == 0 {
		s.opts.Interval = 30 * time.Second
	}
	if s.opts.Timeout == 0 {
		s.opts.Timeout = 30 * time.Second
	}
	var parseFns []func(*limits.ParseOptions)
	if s.opts.Parse != nil {
		parseFns = append(parseFns, s.opts.Parse)
	}
	apply := func(doc []byte) error {
		o, err := limits.ParseOverrides(doc, parseFns...)
		if err != nil {
			return err
		}
		l.SetOverrides(o)
		return nil
	}
	doc, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	if err := apply(doc); err != nil {
		return nil, fmt.Errorf("dynamolimits: table %s: %w", table, err)
	}
	s.w, err = reload.New("dynamodb table "+table, apply, func(o *reload.Options) {
		o.Source, o.Interval, o.Logger, o.Read = SourceName, s.opts.Interval, s.opts.Logger, s.read
		if s.opts.Observer != nil {
			o.Observer = s.opts.Observer
		}
	})
	if err != nil {
		return nil, fmt.Errorf("dynamolimits: %w", err)
	}
	s.w.Prime(doc)
	return s, nil
}

// Check scans the table now and applies a new version, reporting whether
// it did; it returns the error of a version refused.
func (s *Source) Check(ctx context.Context) (bool, error) { return s.w.CheckContext(ctx) }

// Run scans the table every Interval until ctx is done.
func (s *Source) Run(ctx context.Context) { s.w.Run(ctx) }

// Status returns what the last versions did.
func (s *Source) Status() limits.FileStatus {
	st := s.w.Status()
	return limits.FileStatus{Applied: st.Applied, Refused: st.Refused, Err: st.Err}
}

// read scans the table into an overrides document (JSON, which is YAML).
func (s *Source) read(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	tenants := map[string]any{}
	var problems []string
	var start map[string]types.AttributeValue
	for {
		out, err := s.client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(s.table), ExclusiveStartKey: start,
			ConsistentRead: aws.Bool(s.opts.ConsistentRead)})
		if err != nil {
			return nil, fmt.Errorf("dynamolimits: scanning %s: %w", s.table, err)
		}
		for _, item := range out.Items {
			id, ok := item[PartitionKey].(*types.AttributeValueMemberS)
			if !ok {
				problems = append(problems, fmt.Sprintf("an item without a string %s", PartitionKey))
				continue
			}
			values := map[string]any{}
			for name, av := range item {
				if name != PartitionKey {
					values[name] = value(av)
				}
			}
			tenants[id.Value] = values
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	doc, err := json.Marshal(map[string]any{"overrides": tenants})
	if err != nil {
		return nil, fmt.Errorf("dynamolimits: %w", err)
	}
	if len(problems) > 0 {
		// Refused like any invalid version, naming the problem.
		return nil, &limits.ValidationError{Problems: problems}
	}
	return doc, nil
}

// value converts an attribute value to what its JSON would decode to, so
// that the overrides' validation names what is wrong with it.
func value(av types.AttributeValue) any {
	switch v := av.(type) {
	case *types.AttributeValueMemberN:
		return json.Number(v.Value)
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberBOOL:
		return v.Value
	case *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberM:
		m := make(map[string]any, len(v.Value))
		for k, e := range v.Value {
			m[k] = value(e)
		}
		return m
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = value(e)
		}
		return l
	}
	return fmt.Sprintf("%T", av) // a binary or a set: refused as a string
}
