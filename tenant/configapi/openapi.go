package configapi

import (
	"encoding"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/tenant"
)

// obj is a JSON object of the OpenAPI document.
type obj = map[string]any

// openAPIDocument builds the OpenAPI 3.1 document of the routes, the same
// table New registers on its ServeMux.
func openAPIDocument(rts []route, kinds *deliver.Registry, opts Options) obj {
	paths := obj{}
	for _, rt := range rts {
		item, _ := paths[rt.path].(obj)
		if item == nil {
			item = obj{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = operation(rt, opts)
	}
	return obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":   "logdelivery tenant configuration API",
			"version": "1",
			"description": "Create, change and inspect tenants' log delivery configurations. " +
				"Every endpoint except /healthz and /openapi.json needs a request signed with the " + Scheme + " scheme " +
				"(see the ldHmac security scheme). Errors are RFC 9457 problem documents.",
		},
		"security": []any{obj{"ldHmac": []any{}}},
		"paths":    paths,
		"components": obj{
			"securitySchemes": obj{
				"ldHmac": obj{
					"type":        "apiKey",
					"in":          "header",
					"name":        "Authorization",
					"description": SigningDescription(),
				},
			},
			"schemas": schemas(kinds),
		},
	}
}

var pathParamPattern = regexp.MustCompile(`\{([a-z_]+)\}`)

func operation(rt route, opts Options) obj {
	op := obj{"operationId": rt.opID, "summary": rt.sum}
	if rt.desc != "" {
		op["description"] = rt.desc
	}
	if rt.public {
		op["security"] = []any{}
	}
	var params []any
	for _, m := range pathParamPattern.FindAllStringSubmatch(rt.path, -1) {
		p := obj{"name": m[1], "in": "path", "required": true, "schema": obj{"type": "string"}}
		switch m[1] {
		case "tenant_id":
			p["description"] = "The tenant's id."
			p["schema"] = obj{"type": "string", "maxLength": 128, "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"}
		case "type":
			p["description"] = "The config's type: a kind such as cloudwatch or s3, optionally followed by :name."
		}
		params = append(params, p)
	}
	for _, q := range rt.query {
		params = append(params, obj{"name": q.name, "in": "query", "description": q.desc, "schema": q.schema})
	}
	if rt.ifMatch {
		params = append(params, obj{
			"name": "If-Match", "in": "header", "required": opts.RequireIfMatch,
			"description": "The ETag of the config as last read; the request fails with 412 when it changed since.",
			"schema":      obj{"type": "string"},
		})
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.bodyType != "" {
		op["requestBody"] = obj{
			"required": true,
			"content":  obj{rt.bodyType: obj{"schema": ref(rt.bodySchema)}},
		}
	}
	responses := obj{}
	for _, r := range rt.responses {
		resp := obj{"description": r.desc}
		if r.schema != "" {
			resp["content"] = obj{mediaJSON: obj{"schema": ref(r.schema)}}
		}
		if r.etag {
			resp["headers"] = obj{"ETag": obj{"description": "The version of the config, for If-Match.", "schema": obj{"type": "string"}}}
		}
		responses[strconv.Itoa(r.status)] = resp
	}
	for _, status := range problemStatuses(rt, opts) {
		responses[strconv.Itoa(status)] = obj{
			"description": http.StatusText(status),
			"content":     obj{mediaProblem: obj{"schema": ref("Problem")}},
		}
	}
	op["responses"] = responses
	return op
}

// problemStatuses lists the error statuses a route can answer with.
func problemStatuses(rt route, opts Options) []int {
	if rt.public {
		return nil
	}
	st := []int{400, 401, 403, 429, 500, 503}
	if rt.bodyType != "" {
		st = append(st, 413, 415, 422)
	}
	if rt.ifMatch {
		st = append(st, 412)
		if opts.RequireIfMatch {
			st = append(st, 428)
		}
	}
	st = append(st, rt.problems...)
	slices.Sort(st)
	return slices.Compact(st)
}

func ref(schema string) obj { return obj{"$ref": "#/components/schemas/" + schema} }

// commonDocs describes the common fields of delivery configs.
var commonDocs = map[string]string{
	tenant.FieldTenantID:     "The tenant's id; must match the path.",
	tenant.FieldType:         "Destination kind optionally followed by :name, e.g. s3:archive; must match the path.",
	tenant.FieldEnabled:      "Absent means true.",
	tenant.FieldDesiredLogs:  "Application names (case-sensitive) to deliver.",
	tenant.FieldGroups:       "Application group names (case-insensitive) to deliver. With desired_logs empty too, every application is delivered.",
	tenant.FieldMatch:        "Flow-style rules selecting records by pod labels, namespace labels, namespaces, container names, hosts and applications: the first rule whose criteria all hold decides (select or exclude); with rules and none holding, the record is not delivered; no rules: every record. Applies on top of desired_logs and groups.",
	tenant.FieldTargetRegion: "The destination's region; empty means the processor's.",
	tenant.FieldTTL:          "Unix time (seconds) after which the config is not used; 0 means never.",
	tenant.FieldCreatedAt:    "Set by the server (RFC 3339); values sent are ignored.",
	tenant.FieldUpdatedAt:    "Set by the server (RFC 3339) on every write; values sent are ignored.",
}

// commonProperties returns the schemas of the common fields.
func commonProperties(kinds *deliver.Registry, nullable bool) obj {
	str := func() obj { return obj{"type": "string"} }
	strs := func() obj { return obj{"type": "array", "items": obj{"type": "string"}} }
	props := obj{
		tenant.FieldTenantID:     obj{"type": "string", "maxLength": 128, "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"},
		tenant.FieldType:         str(),
		tenant.FieldEnabled:      obj{"type": "boolean"},
		tenant.FieldDesiredLogs:  strs(),
		tenant.FieldGroups:       strs(),
		tenant.FieldMatch:        obj{"type": "array", "maxItems": tenant.MaxMatchRules, "items": ref("MatchRule")},
		tenant.FieldTargetRegion: str(),
		tenant.FieldTTL:          obj{"type": "integer", "format": "int64"},
		tenant.FieldCreatedAt:    obj{"type": "string", "readOnly": true},
		tenant.FieldUpdatedAt:    obj{"type": "string", "readOnly": true},
	}
	for name, p := range props {
		p := p.(obj)
		p["description"] = commonDocs[name]
		if name == tenant.FieldGroups {
			p["description"] = commonDocs[name] + " Known groups: " + strings.Join(kinds.Groups().Names(), ", ") + "."
		}
		if nullable {
			p["type"] = []any{p["type"], "null"}
		}
	}
	return props
}

// kindSchema returns the schema of the configs of one kind: the common
// fields and the kind's settings, top-level for cloudwatch and s3, under
// settings for the others.
func kindSchema(kinds *deliver.Registry, k deliver.Kind) obj {
	props := commonProperties(kinds, false)
	props[tenant.FieldType] = obj{
		"type":        "string",
		"pattern":     "^" + regexp.QuoteMeta(k.Name) + "(:[a-z0-9][a-z0-9._-]*)?$",
		"description": fmt.Sprintf("%q, optionally followed by :name; must match the path.", k.Name),
	}
	settings, required := settingsProperties(kinds.Fields(k.Name))
	if tenant.HasFlatSettings(k.Name) {
		maps.Copy(props, settings)
		return obj{"type": "object", "description": k.Summary, "additionalProperties": false,
			"required": append([]any{tenant.FieldType}, required...), "properties": props}
	}
	nested := obj{"type": "object", "additionalProperties": false, "properties": settings,
		"description": "The settings of " + k.Name + " destinations."}
	if len(required) > 0 {
		nested["required"] = required
	}
	props[tenant.FieldSettings] = nested
	req := []any{tenant.FieldType}
	if len(required) > 0 {
		req = append(req, tenant.FieldSettings)
	}
	return obj{"type": "object", "description": k.Summary, "additionalProperties": false, "required": req, "properties": props}
}

// settingsProperties returns the schemas of a kind's settings and the names
// of the required ones.
func settingsProperties(fields []deliver.FieldDoc) (obj, []any) {
	props := obj{}
	var required []any
	for _, f := range fields {
		p := typeSchema(f.Type)
		if f.Doc != "" {
			p["description"] = f.Doc
		}
		props[f.Name] = p
		if f.Required {
			required = append(required, f.Name)
		}
	}
	return props, required
}

// typeSchema returns the JSON schema of a settings field's Go type. Types
// that decode from text (a credentials.SecretRef) are strings.
func typeSchema(t reflect.Type) obj {
	if t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return obj{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeSchema(t.Elem())
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.Slice, reflect.Array:
		return obj{"type": "array", "items": typeSchema(t.Elem())}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": typeSchema(t.Elem())}
	case reflect.Struct:
		if t == reflect.TypeFor[time.Duration]() {
			return obj{"type": "integer"}
		}
		props := obj{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			p := typeSchema(f.Type)
			if d := f.Tag.Get("doc"); d != "" {
				p["description"] = d
			}
			props[name] = p
		}
		return obj{"type": "object", "additionalProperties": false, "properties": props}
	}
	return obj{}
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func matchRuleSchema() obj {
	strs := func(desc string) obj {
		return obj{"type": "array", "items": obj{"type": "string"}, "description": desc}
	}
	labels := func(desc string) obj {
		return obj{"type": "object", "additionalProperties": obj{"type": "string"}, "description": desc}
	}
	criteria := obj{
		"type":                 "object",
		"additionalProperties": false,
		"description":          "Every criterion given must hold; a list holds when one entry equals the record's value; labels hold when the record has each listed label with that value. {} holds for every record.",
		"properties": obj{
			"labels":           labels("Pod labels (kubernetes.pod_labels)."),
			"namespace_labels": labels("Labels of the pod's namespace (kubernetes.namespace_labels)."),
			"namespaces":       strs("Kubernetes namespaces."),
			"container_names":  strs("Container names."),
			"hosts":            strs("Node names (kubernetes.pod_node_name)."),
			"applications":     strs("Application names."),
		},
	}
	return obj{
		"type":                 "object",
		"additionalProperties": false,
		"description":          "One rule: exactly one of select and exclude.",
		"properties":           obj{"select": criteria, "exclude": criteria},
		"oneOf":                []any{obj{"required": []any{"select"}}, obj{"required": []any{"exclude"}}},
	}
}

func schemas(kinds *deliver.Registry) obj {
	var oneOf []any
	out := obj{}
	for _, name := range kinds.Names() {
		k, _ := kinds.Kind(name)
		schema := "DeliveryConfig_" + strings.NewReplacer(".", "_", "-", "_").Replace(name)
		out[schema] = kindSchema(kinds, k)
		oneOf = append(oneOf, ref(schema))
	}
	patchProps := commonProperties(kinds, true)
	patchProps[tenant.FieldSettings] = obj{"type": []any{"object", "null"}, "description": "The settings of kinds other than cloudwatch and s3, merged member by member."}
	str := obj{"type": "string"}
	maps.Copy(out, obj{
		"DeliveryConfig": obj{
			"description": "A tenant's delivery destination: one schema per destination kind, told apart by type. POST bodies must carry type.",
			"oneOf":       oneOf,
		},
		"DeliveryConfigPatch": obj{
			"type":                 "object",
			"description":          "An RFC 7396 JSON Merge Patch of a delivery config: null removes a field. The settings of cloudwatch and s3 are top-level fields (see their schemas); other kinds' are under settings. The result must be a valid config of its kind.",
			"properties":           patchProps,
			"additionalProperties": true,
		},
		"MatchRule": matchRuleSchema(),
		"TenantConfigs": obj{
			"type":     "object",
			"required": []any{"tenant_id", "items"},
			"properties": obj{
				"tenant_id":     str,
				"items":         obj{"type": "array", "items": ref("DeliveryConfig")},
				"invalid_items": ref("InvalidItems"),
			},
		},
		"ConfigPage": obj{
			"type":     "object",
			"required": []any{"items"},
			"properties": obj{
				"items":         obj{"type": "array", "items": ref("DeliveryConfig")},
				"next_cursor":   obj{"type": "string", "description": "Absent after the last page."},
				"invalid_items": ref("InvalidItems"),
			},
		},
		"InvalidItems": obj{
			"description": "Stored items that cannot be used: undecodable, or invalid (message lists the problems).",
			"type":        "array",
			"items": obj{
				"type":       "object",
				"required":   []any{"tenant_id", "type", "message"},
				"properties": obj{"tenant_id": str, "type": str, "message": str},
			},
		},
		"ValidationReport": obj{
			"type":     "object",
			"required": []any{"tenant_id", "type", "valid", "active", "checks"},
			"properties": obj{
				"tenant_id": str,
				"type":      str,
				"valid":     obj{"type": "boolean", "description": "No check failed."},
				"active":    obj{"type": "boolean", "description": "Valid, enabled and unexpired: the processor delivers with it."},
				"checks": obj{"type": "array", "items": obj{
					"type":     "object",
					"required": []any{"name", "outcome", "message"},
					"properties": obj{
						"name":    str,
						"outcome": obj{"type": "string", "enum": []any{OutcomePass, OutcomeFail, OutcomeWarn}},
						"message": str,
					},
				}},
			},
		},
		"Problem": obj{
			"type":        "object",
			"description": "RFC 9457 problem details.",
			"required":    []any{"type", "title", "status"},
			"properties": obj{
				"type":     obj{"type": "string", "format": "uri", "description": "\"" + ProblemTypePrefix + "\" followed by a stable problem kind."},
				"title":    str,
				"status":   obj{"type": "integer"},
				"detail":   str,
				"instance": str,
				"errors": obj{
					"description": "Every invalid field (422) or parameter (400).",
					"type":        "array",
					"items": obj{
						"type":       "object",
						"required":   []any{"field", "message"},
						"properties": obj{"field": str, "message": str},
					},
				},
			},
		},
		"Health":  obj{"type": "object", "properties": obj{"status": str}},
		"OpenAPI": obj{"type": "object"},
	})
	return out
}
