package opensearch

import (
	"regexp"
	"strings"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/internal/httpsend"
	"github.com/logdelivery/logdelivery/tenant"
)

// KindName is the name of the OpenSearch and Elasticsearch destination
// kind.
const KindName = "opensearch"

// The SigV4 services of Amazon OpenSearch, for Settings.AWSService.
const (
	ServiceManaged    = "es"   // Amazon OpenSearch Service domains (the default)
	ServiceServerless = "aoss" // Amazon OpenSearch Serverless collections
)

// Settings are the settings of an OpenSearch or Elasticsearch destination,
// under "settings" in the item.
type Settings struct {
	URL      string                `json:"url,omitempty" required:"true" doc:"The cluster's URL, https://host[:port][/path]: documents are posted to URL/_bulk. No query; no user:password@."`
	Index    string                `json:"index,omitempty" doc:"The index template: a word and a separator, {tenant_id}, a separator and %Y, then up to three of a separator and %m, %d or %H, from the document's time in UTC. Default: logs-{tenant_id}-%Y.%m.%d."`
	Pipeline string                `json:"pipeline,omitempty" doc:"The ingest pipeline documents go through (the pipeline parameter of _bulk). Default: the index's default pipeline."`
	Username string                `json:"username,omitempty" doc:"The user of HTTP basic authentication, with password."`
	Password credentials.SecretRef `json:"password,omitzero" doc:"A reference to the password of username (Secrets Manager, Parameter Store or file:), never the password."`
	// AWSRoleARN makes the deliverer sign with SigV4 as this role of the
	// tenant, assumed through the central role.
	AWSRoleARN string            `json:"aws_role_arn,omitempty" doc:"The tenant's IAM role the processor assumes (through the central role) to sign requests with SigV4, for Amazon OpenSearch Service and Serverless. The region is target_region."`
	AWSService string            `json:"aws_service,omitempty" doc:"The SigV4 service: es for Amazon OpenSearch Service domains (the default), aoss for OpenSearch Serverless collections."`
	Headers    map[string]string `json:"headers,omitempty" doc:"Static headers sent with every request (for example a proxy's tenant header). No hop-by-hop headers, Host, Authorization, Content-* or X-Amz-*."`

	IncludeHost            bool `json:"include_host,omitempty" doc:"Add kubernetes.host, the pod's node, to every document."`
	IncludeLabels          bool `json:"include_labels,omitempty" doc:"Add kubernetes.labels, the pod's labels, to every document ('.' in label names written '_')."`
	IncludeNamespaceLabels bool `json:"include_namespace_labels,omitempty" doc:"Add kubernetes.namespace_labels, the namespace's labels, to every document."`

	MaxRequestBytes int `json:"max_request_bytes,omitempty" doc:"The largest _bulk request body in bytes, from 65536 to 104857600 (the cluster's http.max_content_length bounds it). Default and upper bound: the processor's (5 MiB unless its operator says otherwise)."`

	// policy checks the URL; the zero Policy is egress's strict default.
	policy egress.Policy
}

var (
	pipelinePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$`)
	usernamePattern = regexp.MustCompile(`^[\x21-\x39\x3b-\x7e]([\x20-\x39\x3b-\x7e]{0,254}[\x21-\x39\x3b-\x7e])?$`)
)

// Validate checks the settings; the URL against the egress policy of the
// kind they were decoded by.
func (s *Settings) Validate(tenant.DeliveryConfig) []tenant.FieldError {
	var p httpsend.Problems
	p.URL("url", s.policy, s.URL, false, true)
	if strings.HasSuffix(strings.TrimSuffix(s.URL, "/"), "/_bulk") {
		p.Add("url", "is the cluster's URL, without /_bulk, which the deliverer adds")
	}
	if s.Index != "" {
		if _, err := ParseIndexTemplate(s.Index); err != nil {
			p.Add("index", "%s", strings.TrimPrefix(err.Error(), "invalid index template: "))
		}
	}
	if s.Pipeline != "" && !pipelinePattern.MatchString(s.Pipeline) {
		p.Add("pipeline", "must be 1 to 255 letters, digits, '.', '_' and '-', not starting with '.' or '-'")
	}
	switch {
	case s.Username != "" && !usernamePattern.MatchString(s.Username):
		p.Add("username", "must be 1 to 256 printable ASCII characters without ':' or surrounding spaces")
	case s.Username != "" && s.Password.IsZero():
		p.Add("password", "is required with username")
	case s.Username == "" && !s.Password.IsZero():
		p.Add("username", "is required with password")
	}
	if s.AWSRoleARN != "" {
		if _, err := credentials.ParseRoleARN(s.AWSRoleARN); err != nil {
			p.Add("aws_role_arn", "%s", strings.TrimPrefix(err.Error(), credentials.ErrMalformedRoleARN.Error()+": "))
		}
		if s.Username != "" {
			p.Add("aws_role_arn", "choose basic authentication (username and password) or SigV4 (aws_role_arn), not both")
		}
	}
	switch s.AWSService {
	case "", ServiceManaged, ServiceServerless:
		if s.AWSService != "" && s.AWSRoleARN == "" {
			p.Add("aws_service", "applies to SigV4 only: set aws_role_arn")
		}
	default:
		p.Add("aws_service", `must be "es" (OpenSearch Service) or "aoss" (OpenSearch Serverless)`)
	}
	p.Headers("headers", s.Headers, func(name string) string {
		if strings.HasPrefix(name, "X-Amz-") {
			return "is reserved for SigV4 signing"
		}
		return ""
	})
	p.MaxBytes("max_request_bytes", s.MaxRequestBytes)
	return p
}

// CheckIdentity refuses a role outside the tenant's accounts: with it, a
// tenant's config could make the processor sign as another tenant's role.
func (s *Settings) CheckIdentity(_ tenant.DeliveryConfig, id tenant.Identity) []tenant.FieldError {
	role, err := credentials.ParseRoleARN(s.AWSRoleARN)
	if err != nil {
		return nil // none, or Validate reports it
	}
	if msg := id.AccountProblem(role.Account); msg != "" {
		return []tenant.FieldError{{Field: "aws_role_arn", Message: msg}}
	}
	return nil
}

// RecordFields asks the decoder for the optional fields the documents
// include.
func (s *Settings) RecordFields() deliver.Fields {
	var f deliver.Fields
	if s.IncludeHost {
		f |= deliver.FieldHost
	}
	if s.IncludeLabels {
		f |= deliver.FieldLabels
	}
	if s.IncludeNamespaceLabels {
		f |= deliver.FieldNamespaceLabels
	}
	return f
}

// template returns the parsed index template of validated settings.
func (s *Settings) template() *IndexTemplate {
	t, err := ParseIndexTemplate(orDefault(s.Index, DefaultIndex))
	if err != nil {
		panic("opensearch: validated index template: " + err.Error())
	}
	return t
}

func orDefault(v, fallback string) string {
	if v != "" {
		return v
	}
	return fallback
}

// Kind returns the OpenSearch kind without a deliverer, checking URLs
// against egress's strict default policy (https, public addresses, the
// default ports): for registries that only validate configs.
// (*Deliverer).Kind returns it with its deliverer and its policy.
func Kind() deliver.Kind { return KindWith(egress.Policy{}) }

// KindWith returns the OpenSearch kind without a deliverer, checking URLs
// against policy: the registry of a configuration API must check them
// with the processor's policy (its ports, its allowed prefixes).
func KindWith(policy egress.Policy) deliver.Kind {
	return deliver.Kind{
		Name:        KindName,
		Summary:     "OpenSearch or Elasticsearch through the _bulk API, with basic authentication or SigV4 through the tenant's role.",
		NewSettings: func() deliver.Settings { return &Settings{policy: policy} },
		Records:     true,
	}
}

// Kind returns the OpenSearch kind delivered by dv, checking URLs against
// its policy.
func (dv *Deliverer) Kind() deliver.Kind {
	k := KindWith(dv.opts.Policy)
	k.Deliverer = dv
	return k
}
