package opensearch_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/opensearch"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/tenant"
)

func problems(t *testing.T, reg *deliver.Registry, settings map[string]any) []string {
	t.Helper()
	err := reg.Validate(tenant.DeliveryConfig{TenantID: "acme", Type: opensearch.KindName, Settings: settings})
	if err == nil {
		return nil
	}
	var ve *tenant.ValidationError
	require.ErrorAs(t, err, &ve)
	var out []string
	for _, p := range ve.Problems {
		out = append(out, p.Field+": "+p.Message)
	}
	return out
}

func TestSettingsValidation(t *testing.T) {
	reg, err := deliver.NewRegistry([]deliver.Kind{opensearch.Kind()})
	require.NoError(t, err)
	for _, ok := range []map[string]any{
		{"url": "https://search.example.com"},
		{"url": "https://search.example.com/insert/elasticsearch/", "index": "k8s_{tenant_id}_%Y.%m", "pipeline": "_none"},
		{"url": "https://search.example.com", "username": "u", "password": "file:acme/pw", "include_host": true, "max_request_bytes": 10 << 20},
		{"url": "https://search-x.eu-west-1.aoss.amazonaws.com", "aws_role_arn": "arn:aws:iam::222222222222:role/os", "aws_service": "aoss"},
		{"url": "https://search.example.com", "headers": map[string]any{"AccountID": "7", "X-Tenant": "acme"}},
	} {
		assert.Empty(t, problems(t, reg, ok), "%v", ok)
	}
	for want, bad := range map[string]map[string]any{
		"settings.url: is required for opensearch destinations":                                                                              {},
		`settings.url: host "10.0.0.5" is a private address (RFC 1918)`:                                                                      {"url": "https://10.0.0.5"},
		`settings.url: host "search.example.com": port 9200 is not allowed (allowed: 443, 8443, 80, 8080)`:                                   {"url": "https://search.example.com:9200"},
		"settings.url: is the cluster's URL, without /_bulk, which the deliverer adds":                                                       {"url": "https://search.example.com/_bulk"},
		"settings.url: must not have a query":                                                                                                {"url": "https://search.example.com/?pipeline=x"},
		"settings.index: must contain {tenant_id}, so that each tenant writes its own indexes":                                               {"url": "https://s.example.com", "index": "logs-globex-%Y"},
		"settings.pipeline: must be 1 to 255 letters, digits, '.', '_' and '-', not starting with '.' or '-'":                                {"url": "https://s.example.com", "pipeline": "a/b"},
		"settings.password: is required with username":                                                                                       {"url": "https://s.example.com", "username": "u"},
		"settings.username: is required with password":                                                                                       {"url": "https://s.example.com", "password": "file:acme/pw"},
		"settings.username: must be 1 to 256 printable ASCII characters without ':' or surrounding spaces":                                   {"url": "https://s.example.com", "username": "a:b", "password": "file:acme/pw"},
		"settings.password: invalid secret reference: reference: must start with \"arn:\" (Secrets Manager or Parameter Store) or \"file:\"": {"url": "https://s.example.com", "username": "u", "password": "hunter2"},
		"settings.aws_role_arn: choose basic authentication (username and password) or SigV4 (aws_role_arn), not both":                       {"url": "https://s.example.com", "username": "u", "password": "file:acme/pw", "aws_role_arn": "arn:aws:iam::222222222222:role/os"},
		`settings.aws_service: must be "es" (OpenSearch Service) or "aoss" (OpenSearch Serverless)`:                                          {"url": "https://s.example.com", "aws_role_arn": "arn:aws:iam::222222222222:role/os", "aws_service": "s3"},
		"settings.aws_service: applies to SigV4 only: set aws_role_arn":                                                                      {"url": "https://s.example.com", "aws_service": "es"},
		"settings.headers.Authorization: is set by the deliverer and cannot be overridden":                                                   {"url": "https://s.example.com", "headers": map[string]any{"Authorization": "Basic x"}},
		"settings.headers.X-Amz-Security-Token: is reserved for SigV4 signing":                                                               {"url": "https://s.example.com", "headers": map[string]any{"X-Amz-Security-Token": "x"}},
		"settings.max_request_bytes: must be from 65536 (64 KiB) to 104857600 (100 MiB)":                                                     {"url": "https://s.example.com", "max_request_bytes": 1000},
	} {
		assert.Contains(t, problems(t, reg, bad), want, "%v", bad)
	}
	assert.NotContains(t, problems(t, reg, map[string]any{"url": "https://s.example.com", "username": "u", "password": "hunter2"})[0], "hunter2",
		"a pasted password is never echoed")

	// A configuration API validates with the processor's policy.
	reg, err = deliver.NewRegistry([]deliver.Kind{opensearch.KindWith(egress.Policy{Ports: []int{443, 9200}})})
	require.NoError(t, err)
	assert.Empty(t, problems(t, reg, map[string]any{"url": "https://search.example.com:9200"}))
}

func TestCheckIdentity(t *testing.T) {
	reg, err := deliver.NewRegistry([]deliver.Kind{opensearch.Kind()})
	require.NoError(t, err)
	cfg := tenant.DeliveryConfig{TenantID: "acme", Type: opensearch.KindName, Settings: map[string]any{
		"url": "https://search.example.com", "aws_role_arn": "arn:aws:iam::333333333333:role/os"}}
	s, err := reg.Settings(cfg)
	require.NoError(t, err)
	err = reg.Bind(cfg, s, tenant.Identity{TenantID: "acme", Accounts: []string{"222222222222"}})
	assert.ErrorContains(t, err, "settings.aws_role_arn: account 333333333333 is not one of tenant \"acme\"'s accounts (222222222222)")
	assert.NoError(t, reg.Bind(cfg, s, tenant.Identity{TenantID: "acme", Accounts: []string{"333333333333"}}))

	cfg.Settings = map[string]any{"url": "https://search.example.com"}
	s, err = reg.Settings(cfg)
	require.NoError(t, err)
	assert.NoError(t, reg.Bind(cfg, s, tenant.Identity{TenantID: "acme", Accounts: []string{"222222222222"}}), "no role, nothing to bind")
}

func TestRecordFields(t *testing.T) {
	s := &opensearch.Settings{IncludeHost: true, IncludeNamespaceLabels: true}
	assert.Equal(t, deliver.FieldHost|deliver.FieldNamespaceLabels, s.RecordFields())
	var _ deliver.RecordFielder = s
	var _ deliver.Bound = s
}
