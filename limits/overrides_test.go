package limits_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/limits"
)

const example = `
defaults:
  events_per_second: 1000
  kinds:
    cloudwatch:
      bytes_per_second: 1048576
overrides:
  acme:
    events_per_second: 5000
    events_burst: 10000
    max_concurrent_deliveries: 4
    kinds:
      cloudwatch:
        events_per_second: 800
  # A tenant no store knows (yet) is fine: overrides may come first.
  not-onboarded-yet:
    bytes_per_second: 1
  quiet:
`

func TestOverridesResolve(t *testing.T) {
	o, err := limits.ParseOverrides([]byte(example))
	require.NoError(t, err)
	base := limits.Limits{EventsPerSecond: 1, BytesBurst: 7, MaxConcurrentDeliveries: 9}
	assert.Equal(t, limits.Limits{EventsPerSecond: 800, EventsBurst: 10000, BytesPerSecond: 1048576, BytesBurst: 7, MaxConcurrentDeliveries: 4},
		o.Limits(base, "acme", "cloudwatch"), "the tenant's kind, the tenant, the defaults' kind, the defaults, the base")
	assert.Equal(t, limits.Limits{EventsPerSecond: 5000, EventsBurst: 10000, BytesBurst: 7, MaxConcurrentDeliveries: 4},
		o.Limits(base, "acme", "s3"))
	assert.Equal(t, limits.Limits{EventsPerSecond: 1000, BytesBurst: 7, MaxConcurrentDeliveries: 9},
		o.Limits(base, "quiet", "s3"), "a tenant with an empty entry gets the defaults")
	assert.Equal(t, limits.Limits{EventsPerSecond: 1000, BytesBurst: 7, MaxConcurrentDeliveries: 9},
		o.Limits(base, "unlisted", "s3"))
	assert.Equal(t, []string{"acme", "not-onboarded-yet", "quiet"}, o.Tenants())

	var none *limits.Overrides
	assert.Equal(t, base, none.Limits(base, "acme", "s3"))
	for _, doc := range []string{"", "# nothing\n", "null", "overrides:\n", "{}"} {
		o, err := limits.ParseOverrides([]byte(doc))
		require.NoError(t, err, "%q", doc)
		assert.Equal(t, base, o.Limits(base, "acme", "s3"), "%q overrides nothing", doc)
	}
	o, err = limits.ParseOverrides([]byte(`{"overrides": {"acme": {"events_per_second": 2.5}}}`))
	require.NoError(t, err, "JSON is YAML")
	assert.Equal(t, 2.5, o.Limits(base, "acme", "s3").EventsPerSecond)
	o, err = limits.ParseOverrides([]byte("overrides: {acme: {events_per_second: 0}}"))
	require.NoError(t, err)
	assert.Zero(t, o.Limits(base, "acme", "s3").EventsPerSecond, "0 lifts a default: unlimited")
}

func TestOverridesRules(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
		kinds           []string
	}{
		{"syntax", "overrides: [", "not valid YAML", nil},
		{"duplicate keys", "overrides:\n  acme:\n    events_per_second: 1\n    events_per_second: 2\n", "not valid YAML", nil},
		{"duplicate tenants", "overrides:\n  acme: {}\n  acme: {}\n", "not valid YAML", nil},
		{"document not a mapping", "- acme", "want a mapping with overrides", nil},
		{"unknown top-level key", "limits_config: {}", `limits_config: unknown key: want defaults or overrides`, nil},
		{"overrides not a mapping", "overrides: [acme]", "overrides: want a mapping, got a list", nil},
		{"tenant not a mapping", "overrides: {acme: 5}", "overrides.acme: want a mapping, got a number (5)", nil},
		{"unknown limit", "overrides: {acme: {ingestion_rate_mb: 5}}", "overrides.acme.ingestion_rate_mb: unknown limit; known: events_per_second, events_burst, bytes_per_second, bytes_burst, max_concurrent_deliveries", nil},
		{"unknown limit in defaults", "defaults: {rate: 5}", "defaults.rate: unknown limit", nil},
		{"string value", `overrides: {acme: {events_per_second: "5"}}`, `overrides.acme.events_per_second: want a number, got a string ("5")`, nil},
		{"unit string", `overrides: {acme: {bytes_per_second: 10MB}}`, `want a number, got a string ("10MB")`, nil},
		{"boolean value", `overrides: {acme: {events_per_second: true}}`, `want a number, got a boolean (true)`, nil},
		{"null value", `overrides: {acme: {events_per_second: null}}`, `want a number, got nothing (null)`, nil},
		{"negative", "overrides: {acme: {events_per_second: -1}}", "overrides.acme.events_per_second: must not be negative (got -1)", nil},
		{"fractional count", "overrides: {acme: {max_concurrent_deliveries: 1.5}}", "must be a whole number (got 1.5)", nil},
		{"fractional burst", "overrides: {acme: {events_burst: 0.5}}", "overrides.acme.events_burst: must be a whole number", nil},
		{"too large", "overrides: {acme: {bytes_burst: 1e300}}", "must be at most 9007199254740992", nil},
		{"not finite", "overrides: {acme: {events_per_second: .inf}}", "not valid YAML", nil},
		{"empty tenant key", `overrides: {"": {}}`, `overrides."": not a tenant id: empty`, nil},
		{"slash in tenant key", `overrides: {"a/b": {}}`, `overrides."a/b": not a tenant id: contains '/'`, nil},
		{"dot tenant key", `overrides: {"..": {}}`, `not a tenant id: a dot segment`, nil},
		{"control character", "overrides: {\"a\\tb\": {}}", `not a tenant id: contains control characters`, nil},
		{"kinds not a mapping", "overrides: {acme: {kinds: [s3]}}", "overrides.acme.kinds: want a mapping, got a list", nil},
		{"bad kind name", "overrides: {acme: {kinds: {S3: {}}}}", "overrides.acme.kinds.S3: not a destination kind name", nil},
		{"unknown kind", "overrides: {acme: {kinds: {kafka: {}}}}", "overrides.acme.kinds.kafka: unknown destination kind; known: cloudwatch, s3", []string{"cloudwatch", "s3"}},
		{"nested kinds", "overrides: {acme: {kinds: {s3: {kinds: {}}}}}", "overrides.acme.kinds.s3.kinds: kinds do not nest", nil},
		{"unknown limit of a kind", "overrides: {acme: {kinds: {s3: {qps: 1}}}}", "overrides.acme.kinds.s3.qps: unknown limit", nil},
		{"bad value of a kind", "defaults: {kinds: {s3: {bytes_per_second: -5}}}", "defaults.kinds.s3.bytes_per_second: must not be negative", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := limits.ParseOverrides([]byte(tc.doc), func(po *limits.ParseOptions) { po.Kinds = tc.kinds })
			assert.Nil(t, o)
			var ve *limits.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Len(t, ve.Problems, 1, "%v", ve.Problems)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestOverridesEveryProblemAtOnce(t *testing.T) {
	doc := `
defaults:
  events_per_second: -1
overrides:
  acme:
    events_per_second: fast
    burst: 10
    kinds:
      cloudwatch:
        max_concurrent_deliveries: 0.5
  globex:
    bytes_per_second: -3
  good:
    events_per_second: 10
extra: 1
`
	_, err := limits.ParseOverrides([]byte(doc))
	var ve *limits.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, []string{
		"defaults.events_per_second: must not be negative (got -1)",
		"extra: unknown key: want defaults or overrides",
		"overrides.acme.burst: unknown limit; known: events_per_second, events_burst, bytes_per_second, bytes_burst, max_concurrent_deliveries",
		`overrides.acme.events_per_second: want a number, got a string ("fast")`,
		"overrides.acme.kinds.cloudwatch.max_concurrent_deliveries: must be a whole number (got 0.5)",
		"overrides.globex.bytes_per_second: must not be negative (got -3)",
	}, ve.Problems)
	assert.ErrorContains(t, err, "limits: invalid overrides (6 problems): defaults.events_per_second")
}

func ExampleParseOverrides() {
	o, err := limits.ParseOverrides([]byte(`
overrides:
  acme:
    events_per_second: 2000
    kinds:
      cloudwatch:
        max_concurrent_deliveries: 2
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defaults := limits.Limits{EventsPerSecond: 500}
	fmt.Printf("%+v\n", o.Limits(defaults, "acme", "cloudwatch"))
	fmt.Printf("%+v\n", o.Limits(defaults, "globex", "cloudwatch"))

	_, err = limits.ParseOverrides([]byte("overrides: {acme: {events_per_second: -1, rate: 5}}"))
	fmt.Println(err)
	// Output:
	// {EventsPerSecond:2000 EventsBurst:0 BytesPerSecond:0 BytesBurst:0 MaxConcurrentDeliveries:2}
	// {EventsPerSecond:500 EventsBurst:0 BytesPerSecond:0 BytesBurst:0 MaxConcurrentDeliveries:0}
	// limits: invalid overrides (2 problems): overrides.acme.events_per_second: must not be negative (got -1); overrides.acme.rate: unknown limit; known: events_per_second, events_burst, bytes_per_second, bytes_burst, max_concurrent_deliveries
}

func FuzzParseOverrides(f *testing.F) {
	for _, seed := range []string{example, "", "overrides: {acme: {events_per_second: -1}}", "defaults: {kinds: {s3: {bytes_burst: 3}}}",
		`{"overrides": {"a": {"events_burst": 1e20}}}`, "overrides: [", "- 1", "overrides: {acme: {kinds: {s3: {kinds: {}}}}}"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := limits.ParseOverrides(data)
		if err != nil {
			var ve *limits.ValidationError
			if !assert.ErrorAs(t, err, &ve) || !assert.NotEmpty(t, ve.Problems) {
				return
			}
			assert.Nil(t, o)
			return
		}
		// Whatever was accepted resolves to valid limits.
		for _, tenant := range append(o.Tenants(), "unlisted") {
			for _, kind := range []string{"cloudwatch", "s3"} {
				assert.NoError(t, o.Limits(limits.Limits{}, tenant, kind).Validate())
			}
		}
	})
}
