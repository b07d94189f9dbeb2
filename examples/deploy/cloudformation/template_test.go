package cloudformation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/awslabs/goformation/v7/schema"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/metrics"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// resolved is the template with its parameters at their defaults (and
// CodeBucket, which has none, set), conditions evaluated, Ref, Fn::GetAtt
// and Fn::Sub of resources replaced by placeholders and AWS::NoValue
// removed: what the resource specification's schema can check. Names that
// are neither parameters, pseudo parameters nor resources are reported.
func resolved(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("template.yaml")
	require.NoError(t, err)

	// The resources and parameters, read without resolving anything.
	raw, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	require.NoError(t, err)
	var tmpl struct {
		Parameters map[string]struct {
			Default any `json:"Default"`
		} `json:"Parameters"`
		Resources map[string]json.RawMessage `json:"Resources"`
	}
	require.NoError(t, json.Unmarshal(raw, &tmpl))
	params := map[string]any{"CodeBucket": "artifacts"}
	for name, p := range tmpl.Parameters {
		if p.Default != nil {
			params[name] = p.Default
		}
	}
	pseudo := map[string]any{
		"AWS::AccountId": "111111111111", "AWS::Region": "us-east-1", "AWS::Partition": "aws",
		"AWS::StackName": "logdelivery", "AWS::URLSuffix": "amazonaws.com",
	}

	var unresolved []string
	ref := func(name string) any {
		switch {
		case name == "AWS::NoValue":
			return nil
		case pseudo[name] != nil:
			return pseudo[name]
		case params[name] != nil:
			return params[name]
		case tmpl.Resources[name] != nil:
			return "<" + name + ">"
		}
		unresolved = append(unresolved, name)
		return "<unresolved " + name + ">"
	}
	getAtt := func(resource, attr string) any {
		if tmpl.Resources[resource] == nil {
			unresolved = append(unresolved, resource+"."+attr)
		}
		return "<" + resource + "." + attr + ">"
	}
	variable := regexp.MustCompile(`\$\{([\w:.]+)\}`)
	out, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{
		EvaluateConditions: true,
		ParameterOverrides: map[string]any{"CodeBucket": "artifacts"},
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref": func(_ string, input, _ any) any {
				name, _ := input.(string)
				return ref(name)
			},
			"Fn::GetAtt": func(_ string, input, _ any) any {
				var parts []string
				switch v := input.(type) {
				case string:
					parts = strings.SplitN(v, ".", 2)
				case []any:
					for _, p := range v {
						parts = append(parts, fmt.Sprint(p))
					}
				}
				if len(parts) != 2 {
					unresolved = append(unresolved, fmt.Sprint(input))
					return nil
				}
				return getAtt(parts[0], parts[1])
			},
			"Fn::Sub": func(_ string, input, _ any) any {
				s, ok := input.(string)
				if !ok {
					unresolved = append(unresolved, fmt.Sprintf("Fn::Sub %v: only the string form is used", input))
					return nil
				}
				return variable.ReplaceAllStringFunc(s, func(v string) string {
					name := v[2 : len(v)-1]
					if res, attr, ok := strings.Cut(name, "."); ok {
						return fmt.Sprint(getAtt(res, attr))
					}
					return fmt.Sprint(ref(name))
				})
			},
		},
	})
	require.NoError(t, err)
	require.Empty(t, unresolved, "names that are neither parameters nor resources")
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out, &doc))
	return dropNulls(doc).(map[string]any)
}

// dropNulls removes the values AWS::NoValue left: CloudFormation treats
// such a property as absent.
func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
				continue
			}
			v[k] = dropNulls(e)
		}
	case []any:
		for i, e := range v {
			v[i] = dropNulls(e)
		}
	}
	return v
}

// specification returns the CloudFormation resource specification's JSON
// schema, compiled, reduced to the definitions the template's resource
// types need (the whole of it takes minutes to compile with the race
// detector), and the resource types it knows.
func specification(t *testing.T, types []string) (*jsonschema.Schema, map[string]bool) {
	t.Helper()
	var spec map[string]any
	require.NoError(t, json.Unmarshal([]byte(schema.CloudformationSchema), &spec))
	defs := spec["definitions"].(map[string]any)
	known := map[string]bool{}
	for name := range defs {
		if strings.Contains(name, "::") && !strings.Contains(name, ".") {
			known[name] = true
		}
	}

	// Every definition reachable from the root, with the resources' anyOf
	// over every type narrowed to the template's types.
	var refs []any
	for _, typ := range types {
		if known[typ] {
			refs = append(refs, map[string]any{"$ref": "#/definitions/" + typ})
		}
	}
	resources := spec["properties"].(map[string]any)["Resources"].(map[string]any)
	resources["patternProperties"] = map[string]any{"^[a-zA-Z0-9]+$": map[string]any{"anyOf": refs}}
	keep := map[string]any{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				name, found := strings.CutPrefix(ref, "#/definitions/")
				if found && keep[name] == nil {
					keep[name] = defs[name]
					walk(defs[name])
				}
			}
			for k, e := range v {
				if k != "definitions" {
					walk(e)
				}
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(spec)
	spec["definitions"] = keep
	// The schema names the draft-04 meta-schema as its own id.
	delete(spec, "$id")

	b, err := json.Marshal(spec)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	require.NoError(t, c.AddResource("cloudformation.schema.json", doc))
	sch, err := c.Compile("cloudformation.schema.json")
	require.NoError(t, err)
	return sch, known
}

// validate validates a document against a compiled schema.
func validate(t *testing.T, sch *jsonschema.Schema, doc any) error {
	t.Helper()
	// Through JSON again: the validator takes json.Number for numbers.
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return sch.Validate(inst)
}

// The template against the CloudFormation resource specification: every
// resource type exists, every property is one of its type's, of the right
// type, and every required property is there.
func TestTemplateMatchesTheResourceSpecification(t *testing.T) {
	doc := specified(resolved(t))
	var types []string
	for _, r := range doc["Resources"].(map[string]any) {
		types = append(types, r.(map[string]any)["Type"].(string))
	}
	sch, known := specification(t, types)
	for _, typ := range types {
		assert.True(t, known[typ], "%s is no resource type of the specification", typ)
	}
	if err := validate(t, sch, doc); err != nil {
		t.Fatalf("the template does not match the resource specification:\n%v", err)
	}

	// The check has teeth: a misspelt property is refused, and so is a
	// missing required one.
	bad := specified(resolved(t))
	queue := props(t, bad, "NotificationQueue")
	queue["VisibilityTimeOut"] = queue["VisibilityTimeout"]
	assert.ErrorContains(t, validate(t, sch, bad), "VisibilityTimeOut", "no property of AWS::SQS::Queue")
	bad = specified(resolved(t))
	delete(props(t, bad, "ProcessorFunction"), "Role")
	assert.ErrorContains(t, validate(t, sch, bad), "Role", "a function's role is required")
}

// specified returns the parts of a resolved template the specification's
// schema describes as CloudFormation reads them: parameter attributes are
// strings (CloudFormation takes YAML numbers as their text) and the
// conditions, already applied, are gone.
func specified(doc map[string]any) map[string]any {
	delete(doc, "Conditions")
	for _, p := range doc["Parameters"].(map[string]any) {
		p := p.(map[string]any)
		for k, v := range p {
			if n, ok := v.(float64); ok {
				p[k] = strconv.FormatFloat(n, 'f', -1, 64)
			}
		}
	}
	return doc
}

func resource(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	r, ok := doc["Resources"].(map[string]any)[name].(map[string]any)
	require.True(t, ok, "resource %s", name)
	return r
}

func props(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	return resource(t, doc, name)["Properties"].(map[string]any)
}

// statements returns a policy document's statements by Sid.
func statements(t *testing.T, policy any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, s := range policy.(map[string]any)["Statement"].([]any) {
		st := s.(map[string]any)
		sid, _ := st["Sid"].(string)
		out[sid] = st
	}
	return out
}

func list(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func iamDocument(t *testing.T, name string) any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "iam", name))
	require.NoError(t, err)
	var doc any
	require.NoError(t, json.Unmarshal(data, &doc))
	return doc
}

// inlinePolicy returns the one inline policy of a role.
func inlinePolicy(t *testing.T, doc map[string]any, role string) any {
	t.Helper()
	policies := props(t, doc, role)["Policies"].([]any)
	require.Len(t, policies, 1)
	return policies[0].(map[string]any)["PolicyDocument"]
}

// The roles grant what examples/iam documents, statement by statement.
func TestTemplateRolesAreExamplesIAM(t *testing.T) {
	doc := resolved(t)
	for role, file := range map[string]string{
		"ProcessorRole": "processor-execution-role-policy.json",
		"CentralRole":   "central-log-distribution-role-policy.json",
	} {
		got, want := statements(t, inlinePolicy(t, doc, role)), statements(t, iamDocument(t, file))
		assert.ElementsMatch(t, slices.Collect(maps.Keys(want)), slices.Collect(maps.Keys(got)), "%s: the statements of %s", role, file)
		for sid, w := range want {
			if g, ok := got[sid]; ok {
				assert.ElementsMatch(t, list(w["Action"]), list(g["Action"]), "%s %s", role, sid)
				assert.Equal(t, w["Condition"], g["Condition"], "%s %s", role, sid)
			}
		}
	}
	trust := statements(t, props(t, doc, "CentralRole")["AssumeRolePolicyDocument"])
	for sid, w := range statements(t, iamDocument(t, "central-log-distribution-role-trust.json")) {
		require.Contains(t, trust, sid)
		assert.ElementsMatch(t, list(w["Action"]), list(trust[sid]["Action"]), sid)
	}

	// The default names are those examples/iam grants and trusts.
	processorDoc := statements(t, iamDocument(t, "processor-execution-role-policy.json"))
	centralDoc := statements(t, iamDocument(t, "central-log-distribution-role-policy.json"))
	centralARN := "arn:aws:iam::111111111111:role/" + fmt.Sprint(props(t, doc, "CentralRole")["RoleName"])
	assert.True(t, matchesAny(list(processorDoc["AssumeCentralLogDistributionRole"]["Resource"]), centralARN), centralARN)
	tenantARN := strings.ReplaceAll(list(statements(t, inlinePolicy(t, doc, "CentralRole"))["AssumeTenantRoles"]["Resource"])[0], "*", "222222222222")
	assert.True(t, matchesAny(list(centralDoc["AssumeTenantRoles"]["Resource"]), tenantARN), tenantARN)
	trustDoc := statements(t, iamDocument(t, "central-log-distribution-role-trust.json"))["ProcessorMayAssume"]
	assert.Equal(t, "arn:aws:iam::111111111111:role/"+fmt.Sprint(props(t, doc, "ProcessorRole")["RoleName"]),
		trustDoc["Principal"].(map[string]any)["AWS"])
}

func matchesAny(patterns []string, arn string) bool {
	for _, p := range patterns {
		re := "^" + strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, ".*") + "$"
		if regexp.MustCompile(re).MatchString(arn) {
			return true
		}
	}
	return false
}

// The tables, queue and function are what the library expects.
func TestTemplateResources(t *testing.T) {
	doc := resolved(t)

	configs := props(t, doc, "ConfigTable")
	assert.Equal(t, []any{
		map[string]any{"AttributeName": dynamostore.PartitionKey, "KeyType": "HASH"},
		map[string]any{"AttributeName": dynamostore.SortKey, "KeyType": "RANGE"},
	}, configs["KeySchema"], "the seed's schema, as dynamostore reads it")
	assert.Equal(t, map[string]any{"AttributeName": "ttl", "Enabled": true}, configs["TimeToLiveSpecification"])
	assert.Equal(t, []any{map[string]any{"AttributeName": dynamostore.PartitionKey, "KeyType": "HASH"}},
		props(t, doc, "IdentityTable")["KeySchema"])

	fn := props(t, doc, "ProcessorFunction")
	queue := props(t, doc, "NotificationQueue")
	assert.GreaterOrEqual(t, queue["VisibilityTimeout"].(float64), 6*fn["Timeout"].(float64),
		"the queue's visibility timeout is at least 6 times the function's timeout")
	assert.Equal(t, "<DeadLetterQueue.Arn>", queue["RedrivePolicy"].(map[string]any)["deadLetterTargetArn"])
	assert.Equal(t, []any{"ReportBatchItemFailures"}, props(t, doc, "QueueEventSource")["FunctionResponseTypes"],
		"without it Lambda retries or deletes whole batches")
	env := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
	for _, v := range []string{"TENANT_CONFIG_TABLE", "TENANT_IDENTITY_TABLE", "CENTRAL_LOG_DISTRIBUTION_ROLE_ARN"} {
		assert.NotEmpty(t, env[v], v)
	}
	notification := props(t, doc, "CentralBucket")["NotificationConfiguration"].(map[string]any)
	assert.Equal(t, []any{map[string]any{"Event": "s3:ObjectCreated:*", "Topic": "<ObjectCreatedTopic>"}}, notification["TopicConfigurations"])
}

// emittedEMF returns the names of the metrics metrics.EMF writes.
func emittedEMF(t *testing.T) map[string]bool {
	var buf bytes.Buffer
	e := metrics.NewEMF(&buf)
	now := time.Now()
	for _, r := range []logdelivery.Result{
		{Key: keyparse.Key{Tenant: "acme"}, Destination: "s3", Outcome: logdelivery.Delivered,
			Object: logdelivery.Object{Time: now.Add(-time.Minute)}, Started: now, Duration: time.Second},
	} {
		e.ObserveResult(context.Background(), r)
	}
	require.NoError(t, e.Flush())
	var doc struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace string
				Metrics   []struct{ Name string }
			}
		} `json:"_aws"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	names := map[string]bool{}
	for _, d := range doc.AWS.CloudWatchMetrics {
		require.Equal(t, "LogDelivery", d.Namespace)
		for _, m := range d.Metrics {
			names[m.Name] = true
		}
	}
	return names
}

// Every alarm on the function's own metrics watches a metric package
// metrics writes, in the dimension set it writes.
func TestAlarmsWatchEmittedMetrics(t *testing.T) {
	doc := resolved(t)
	emitted := emittedEMF(t)
	alarms := 0
	for name, r := range doc["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] != "AWS::CloudWatch::Alarm" {
			continue
		}
		alarms++
		p := res["Properties"].(map[string]any)
		queries, _ := p["Metrics"].([]any)
		returned := 0
		for _, q := range queries {
			q := q.(map[string]any)
			if q["ReturnData"] == true {
				returned++
			}
			stat, ok := q["MetricStat"].(map[string]any)
			if !ok {
				continue
			}
			m := stat["Metric"].(map[string]any)
			if m["Namespace"] != "LogDelivery" {
				continue
			}
			assert.True(t, emitted[m["MetricName"].(string)], "%s watches %v, which metrics.EMF does not write", name, m["MetricName"])
			for _, d := range m["Dimensions"].([]any) {
				d := d.(map[string]any)
				assert.Equal(t, "DeliveryType", d["Name"], "%s: EMF writes the {DeliveryType} dimension set", name)
				assert.Contains(t, []string{"cloudwatch", "s3"}, d["Value"], "%s: a kind metrics.EMF counts by its name", name)
			}
		}
		if queries != nil {
			assert.Equal(t, 1, returned, "%s: one expression is the alarm's", name)
		}
	}
	assert.GreaterOrEqual(t, alarms, 5)
}
