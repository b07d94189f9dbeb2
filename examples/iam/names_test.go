package iam

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// arnMatches reports whether an ARN matches an IAM resource pattern, in
// which * stands for any characters and ? for one.
func arnMatches(pattern, arn string) bool {
	var re strings.Builder
	re.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(arn)
}

func TestARNMatches(t *testing.T) {
	assert.True(t, arnMatches("arn:aws:iam::*:role/LogDistributionRole", "arn:aws:iam::222222222222:role/LogDistributionRole"))
	assert.False(t, arnMatches("arn:aws:iam::*:role/LogDistributionRole", "arn:aws:iam::222222222222:role/LogDistributionRole2"))
	assert.True(t, arnMatches("arn:aws:iam::*:role/CustomerLogDistribution*", "arn:aws:iam::333333333333:role/CustomerLogDistribution-us-east-1"))
	assert.False(t, arnMatches("arn:aws:iam::111111111111:role/a?", "arn:aws:iam::111111111111:role/a"))
}

// assumable returns the role patterns a policy lets its holder assume.
func (d document) assumable() []string {
	var out []string
	for _, s := range d.Statement {
		if s.Effect == "Allow" && slices.Contains(s.Action, "sts:AssumeRole") {
			out = append(out, s.Resource...)
		}
	}
	return out
}

// principals returns the AWS principals of a resource policy.
func principals(t *testing.T, d document) []string {
	var out []string
	for _, s := range d.Statement {
		var p struct {
			AWS stringOrList `json:"AWS"`
		}
		require.NoError(t, json.Unmarshal(s.Principal, &p))
		out = append(out, p.AWS...)
	}
	return out
}

// The places outside examples/iam that name the deployment's roles: the
// README, the examples' configurations and deployment notes, the
// deployment templates.
func exampleFiles(t *testing.T) map[string]string {
	files := map[string]string{}
	root := root()
	for _, pattern := range []string{
		"README.md",
		"examples/lambda/README.md",
		"examples/local/testdata/*.yaml",
		"examples/deploy/*.md",
		"examples/deploy/*/*.yaml",
	} {
		matches, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(t, err)
		for _, m := range matches {
			data, err := os.ReadFile(m)
			require.NoError(t, err)
			files[m] = string(data)
		}
	}
	require.Contains(t, files, filepath.Join(root, "README.md"))
	return files
}

func root() string { return filepath.Join("..", "..") }

// namedARNs returns the role ARNs the regexp's first group captures in the
// example files, with the files each is named in.
func namedARNs(files map[string]string, re *regexp.Regexp) map[string][]string {
	out := map[string][]string{}
	for name, text := range files {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			if !slices.Contains(out[m[1]], name) {
				out[m[1]] = append(out[m[1]], name)
			}
		}
	}
	return out
}

const roleARN = `(arn:aws:iam::\d{12}:role/[\w+=,.@/-]+)`

// The documents name the same roles as the rest of the repository: a
// tenant role a config of the examples names is one the central role may
// assume, the central role every example starts from is one the processor
// may assume and the one tenants trust, and the processor role of the
// deployment notes is the one the central role trusts.
func TestDocumentsNameTheExamplesRoles(t *testing.T) {
	files := exampleFiles(t)

	tenantRoles := namedARNs(files, regexp.MustCompile(`log_distribution_role_arn"?:\s*"?`+roleARN))
	require.Contains(t, tenantRoles, "arn:aws:iam::222222222222:role/LogDistributionRole", "the seed's tenant role, in the README")
	central := load(t, "central-log-distribution-role-policy.json").assumable()
	for arn, where := range tenantRoles {
		assert.True(t, slices.ContainsFunc(central, func(p string) bool { return arnMatches(p, arn) }),
			"%s (named in %s) is not assumable by the central role: %v", arn, where, central)
	}

	centralRoles := namedARNs(files, regexp.MustCompile(`(?:CENTRAL_LOG_DISTRIBUTION_ROLE_ARN(?:[=:]\s*"?|\s+value:\s*)|CentralRoleARN = ")`+roleARN))
	require.Contains(t, centralRoles, "arn:aws:iam::111111111111:role/ROSA-CentralLogDistributionRole-0a1b2c3d")
	require.Contains(t, slices.Concat(slices.Collect(maps.Values(centralRoles))...), filepath.Join(root(), "examples", "deploy", "kubernetes", "worker.yaml"),
		"the Deployment's CENTRAL_LOG_DISTRIBUTION_ROLE_ARN is checked too")
	processor := load(t, "processor-execution-role-policy.json").assumable()
	trusted := append(principals(t, load(t, "tenant-cloudwatch-role-trust.json")), principals(t, load(t, "tenant-bucket-policy.json"))...)
	for arn, where := range centralRoles {
		assert.True(t, slices.ContainsFunc(processor, func(p string) bool { return arnMatches(p, arn) }),
			"%s (named in %s) is not assumable by the processor: %v", arn, where, processor)
		for _, p := range trusted {
			assert.Equal(t, p, arn, "the tenant documents trust the central role %s names", where)
		}
	}

	processorRoles := namedARNs(files, regexp.MustCompile(`(?:--role |eks\.amazonaws\.com/role-arn: )`+roleARN))
	require.NotEmpty(t, processorRoles)
	for arn, where := range processorRoles {
		assert.Equal(t, []string{arn}, principals(t, load(t, "central-log-distribution-role-trust.json")),
			"the central role trusts the processor role %s names", where)
	}
}

// The processor and the configuration API read tenant identities (with
// them every config is bound to its tenant's accounts); only the operator
// writes them.
func TestIdentitiesAreReadOnly(t *testing.T) {
	for _, f := range []string{"processor-execution-role-policy.json", "config-api-role-policy.json"} {
		var actions []string
		for _, s := range load(t, f).Statement {
			if slices.ContainsFunc(s.Resource, func(r string) bool { return strings.HasSuffix(r, ":table/tenant-identities") }) {
				actions = append(actions, s.Action...)
			}
		}
		assert.Equal(t, []string{"dynamodb:GetItem"}, actions, f)
	}
}
