package dataprepper

import (
	"regexp"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/internal/httpsend"
	"github.com/logdelivery/logdelivery/tenant"
)

// KindName is the name of the Data Prepper destination kind.
const KindName = "dataprepper"

// DefaultPath is the path of the HTTP source when the URL has none.
const DefaultPath = "/log/ingest"

// Settings are the settings of a Data Prepper destination, under
// "settings" in the item.
type Settings struct {
	URL      string                `json:"url,omitempty" required:"true" doc:"The URL of the pipeline's HTTP source, https://host[:port][/path]; without a path, /log/ingest. No query; no user:password@."`
	Username string                `json:"username,omitempty" doc:"The user of HTTP basic authentication (the source's http_basic authentication), with password."`
	Password credentials.SecretRef `json:"password,omitzero" doc:"A reference to the password of username (Secrets Manager, Parameter Store or file:), never the password."`

	IncludeHost            bool `json:"include_host,omitempty" doc:"Add kubernetes.host, the pod's node, to every event."`
	IncludeLabels          bool `json:"include_labels,omitempty" doc:"Add kubernetes.labels, the pod's labels, to every event ('.' in label names written '_')."`
	IncludeNamespaceLabels bool `json:"include_namespace_labels,omitempty" doc:"Add kubernetes.namespace_labels, the namespace's labels, to every event."`

	MaxRequestBytes int `json:"max_request_bytes,omitempty" doc:"The largest request body in bytes, from 65536 to 104857600 (the source's max_request_length bounds it, 10 MB by default). Default and upper bound: the processor's (5 MiB unless its operator says otherwise)."`

	// policy checks the URL; the zero Policy is egress's strict default.
	policy egress.Policy
}

var usernamePattern = regexp.MustCompile(`^[\x21-\x39\x3b-\x7e]([\x20-\x39\x3b-\x7e]{0,254}[\x21-\x39\x3b-\x7e])?$`)

// Validate checks the settings; the URL against the egress policy of the
// kind they were decoded by.
func (s *Settings) Validate(tenant.DeliveryConfig) []tenant.FieldError {
	var p httpsend.Problems
	p.URL("url", s.policy, s.URL, false, true)
	switch {
	case s.Username != "" && !usernamePattern.MatchString(s.Username):
		p.Add("username", "must be 1 to 256 printable ASCII characters without ':' or surrounding spaces")
	case s.Username != "" && s.Password.IsZero():
		p.Add("password", "is required with username")
	case s.Username == "" && !s.Password.IsZero():
		p.Add("username", "is required with password")
	}
	p.MaxBytes("max_request_bytes", s.MaxRequestBytes)
	return p
}

// RecordFields asks the decoder for the optional fields the events
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

// Kind returns the Data Prepper kind without a deliverer, checking URLs
// against egress's strict default policy (https, public addresses, the
// default ports): for registries that only validate configs.
// (*Deliverer).Kind returns it with its deliverer and its policy.
func Kind() deliver.Kind { return KindWith(egress.Policy{}) }

// KindWith returns the Data Prepper kind without a deliverer, checking URLs
// against policy: the registry of a configuration API must check them with
// the processor's policy.
func KindWith(policy egress.Policy) deliver.Kind {
	return deliver.Kind{
		Name:        KindName,
		Summary:     "An OpenSearch Data Prepper pipeline's HTTP source, with basic authentication or none.",
		NewSettings: func() deliver.Settings { return &Settings{policy: policy} },
		Records:     true,
	}
}

// Kind returns the Data Prepper kind delivered by dv, checking URLs
// against its policy.
func (dv *Deliverer) Kind() deliver.Kind {
	k := KindWith(dv.opts.Policy)
	k.Deliverer = dv
	return k
}
