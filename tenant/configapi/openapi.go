package configapi

import (
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/logdelivery/logdelivery/tenant"
)

// obj is a JSON object of the OpenAPI document.
type obj = map[string]any

// openAPIDocument builds the OpenAPI 3.1 document of the routes, the same
// table New registers on its ServeMux.
func openAPIDocument(rts []route, opts Options) obj {
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
					"type": "apiKey",
					"in":   "header",
					"name": "Authorization",
					"description": "Authorization: " + Scheme + " KeyId=<key id>, Signature=<hex HMAC-SHA256>, with headers " +
						HeaderDate + " (RFC 3339 UTC, within 5 minutes of the server's clock) and " + HeaderNonce +
						" (16-128 characters of [A-Za-z0-9_-], never reused). The signature is HMAC-SHA256 with the key's secret over " +
						"the lines \"" + Scheme + "\", method, canonical path, canonical query, " + HeaderDate + ", " + HeaderNonce +
						" and the hex SHA-256 of the body, joined by \\n. Canonical path: each segment percent-decoded and re-encoded " +
						"keeping only A-Z a-z 0-9 - . _ ~ (upper-case hex). Canonical query: parameters sorted by name then value, " +
						"both encoded the same way, as name=value joined by &.",
				},
			},
			"schemas": schemas(),
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
	st := []int{400, 401, 403, 500, 503}
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

// fieldDocs describes the fields of tenant.DeliveryConfig.
var fieldDocs = map[string]string{
	"tenant_id":                 "The tenant's id; must match the path.",
	"type":                      "Destination kind (cloudwatch, s3) optionally followed by :name, e.g. s3:archive; must match the path.",
	"enabled":                   "Absent means true.",
	"desired_logs":              "Application names (case-sensitive) to deliver.",
	"groups":                    "Application group names (case-insensitive) to deliver. With desired_logs empty too, every application is delivered.",
	"target_region":             "The destination's region; empty means the processor's.",
	"ttl":                       "Unix time (seconds) after which the config is not used; 0 means never.",
	"created_at":                "Set by the server (RFC 3339); values sent are ignored.",
	"updated_at":                "Set by the server (RFC 3339) on every write; values sent are ignored.",
	"log_distribution_role_arn": "CloudWatch: the tenant's role the processor assumes.",
	"log_group_name":            "CloudWatch: the tenant's log group.",
	"bucket_name":               "S3: the tenant's bucket.",
	"bucket_prefix":             "S3: key prefix; default " + tenant.DefaultBucketPrefix,
	"bucket_owner":              "S3: the bucket's expected owner account id.",
	"kms_key_id":                "S3: KMS key for SSE-KMS.",
	"external_id":               "ExternalId presented to the tenant's role; empty means the central account id.",
}

// configSchema returns the schema of tenant.DeliveryConfig, derived from
// the struct so that it lists exactly the fields the API decodes. With
// nullable, every property may also be null (merge patches).
func configSchema(nullable bool) obj {
	props := obj{}
	t := reflect.TypeFor[tenant.DeliveryConfig]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		var p obj
		switch ft.Kind() {
		case reflect.Bool:
			p = obj{"type": "boolean"}
		case reflect.Int64:
			p = obj{"type": "integer", "format": "int64"}
		case reflect.Slice:
			p = obj{"type": "array", "items": obj{"type": "string"}}
		default:
			p = obj{"type": "string"}
		}
		if nullable {
			p["type"] = []any{p["type"], "null"}
		}
		if d := fieldDocs[name]; d != "" {
			p["description"] = d
		}
		if name == "created_at" || name == "updated_at" {
			p["readOnly"] = true
		}
		props[name] = p
	}
	return obj{"type": "object", "additionalProperties": false, "properties": props}
}

func schemas() obj {
	patch := configSchema(true)
	patch["description"] = "An RFC 7396 JSON Merge Patch of a delivery config: null removes a field."
	config := configSchema(false)
	config["description"] = "A tenant's delivery destination. POST bodies must carry type."
	str := obj{"type": "string"}
	return obj{
		"DeliveryConfig":      config,
		"DeliveryConfigPatch": patch,
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
	}
}
