package webhook

import (
	"strings"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/internal/httpsend"
	"github.com/logdelivery/logdelivery/tenant"
)

// KindName is the name of the webhook destination kind.
const KindName = "webhook"

// Formats of Settings.Format.
const (
	FormatNDJSON = "ndjson" // one event a line (the default)
	FormatJSON   = "json"   // a JSON array of events
)

// Settings are the settings of a webhook destination, under "settings" in
// the item.
type Settings struct {
	URL     string            `json:"url,omitempty" required:"true" doc:"Where events are posted: https://host[:port][/path][?query]. No user:password@; keep credentials in bearer_token rather than the URL."`
	Format  string            `json:"format,omitempty" doc:"ndjson (the default: one JSON event a line, Content-Type application/x-ndjson) or json (a JSON array, Content-Type application/json)."`
	Gzip    bool              `json:"gzip,omitempty" doc:"Compress request bodies with gzip (Content-Encoding: gzip)."`
	Headers map[string]string `json:"headers,omitempty" doc:"Static headers sent with every request. No hop-by-hop headers, Host, Authorization, Content-*, Idempotency-Key or X-LogDelivery-*."`
	// BearerToken and SigningKey are references, never the secrets.
	BearerToken credentials.SecretRef `json:"bearer_token,omitzero" doc:"A reference to the token sent as Authorization: Bearer (Secrets Manager, Parameter Store or file:)."`
	SigningKey  credentials.SecretRef `json:"signing_key,omitzero" doc:"A reference to the key every request is signed with: X-LogDelivery-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>."`

	IncludeHost            bool `json:"include_host,omitempty" doc:"Add kubernetes.host, the pod's node, to every event."`
	IncludeLabels          bool `json:"include_labels,omitempty" doc:"Add kubernetes.labels, the pod's labels, to every event."`
	IncludeNamespaceLabels bool `json:"include_namespace_labels,omitempty" doc:"Add kubernetes.namespace_labels, the namespace's labels, to every event."`

	MaxRequestBytes int `json:"max_request_bytes,omitempty" doc:"The largest request body in bytes before compression, from 65536 to 104857600. Default and upper bound: the processor's (1 MiB unless its operator says otherwise)."`

	// policy checks the URL; the zero Policy is egress's strict default.
	policy egress.Policy
}

// Validate checks the settings; the URL against the egress policy of the
// kind they were decoded by.
func (s *Settings) Validate(tenant.DeliveryConfig) []tenant.FieldError {
	var p httpsend.Problems
	p.URL("url", s.policy, s.URL, true, true)
	switch s.Format {
	case "", FormatNDJSON, FormatJSON:
	default:
		p.Add("format", `must be "ndjson" or "json"`)
	}
	p.Headers("headers", s.Headers, func(name string) string {
		if name == IdempotencyKeyHeader || strings.HasPrefix(name, "X-Logdelivery-") {
			return "is set by the deliverer and cannot be overridden"
		}
		return ""
	})
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

// Kind returns the webhook kind without a deliverer, checking URLs against
// egress's strict default policy (https, public addresses, the default
// ports): for registries that only validate configs. (*Deliverer).Kind
// returns it with its deliverer and its policy.
func Kind() deliver.Kind { return KindWith(egress.Policy{}) }

// KindWith returns the webhook kind without a deliverer, checking URLs
// against policy: the registry of a configuration API must check them with
// the processor's policy.
func KindWith(policy egress.Policy) deliver.Kind {
	return deliver.Kind{
		Name:        KindName,
		Summary:     "An HTTPS endpoint of the tenant's: NDJSON or JSON batches, optionally gzipped, with a bearer token and an HMAC-SHA256 signature.",
		NewSettings: func() deliver.Settings { return &Settings{policy: policy} },
		Records:     true,
	}
}

// Kind returns the webhook kind delivered by dv, checking URLs against its
// policy.
func (dv *Deliverer) Kind() deliver.Kind {
	k := KindWith(dv.opts.Policy)
	k.Deliverer = dv
	return k
}
