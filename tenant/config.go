// Package tenant holds tenants' delivery configurations: the
// DeliveryConfig type (the DynamoDB item schema), its encoding, the checks
// of its common fields, the ConfigStore interface the dispatcher reads
// through and the Store interface configuration APIs write through.
// Implementations live in subpackages (memstore, filestore, dynamostore);
// storetest is the conformance suite every implementation runs.
//
// # Items
//
// An item has common fields (tenant_id, type, enabled, desired_logs,
// groups, match, target_region, ttl, created_at, updated_at) and the
// settings of its destination kind. The two kinds of the original schema,
// cloudwatch and s3, keep their settings as attributes of the item itself
// (log_group_name, bucket_name, …), exactly as the seed describes them;
// every other kind keeps them in one nested attribute, settings:
//
//	{"tenant_id": "acme", "type": "cloudwatch", "log_group_name": "/acme/logs", …}
//	{"tenant_id": "acme", "type": "loki", "settings": {"url": "https://…", …}}
//
// This package does not know what a kind's settings mean: a kind (see
// package deliver) decodes and validates them, and the deliver.Registry
// validates whole configs (it implements Validator).
package tenant

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The destination kinds of the original item schema, whose settings are
// attributes of the item itself (see HasFlatSettings).
const (
	KindCloudWatch = "cloudwatch"
	KindS3         = "s3"
)

// DeliveryConfig is one delivery destination of a tenant: one item of the
// configuration table (partition key tenant_id, sort key type).
type DeliveryConfig struct {
	TenantID string
	// Type is the destination kind ("cloudwatch", "s3", "loki"),
	// optionally followed by ":name" to give a tenant several destinations
	// of one kind ("s3:archive").
	Type string
	// Enabled is true when absent.
	Enabled *bool
	// DesiredLogs lists application names (case-sensitive) to deliver.
	DesiredLogs []string
	// Groups lists application group names (case-insensitive) to deliver.
	// With DesiredLogs empty too, every application is delivered.
	Groups []string
	// Match selects records by pod labels, namespaces, containers, hosts
	// and applications, in the Logging operator's Flow model (see
	// MatchRule), on top of DesiredLogs and Groups. Empty: every record.
	Match []MatchRule
	// TargetRegion is the destination's region; empty means the processor's.
	TargetRegion string
	// TTL is the Unix time (seconds) after which the config is not used,
	// even before DynamoDB deletes the item. Zero means never.
	TTL int64
	// CreatedAt and UpdatedAt are RFC 3339 timestamps set by stores.
	CreatedAt string
	UpdatedAt string

	// Settings are the kind's own settings as JSON values (string, bool,
	// json.Number, []any, map[string]any), keyed by attribute name. The
	// kind decodes and validates them (deliver.Registry.Settings).
	Settings map[string]any
}

// Common field names, as in items and JSON.
const (
	FieldTenantID     = "tenant_id"
	FieldType         = "type"
	FieldEnabled      = "enabled"
	FieldDesiredLogs  = "desired_logs"
	FieldGroups       = "groups"
	FieldMatch        = "match"
	FieldTargetRegion = "target_region"
	FieldTTL          = "ttl"
	FieldCreatedAt    = "created_at"
	FieldUpdatedAt    = "updated_at"
	// FieldSettings is the nested attribute of the settings of kinds other
	// than cloudwatch and s3.
	FieldSettings = "settings"
)

// CommonFields lists the common fields in item order.
func CommonFields() []string {
	return []string{FieldTenantID, FieldType, FieldEnabled, FieldDesiredLogs, FieldGroups, FieldMatch,
		FieldTargetRegion, FieldTTL, FieldCreatedAt, FieldUpdatedAt}
}

// IsCommonField reports whether name is a common field (settings excluded).
func IsCommonField(name string) bool { return slices.Contains(CommonFields(), name) }

// HasFlatSettings reports whether configs of kind keep their settings as
// attributes of the item itself: the kinds of the original schema,
// cloudwatch and s3. Every other kind nests them under "settings".
func HasFlatSettings(kind string) bool { return kind == KindCloudWatch || kind == KindS3 }

// Kind returns the destination kind: Type up to any ":".
func (c DeliveryConfig) Kind() string {
	kind, _, _ := strings.Cut(c.Type, ":")
	return kind
}

// IsEnabled reports whether the config is enabled (true when unset).
func (c DeliveryConfig) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// Expired reports whether the config's TTL has passed at now.
func (c DeliveryConfig) Expired(now time.Time) bool {
	return c.TTL > 0 && now.Unix() >= c.TTL
}

// Clone returns a deep copy of c.
func (c DeliveryConfig) Clone() DeliveryConfig {
	c.DesiredLogs = slices.Clone(c.DesiredLogs)
	c.Groups = slices.Clone(c.Groups)
	if c.Enabled != nil {
		c.Enabled = Bool(*c.Enabled)
	}
	if c.Match != nil {
		rules := make([]MatchRule, len(c.Match))
		for i, r := range c.Match {
			rules[i] = MatchRule{Select: r.Select.clone(), Exclude: r.Exclude.clone()}
		}
		c.Match = rules
	}
	if c.Settings != nil {
		c.Settings = cloneValue(c.Settings).(map[string]any)
	}
	return c
}

func (m *MatchCriteria) clone() *MatchCriteria {
	if m == nil {
		return nil
	}
	return &MatchCriteria{
		Labels:          maps.Clone(m.Labels),
		NamespaceLabels: maps.Clone(m.NamespaceLabels),
		Namespaces:      slices.Clone(m.Namespaces),
		ContainerNames:  slices.Clone(m.ContainerNames),
		Hosts:           slices.Clone(m.Hosts),
		Applications:    slices.Clone(m.Applications),
	}
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = cloneValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}

// Revision returns a short fingerprint of what the config says about where
// and what to deliver: every field but enabled, ttl and the timestamps. A
// ledger keeps deliveries per revision, so that a changed destination (a
// new log group, other applications) is delivered to again while an
// unchanged one is not, however often the config is saved.
func (c DeliveryConfig) Revision() string {
	obj := c.Object()
	for _, f := range []string{FieldEnabled, FieldTTL, FieldCreatedAt, FieldUpdatedAt} {
		delete(obj, f)
	}
	b, _ := json.Marshal(obj) // keys sorted: a canonical form
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Bool returns a pointer to v, for DeliveryConfig.Enabled.
func Bool(v bool) *bool { return &v }

// Object returns c as an item: a JSON object of its common fields (those
// set) and its settings, flat or nested as its kind keeps them. Values are
// JSON values (strings, bools, json.Number, []any, map[string]any).
func (c DeliveryConfig) Object() map[string]any {
	obj := map[string]any{}
	set := func(name string, v any, ok bool) {
		if ok {
			obj[name] = v
		}
	}
	set(FieldTenantID, c.TenantID, c.TenantID != "")
	set(FieldType, c.Type, c.Type != "")
	if c.Enabled != nil {
		obj[FieldEnabled] = *c.Enabled
	}
	set(FieldDesiredLogs, stringsValue(c.DesiredLogs), len(c.DesiredLogs) > 0)
	set(FieldGroups, stringsValue(c.Groups), len(c.Groups) > 0)
	if len(c.Match) > 0 {
		obj[FieldMatch] = matchValue(c.Match)
	}
	set(FieldTargetRegion, c.TargetRegion, c.TargetRegion != "")
	set(FieldTTL, json.Number(fmt.Sprint(c.TTL)), c.TTL != 0)
	set(FieldCreatedAt, c.CreatedAt, c.CreatedAt != "")
	set(FieldUpdatedAt, c.UpdatedAt, c.UpdatedAt != "")
	if len(c.Settings) > 0 {
		settings := cloneValue(c.Settings).(map[string]any)
		if HasFlatSettings(c.Kind()) {
			for k, v := range settings {
				if _, common := obj[k]; !common && !IsCommonField(k) {
					obj[k] = v
				}
			}
		} else {
			obj[FieldSettings] = settings
		}
	}
	return obj
}

func stringsValue(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func matchValue(rules []MatchRule) []any {
	out := make([]any, len(rules))
	for i, r := range rules {
		// MatchRule marshals with encoding/json; decode it back into JSON
		// values so that every store sees the same value types.
		b, _ := json.Marshal(r)
		var v any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		_ = dec.Decode(&v)
		out[i] = v
	}
	return out
}

// MarshalJSON encodes c as its item (see Object), with keys sorted.
func (c DeliveryConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.Object())
}

// UnmarshalJSON decodes an item (see DecodeObject). A problem with a field
// is a *ValidationError naming it.
func (c *DeliveryConfig) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return err
	}
	if obj == nil {
		return &ValidationError{Problems: []FieldError{{Field: "(item)", Message: "must be a JSON object, not null"}}}
	}
	cfg, err := DecodeObject(obj)
	if err != nil {
		return err
	}
	*c = cfg
	return nil
}

// DecodeObject turns an item, as a JSON object of JSON values (numbers as
// json.Number or float64), into a config. The common fields must have
// their JSON types; every other attribute is a setting: for cloudwatch and
// s3 configs the item's other attributes, for other kinds the members of
// the nested "settings" object. Settings are not checked here (the kind
// does that); misplaced ones are: an attribute other than a common field
// on a kind that nests its settings, or a "settings" attribute on cloudwatch
// or s3. Every problem found is listed in one *ValidationError.
func DecodeObject(obj map[string]any) (DeliveryConfig, error) {
	var c DeliveryConfig
	var v validator
	str := func(name string, dst *string) {
		switch s := obj[name].(type) {
		case nil:
		case string:
			*dst = s
		default:
			v.add(name, "must be a string, not "+jsonType(s))
		}
	}
	list := func(name string, dst *[]string) {
		switch l := obj[name].(type) {
		case nil:
		case []any:
			out := make([]string, 0, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					v.add(fmt.Sprintf("%s[%d]", name, i), "must be a string, not "+jsonType(e))
					continue
				}
				out = append(out, s)
			}
			*dst = out
		default:
			v.add(name, "must be an array of strings, not "+jsonType(l))
		}
	}
	str(FieldTenantID, &c.TenantID)
	str(FieldType, &c.Type)
	switch e := obj[FieldEnabled].(type) {
	case nil:
	case bool:
		c.Enabled = Bool(e)
	default:
		v.add(FieldEnabled, "must be true or false, not "+jsonType(e))
	}
	list(FieldDesiredLogs, &c.DesiredLogs)
	list(FieldGroups, &c.Groups)
	if m, ok := obj[FieldMatch]; ok && m != nil {
		rules, problems := decodeMatch(m)
		c.Match = rules
		v.problems = append(v.problems, problems...)
	}
	str(FieldTargetRegion, &c.TargetRegion)
	if t, ok := obj[FieldTTL]; ok && t != nil {
		n, ok := integer(t)
		if !ok {
			v.add(FieldTTL, "must be an integer (Unix seconds), not "+jsonType(t))
		}
		c.TTL = n
	}
	str(FieldCreatedAt, &c.CreatedAt)
	str(FieldUpdatedAt, &c.UpdatedAt)

	// Where a kind keeps its settings is known only once its type is: with
	// no usable type every other attribute is taken as a setting (the
	// config is invalid anyway, for want of a type).
	flat := HasFlatSettings(c.Kind())
	typed := c.Kind() != "" && typeNamePattern.MatchString(c.Kind())
	settings := map[string]any{}
	for name, val := range obj {
		switch {
		case IsCommonField(name):
		case !typed && name != FieldSettings:
			settings[name] = cloneValue(val)
		case name == FieldSettings && !flat:
			m, ok := val.(map[string]any)
			if !ok && val != nil {
				v.add(FieldSettings, "must be an object, not "+jsonType(val))
				continue
			}
			for k, e := range m {
				settings[k] = cloneValue(e)
			}
		case name == FieldSettings:
			v.add(FieldSettings, fmt.Sprintf("is not a field of %s configs: kind %s keeps its settings as top-level fields", c.Kind(), c.Kind()))
		case flat:
			settings[name] = cloneValue(val)
		default:
			v.add(name, fmt.Sprintf("is not a field of delivery configs; the settings of kind %q go in %q", c.Kind(), FieldSettings))
		}
	}
	if len(settings) > 0 {
		c.Settings = settings
	}
	if len(v.problems) > 0 {
		slices.SortStableFunc(v.problems, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
		return c, v.err(c)
	}
	return c, nil
}

func decodeMatch(m any) ([]MatchRule, []FieldError) {
	l, ok := m.([]any)
	if !ok {
		return nil, []FieldError{{Field: FieldMatch, Message: "must be an array of rules, not " + jsonType(m)}}
	}
	var problems []FieldError
	rules := make([]MatchRule, 0, len(l))
	for i, e := range l {
		b, err := json.Marshal(e)
		if err == nil {
			var r MatchRule
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err = dec.Decode(&r); err == nil {
				rules = append(rules, r)
				continue
			}
		}
		problems = append(problems, FieldError{Field: fmt.Sprintf("match[%d]", i),
			Message: "must be {\"select\": criteria} or {\"exclude\": criteria} with criteria of labels, namespace_labels, namespaces, container_names, hosts, applications: " + strings.TrimPrefix(err.Error(), "json: ")})
	}
	return rules, problems
}

// integer returns v as an int64 when it is a JSON number with an integer
// value.
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		f, err := n.Float64()
		if err == nil && f == float64(int64(f)) {
			return int64(f), true
		}
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	case int64:
		return n, true
	case int:
		return int64(n), true
	}
	return 0, false
}

// jsonType names the JSON type of a decoded value, for messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int, int64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
