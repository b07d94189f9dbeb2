package iam

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type statement struct {
	Sid       string          `json:"Sid"`
	Effect    string          `json:"Effect"`
	Principal json.RawMessage `json:"Principal"`
	Action    stringOrList    `json:"Action"`
	Resource  stringOrList    `json:"Resource"`
	Condition map[string]map[string]any
}

type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = []string{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

type document struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

func load(t *testing.T, name string) document {
	t.Helper()
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	var d document
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&d), name)
	return d
}

// allowsOn reports whether a statement allows action on a resource whose
// ARN ends with suffix.
func (d document) allowsOn(action, suffix string) bool {
	for _, s := range d.Statement {
		if s.Effect == "Allow" && slices.Contains(s.Action, action) &&
			slices.ContainsFunc(s.Resource, func(r string) bool { return strings.HasSuffix(r, suffix) }) {
			return true
		}
	}
	return false
}

func (d document) allows(action string) bool {
	for _, s := range d.Statement {
		if s.Effect == "Allow" && slices.Contains(s.Action, action) {
			return true
		}
	}
	return false
}

func TestDocumentsParse(t *testing.T) {
	files, err := filepath.Glob("*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		d := load(t, f)
		assert.Equal(t, "2012-10-17", d.Version, f)
		require.NotEmpty(t, d.Statement, f)
		trust := strings.Contains(f, "trust") || strings.Contains(f, "bucket-policy")
		for _, s := range d.Statement {
			assert.Contains(t, []string{"Allow", "Deny"}, s.Effect, f)
			assert.NotEmpty(t, s.Action, f)
			for _, a := range s.Action {
				assert.Regexp(t, `^[a-z0-9-]+:[A-Za-z*]+$`, a, f)
			}
			if trust {
				assert.NotEmpty(t, s.Principal, "%s: resource policies name a principal", f)
			} else {
				assert.NotEmpty(t, s.Resource, "%s: identity policies name resources", f)
				assert.Empty(t, s.Principal, f)
			}
		}
	}
}

func TestTenantRoleRequiresExternalID(t *testing.T) {
	d := load(t, "tenant-cloudwatch-role-trust.json")
	for _, s := range d.Statement {
		if slices.Contains(s.Action, "sts:AssumeRole") {
			require.Contains(t, s.Condition["StringEquals"], "sts:ExternalId")
			id := fmt.Sprint(s.Condition["StringEquals"]["sts:ExternalId"])
			assert.Regexp(t, `^ld-[a-z2-7]{32}$`, id, "the tenant's own ExternalId (credentials.ExternalIDs), not one every tenant shares")
		}
	}
	// UploadPartCopy and CompleteMultipartUpload carry no x-amz-acl header:
	// a condition on it would deny every multipart copy. Ownership comes from
	// the bucket's Object Ownership setting (BucketOwnerEnforced) instead.
	for _, f := range []string{"tenant-bucket-policy.json", "central-log-distribution-role-policy.json"} {
		for _, s := range load(t, f).Statement {
			if slices.Contains(s.Action, "s3:PutObject") {
				for _, cond := range s.Condition {
					assert.NotContains(t, cond, "s3:x-amz-acl", "%s %s: multipart copies cannot satisfy an ACL condition", f, s.Sid)
				}
			}
		}
	}
}

// operation is an AWS API operation the library's code can call.
type operation struct{ service, name string }

// libraryOperations finds every method of every interface in the module's
// non-test code whose last parameter is ...func(*<service>.Options) of an
// aws-sdk-go-v2 service package: the narrow client interfaces, which list
// exactly the operations the library calls.
func libraryOperations(t *testing.T) map[operation][]string {
	ops := map[operation][]string{}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (e.Name() == "examples" || e.Name() == "testdata" || strings.HasPrefix(e.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		services := map[string]string{} // import name → service
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			svc, ok := strings.CutPrefix(p, "github.com/aws/aws-sdk-go-v2/service/")
			if !ok || strings.Contains(svc, "/") {
				continue
			}
			name := svc
			if imp.Name != nil {
				name = imp.Name.Name
			}
			services[name] = svc
		}
		ast.Inspect(f, func(n ast.Node) bool {
			it, ok := n.(*ast.InterfaceType)
			if !ok {
				return true
			}
			for _, m := range it.Methods.List {
				ft, ok := m.Type.(*ast.FuncType)
				if !ok || len(m.Names) == 0 || len(ft.Params.List) == 0 {
					continue
				}
				last := ft.Params.List[len(ft.Params.List)-1]
				ell, ok := last.Type.(*ast.Ellipsis)
				if !ok {
					continue
				}
				fn, ok := ell.Elt.(*ast.FuncType)
				if !ok || len(fn.Params.List) != 1 {
					continue
				}
				star, ok := fn.Params.List[0].Type.(*ast.StarExpr)
				if !ok {
					continue
				}
				sel, ok := star.X.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Options" {
					continue
				}
				pkg, _ := sel.X.(*ast.Ident)
				if pkg == nil || services[pkg.Name] == "" {
					continue
				}
				op := operation{services[pkg.Name], m.Names[0].Name}
				ops[op] = append(ops[op], path)
			}
			return false
		})
		return nil
	})
	require.NoError(t, err)
	// The role chain uses the SDK's stscreds.AssumeRoleAPIClient.
	ops[operation{"sts", "AssumeRole"}] = append(ops[operation{"sts", "AssumeRole"}], "credentials (stscreds)")
	return ops
}

// actions maps an operation to the IAM actions it needs.
func actions(op operation) []string {
	switch op {
	case operation{"s3", "HeadObject"}:
		return []string{"s3:GetObject"}
	case operation{"s3", "CopyObject"}, operation{"s3", "UploadPartCopy"}:
		return []string{"s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"}
	case operation{"s3", "CreateMultipartUpload"}, operation{"s3", "CompleteMultipartUpload"}:
		return []string{"s3:PutObject"}
	case operation{"sqs", "DeleteMessageBatch"}:
		return []string{"sqs:DeleteMessage"}
	case operation{"sqs", "ChangeMessageVisibilityBatch"}:
		return []string{"sqs:ChangeMessageVisibility"}
	}
	prefix := map[string]string{"cloudwatchlogs": "logs"}[op.service]
	if prefix == "" {
		prefix = op.service
	}
	return []string{prefix + ":" + op.name}
}

// callers names the policy documents of the identities that issue an
// operation.
func callers(op operation) []string {
	switch {
	case op.service == "cloudwatchlogs":
		return []string{"tenant-cloudwatch-role-policy.json"}
	case op.service == "s3", op.service == "secretsmanager", op.service == "ssm":
		// The central identity reads the central bucket, copies from it
		// and fetches the secrets tenants' settings reference.
		return []string{"central-log-distribution-role-policy.json"}
	case op.service == "sqs":
		return []string{"processor-execution-role-policy.json"}
	case op == operation{"dynamodb", "CreateTable"}, op == operation{"dynamodb", "DescribeTable"}, op == operation{"dynamodb", "UpdateTimeToLive"}:
		return []string{"deployer-policy.json"} // dynamostore.CreateTable and dynamoledger.CreateTable, at deployment
	case op.service == "dynamodb":
		return []string{"config-api-role-policy.json"}
	case op == operation{"sts", "AssumeRole"}:
		return []string{"processor-execution-role-policy.json", "central-log-distribution-role-policy.json"}
	}
	return nil
}

func TestPoliciesCoverEveryOperation(t *testing.T) {
	ops := libraryOperations(t)
	for _, want := range []operation{
		{"cloudwatchlogs", "PutLogEvents"}, {"s3", "CopyObject"}, {"s3", "GetObject"},
		{"dynamodb", "Query"}, {"sqs", "ReceiveMessage"}, {"sts", "AssumeRole"},
	} {
		require.Contains(t, ops, want, "the source scan finds the library's client interfaces")
	}
	for op, where := range ops {
		docs := callers(op)
		require.NotEmpty(t, docs, "%s.%s (%v): no role is known to call it; add it to a policy and to callers()", op.service, op.name, where)
		for _, doc := range docs {
			d := load(t, doc)
			for _, a := range actions(op) {
				assert.True(t, d.allows(a), "%s does not allow %s, needed by %s.%s (%v)", doc, a, op.service, op.name, where)
			}
		}
	}

	// The processor reads configurations; it writes only its ledger.
	p := load(t, "processor-execution-role-policy.json")
	assert.True(t, p.allowsOn("dynamodb:Query", "table/tenant-delivery-configs"))
	for _, a := range []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} {
		assert.False(t, p.allowsOn(a, "table/tenant-delivery-configs"), a)
		assert.False(t, p.allowsOn(a, "table/tenant-identities"), a)
	}
	for _, a := range []string{"dynamodb:GetItem", "dynamodb:PutItem"} {
		assert.True(t, p.allowsOn(a, "table/log-delivery-ledger"), "the ledger (ledger/dynamoledger): %s", a)
	}
	// The tenant bucket accepts exactly what the copy writes.
	b := load(t, "tenant-bucket-policy.json")
	for _, a := range []string{"s3:PutObject", "s3:PutObjectAcl", "s3:AbortMultipartUpload"} {
		assert.True(t, b.allows(a), a)
	}
}
