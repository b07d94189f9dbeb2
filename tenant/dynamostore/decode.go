package dynamostore

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"

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
// Every attribute that is not a common field is a setting of the kind (see
// tenant.DecodeObject); the kind decides whether it knows it.
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
	obj := make(map[string]any, len(item))
	for name, v := range item {
		val, err := fromAttribute(v)
		if err != nil {
			return tenant.DeliveryConfig{}, fmt.Errorf("attribute %s: %w", name, err)
		}
		obj[name] = val
	}
	return tenant.DecodeObject(obj)
}

// encode turns a config into an item.
func encode(cfg tenant.DeliveryConfig) (map[string]types.AttributeValue, error) {
	obj := cfg.Object()
	item := make(map[string]types.AttributeValue, len(obj))
	for name, v := range obj {
		av, err := toAttribute(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", name, err)
		}
		item[name] = av
	}
	return item, nil
}

// fromAttribute converts an attribute value into a JSON value: S is a
// string, N a json.Number, BOOL a bool, L and the sets lists, M an object,
// NULL nil. Binary values are refused: no setting is binary.
func fromAttribute(av types.AttributeValue) (any, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return v.Value, nil
	case *types.AttributeValueMemberN:
		return json.Number(v.Value), nil
	case *types.AttributeValueMemberBOOL:
		return v.Value, nil
	case *types.AttributeValueMemberNULL:
		return nil, nil
	case *types.AttributeValueMemberSS:
		out := make([]any, len(v.Value))
		for i, s := range v.Value {
			out[i] = s
		}
		return out, nil
	case *types.AttributeValueMemberNS:
		out := make([]any, len(v.Value))
		for i, s := range v.Value {
			out[i] = json.Number(s)
		}
		return out, nil
	case *types.AttributeValueMemberL:
		out := make([]any, len(v.Value))
		for i, e := range v.Value {
			val, err := fromAttribute(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = val
		}
		return out, nil
	case *types.AttributeValueMemberM:
		out := make(map[string]any, len(v.Value))
		for k, e := range v.Value {
			val, err := fromAttribute(e)
			if err != nil {
				return nil, fmt.Errorf(".%s: %w", k, err)
			}
			out[k] = val
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported attribute type %T", av)
}

// toAttribute converts a JSON value into an attribute value.
func toAttribute(v any) (types.AttributeValue, error) {
	switch v := v.(type) {
	case nil:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case string:
		return &types.AttributeValueMemberS{Value: v}, nil
	case bool:
		return &types.AttributeValueMemberBOOL{Value: v}, nil
	case json.Number:
		return &types.AttributeValueMemberN{Value: v.String()}, nil
	case float64:
		return &types.AttributeValueMemberN{Value: strconv.FormatFloat(v, 'g', -1, 64)}, nil
	case int64:
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}, nil
	case int:
		return &types.AttributeValueMemberN{Value: strconv.Itoa(v)}, nil
	case []any:
		l := make([]types.AttributeValue, len(v))
		for i, e := range v {
			av, err := toAttribute(e)
			if err != nil {
				return nil, err
			}
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case map[string]any:
		m := make(map[string]types.AttributeValue, len(v))
		for k, e := range v {
			av, err := toAttribute(e)
			if err != nil {
				return nil, err
			}
			m[k] = av
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
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
