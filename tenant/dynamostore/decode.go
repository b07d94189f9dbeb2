package dynamostore

import (
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/logdelivery/logdelivery/tenant"
)

// decode turns an item into a config, tolerating the ways other writers
// store the seed schema's attributes:
//
//   - enabled as a string ("true", "false", "1", "0", any case) or a number
//     (0 is false);
//   - ttl as a string of digits, or a number with a fraction (truncated);
//   - desired_logs and groups as string sets, or as one string;
//   - created_at and updated_at as epoch seconds (written back as RFC 3339);
//   - NULL for any attribute, meaning absent.
//
// Attributes the schema does not know are ignored.
func decode(item map[string]types.AttributeValue) (tenant.DeliveryConfig, error) {
	item = maps.Clone(item)
	for name, v := range item {
		if _, null := v.(*types.AttributeValueMemberNULL); null {
			delete(item, name)
		}
	}
	if err := normalise(item); err != nil {
		return tenant.DeliveryConfig{}, err
	}
	var c tenant.DeliveryConfig
	if err := attributevalue.UnmarshalMap(item, &c); err != nil {
		return tenant.DeliveryConfig{}, fmt.Errorf("decode item: %w", err)
	}
	return c, nil
}

func normalise(item map[string]types.AttributeValue) error {
	switch v := item["enabled"].(type) {
	case *types.AttributeValueMemberS:
		b, err := strconv.ParseBool(strings.TrimSpace(v.Value))
		if err != nil {
			return fmt.Errorf("enabled: %q is not a boolean", v.Value)
		}
		item["enabled"] = &types.AttributeValueMemberBOOL{Value: b}
	case *types.AttributeValueMemberN:
		f, err := strconv.ParseFloat(v.Value, 64)
		if err != nil {
			return fmt.Errorf("enabled: %q is not a number", v.Value)
		}
		item["enabled"] = &types.AttributeValueMemberBOOL{Value: f != 0}
	}

	switch v := item["ttl"].(type) {
	case *types.AttributeValueMemberS:
		if strings.TrimSpace(v.Value) == "" {
			delete(item, "ttl")
			break
		}
		n, err := epoch(strings.TrimSpace(v.Value))
		if err != nil {
			return fmt.Errorf("ttl: %w", err)
		}
		item["ttl"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
	case *types.AttributeValueMemberN:
		n, err := epoch(v.Value)
		if err != nil {
			return fmt.Errorf("ttl: %w", err)
		}
		item["ttl"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
	}

	for _, name := range []string{"desired_logs", "groups"} {
		switch v := item[name].(type) {
		case *types.AttributeValueMemberSS:
			list := make([]types.AttributeValue, len(v.Value))
			for i, s := range v.Value {
				list[i] = &types.AttributeValueMemberS{Value: s}
			}
			item[name] = &types.AttributeValueMemberL{Value: list}
		case *types.AttributeValueMemberS:
			if strings.TrimSpace(v.Value) == "" {
				delete(item, name)
				break
			}
			item[name] = &types.AttributeValueMemberL{Value: []types.AttributeValue{v}}
		}
	}

	for _, name := range []string{"created_at", "updated_at"} {
		if v, ok := item[name].(*types.AttributeValueMemberN); ok {
			n, err := epoch(v.Value)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			item[name] = &types.AttributeValueMemberS{Value: time.Unix(n, 0).UTC().Format(time.RFC3339)}
		}
	}
	return nil
}

// epoch parses Unix seconds written as an integer or a decimal number.
func epoch(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64 || f < math.MinInt64 {
		return 0, fmt.Errorf("%q is not a Unix time in seconds", s)
	}
	return int64(f), nil
}
