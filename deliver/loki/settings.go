package loki

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/tenant"
)

// KindName is the name of the Loki destination kind.
const KindName = "loki"

// PushPath is the path of Loki's push API. A settings URL ending in it is
// used as it is; any other URL gets it appended.
const PushPath = "/loki/api/v1/push"

// Limits of the settings, and their defaults.
const (
	// DefaultBatchBytes bounds the entries of one push, as Loki's rate
	// limiter counts them (each line's bytes plus its structured
	// metadata's names and values): 1 MiB, Promtail's batchsize.
	DefaultBatchBytes = 1 << 20
	// MinBatchBytes and MaxBatchBytes bound batch_bytes.
	MinBatchBytes = 4 << 10
	MaxBatchBytes = 16 << 20
	// DefaultBatchEntries bounds the entries of one push.
	DefaultBatchEntries = 10000
	// MaxBatchEntries bounds batch_entries.
	MaxBatchEntries = 100000
	// DefaultMaxLineSize is Loki's default max_line_size, 256 KB
	// (256,000 bytes); longer lines are truncated or dropped.
	DefaultMaxLineSize = 256000
	// DefaultTimeoutSeconds and MaxTimeoutSeconds bound each push
	// request (timeout_seconds).
	DefaultTimeoutSeconds = 10
	MaxTimeoutSeconds     = 60

	// MaxOrgIDLength is the longest org id Loki accepts, in bytes.
	MaxOrgIDLength = 150
	// MaxLabels is the most labels a stream may have: Loki's default
	// max_label_names_per_series.
	MaxLabels = 15
	// MaxLabelNameLength and MaxLabelValueLength are Loki's defaults of
	// max_label_name_length and max_label_value_length, in bytes. Label
	// values taken from records are cut to MaxLabelValueLength.
	MaxLabelNameLength  = 1024
	MaxLabelValueLength = 2048
	// MaxMetadataFields bounds metadata_fields.
	MaxMetadataFields = 32
)

// Oversize line handling, for Settings.OversizeLines.
const (
	OversizeTruncate = "truncate" // the default: cut on a UTF-8 boundary
	OversizeDrop     = "drop"
)

// Settings are the settings of a Loki destination, under "settings" in
// the item.
type Settings struct {
	URL string `json:"url,omitempty" required:"true" doc:"The push endpoint: the tenant's own Loki or a gateway, https://host[:port][/prefix]; /loki/api/v1/push is appended unless the path ends with it. Checked against the operator's egress policy."`
	// OrgID is the operator's to set: on a Loki shared behind a gateway,
	// an org id a tenant could choose would let it write into another
	// tenant's logs.
	OrgID          string            `json:"org_id,omitempty" operator:"true" doc:"Set by the platform operator, not through the API: the X-Scope-OrgID of every push; empty means the tenant id. At most 150 bytes of letters, digits and !-_.*'(), not \".\" or \"..\"."`
	Labels         map[string]string `json:"labels,omitempty" doc:"Static labels of every stream, name to value. Values may hold the placeholders {namespace} and {application}, filled from each record."`
	LabelFields    map[string]string `json:"label_fields,omitempty" doc:"Record fields that become stream labels, label name to field: namespace, application, pod, container, host, stream, cluster, or pod_labels.NAME. Default: cluster, namespace and application under their own names."`
	MetadataFields map[string]string `json:"metadata_fields,omitempty" doc:"Record fields sent as structured metadata of each entry (for high-cardinality values such as pod), name to field, the fields of label_fields. Default: none."`
	Auth           Auth              `json:"auth,omitzero" doc:"How pushes authenticate: basic (username and password_ref) or bearer (token_ref); none when empty."`
	BatchBytes     int               `json:"batch_bytes,omitempty" doc:"The most bytes of lines and structured metadata in one push: 4096 to 16777216. Default: 1048576."`
	BatchEntries   int               `json:"batch_entries,omitempty" doc:"The most entries in one push: 1 to 100000. Default: 10000."`
	TimeoutSeconds int               `json:"timeout_seconds,omitempty" doc:"How long one push request may take, 1 to 60 seconds. Default: 10."`
	MaxLineSize    int               `json:"max_line_size,omitempty" doc:"The longest line in bytes, as the Loki's max_line_size: at most batch_bytes. Default: 256000."`
	OversizeLines  string            `json:"oversize_lines,omitempty" doc:"What happens to a line longer than max_line_size: truncate (on a UTF-8 boundary, the default) or drop."`

	policy egress.Policy // what Validate checks the URL against
}

// Auth is how a destination's pushes authenticate. Secrets are given by
// reference (see credentials.SecretRef) and resolved by the deliverer's
// Options.Secrets when it delivers.
type Auth struct {
	Username    string                `json:"username,omitempty" doc:"The user of basic authentication; requires password_ref."`
	PasswordRef credentials.SecretRef `json:"password_ref,omitzero" doc:"A reference to the password of basic authentication."`
	TokenRef    credentials.SecretRef `json:"token_ref,omitzero" doc:"A reference to a bearer token, sent as Authorization: Bearer."`
}

// RecordFields asks the decoder for the host and pod labels when label or
// metadata fields use them.
func (s *Settings) RecordFields() deliver.Fields {
	var f deliver.Fields
	for _, fields := range []map[string]string{s.LabelFields, s.MetadataFields} {
		for _, field := range fields {
			switch {
			case field == fieldHost:
				f |= deliver.FieldHost
			case strings.HasPrefix(field, podLabelsPrefix):
				f |= deliver.FieldLabels
			}
		}
	}
	return f
}

// Record fields that label_fields and metadata_fields may name.
const (
	fieldNamespace   = "namespace"
	fieldApplication = "application"
	fieldPod         = "pod"
	fieldContainer   = "container"
	fieldHost        = "host"
	fieldStream      = "stream"
	fieldCluster     = "cluster"
	podLabelsPrefix  = "pod_labels."
)

var recordFields = []string{fieldNamespace, fieldApplication, fieldPod, fieldContainer, fieldHost, fieldStream, fieldCluster}

// defaultLabelFields are the label fields of settings that name none.
var defaultLabelFields = map[string]string{
	fieldCluster:     fieldCluster,
	fieldNamespace:   fieldNamespace,
	fieldApplication: fieldApplication,
}

var (
	labelNamePattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// podLabelKeyPattern is the shape of a Kubernetes label key: an
	// optional DNS prefix and a name.
	podLabelKeyPattern = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?/)?[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$`)
)

// Validate checks the settings: the URL against the kind's egress policy
// (the strict default for Kind, the deliverer's for (*Deliverer).Kind and
// KindWith), the org id against Loki's rules, label names, fields and
// templates, authentication and bounds.
func (s *Settings) Validate(cfg tenant.DeliveryConfig) []tenant.FieldError {
	var problems []tenant.FieldError
	add := func(field, format string, args ...any) {
		problems = append(problems, tenant.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if s.URL != "" {
		if _, err := pushURL(s.policy, s.URL); err != nil {
			msg := strings.TrimPrefix(err.Error(), "egress: ")
			add("url", "%s", strings.TrimPrefix(msg, "URL refused: "))
		}
	}
	if s.OrgID != "" {
		if msg := orgIDProblem(s.OrgID); msg != "" {
			add("org_id", "%s", msg)
		}
	}

	names := map[string]string{} // label name → the setting that names it
	for _, name := range sortedKeys(s.Labels) {
		field := "labels." + name
		if msg := labelNameProblem(name); msg != "" {
			add(field, "%s", msg)
			continue
		}
		names[name] = field
		if msg := templateProblem(s.Labels[name]); msg != "" {
			add(field, "%s", msg)
		}
	}
	for _, name := range sortedKeys(s.LabelFields) {
		field := "label_fields." + name
		if msg := labelNameProblem(name); msg != "" {
			add(field, "%s", msg)
			continue
		}
		if other, dup := names[name]; dup {
			add(field, "label %q is also set by %s", name, other)
		}
		if msg := fieldProblem(s.LabelFields[name]); msg != "" {
			add(field, "%s", msg)
		}
	}
	labelFields := len(s.LabelFields)
	if labelFields == 0 {
		labelFields = len(defaultLabelFields)
		for name := range defaultLabelFields {
			if other, dup := names[name]; dup {
				add("labels", "label %q of %s is also one of the default label_fields (cluster, namespace, application); set label_fields", name, other)
			}
		}
	}
	if n := len(s.Labels) + labelFields; n > MaxLabels {
		add("labels", "%d labels in all (labels and label_fields) are more than the %d a Loki stream may have", n, MaxLabels)
	}
	if len(s.MetadataFields) > MaxMetadataFields {
		add("metadata_fields", "%d fields are more than %d", len(s.MetadataFields), MaxMetadataFields)
	}
	for _, name := range sortedKeys(s.MetadataFields) {
		field := "metadata_fields." + name
		if msg := labelNameProblem(name); msg != "" {
			add(field, "%s", msg)
			continue
		}
		if msg := fieldProblem(s.MetadataFields[name]); msg != "" {
			add(field, "%s", msg)
		}
	}

	a := s.Auth
	switch {
	case !a.TokenRef.IsZero() && (a.Username != "" || !a.PasswordRef.IsZero()):
		add("auth", "token_ref (bearer) and username/password_ref (basic) exclude each other")
	case a.Username != "" && a.PasswordRef.IsZero():
		add("auth.password_ref", "is required with username")
	case a.Username == "" && !a.PasswordRef.IsZero():
		add("auth.username", "is required with password_ref")
	case strings.ContainsAny(a.Username, ":") || !printableASCII(a.Username):
		add("auth.username", "must be printable ASCII without ':'")
	}

	batchBytes := s.BatchBytes
	switch {
	case batchBytes == 0:
		batchBytes = DefaultBatchBytes
	case batchBytes < MinBatchBytes || batchBytes > MaxBatchBytes:
		add("batch_bytes", "must be %d to %d", MinBatchBytes, MaxBatchBytes)
	}
	if n := s.BatchEntries; n < 0 || n > MaxBatchEntries {
		add("batch_entries", "must be 1 to %d", MaxBatchEntries)
	}
	if n := s.TimeoutSeconds; n < 0 || n > MaxTimeoutSeconds {
		add("timeout_seconds", "must be 1 to %d", MaxTimeoutSeconds)
	}
	if n := s.MaxLineSize; n < 0 || n > batchBytes {
		add("max_line_size", "must be 1 to batch_bytes (%d)", batchBytes)
	}
	if o := s.OversizeLines; o != "" && o != OversizeTruncate && o != OversizeDrop {
		add("oversize_lines", "%q is not %q or %q", o, OversizeTruncate, OversizeDrop)
	}
	return problems
}

// pushURL validates raw with p and returns the push URL it names.
func pushURL(p egress.Policy, raw string) (*url.URL, error) {
	u, err := p.ValidateURL(raw)
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" || u.ForceQuery {
		return nil, fmt.Errorf("a query string is not allowed (credentials belong in auth)")
	}
	if !strings.HasSuffix(u.Path, PushPath) {
		u.Path = strings.TrimRight(u.Path, "/") + PushPath
		u.RawPath = ""
	}
	return u, nil
}

// orgIDProblem checks an org id against Loki's tenant id rules.
func orgIDProblem(id string) string {
	switch {
	case id == "":
		return "is empty"
	case len(id) > MaxOrgIDLength:
		return fmt.Sprintf("is longer than %d bytes", MaxOrgIDLength)
	case id == "." || id == "..":
		return `must not be "." or ".."`
	}
	for i := 0; i < len(id); i++ {
		if !isOrgIDChar(id[i]) {
			return fmt.Sprintf("character %q at byte %d is not allowed: use letters, digits and !-_.*'()", rune(id[i]), i)
		}
	}
	return ""
}

func isOrgIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!-_.*'()", c) >= 0
}

// labelNameProblem checks a label or structured metadata name.
func labelNameProblem(name string) string {
	switch {
	case len(name) > MaxLabelNameLength:
		return fmt.Sprintf("label names are at most %d bytes", MaxLabelNameLength)
	case !labelNamePattern.MatchString(name):
		return fmt.Sprintf("%s is not a label name: letters, digits and '_', not starting with a digit", quoteShort(name))
	case strings.HasPrefix(name, "__"):
		return "names starting with __ are reserved"
	}
	return ""
}

// fieldProblem checks a record field name of label_fields or
// metadata_fields.
func fieldProblem(field string) string {
	if slices.Contains(recordFields, field) {
		return ""
	}
	if key, ok := strings.CutPrefix(field, podLabelsPrefix); ok {
		if !podLabelKeyPattern.MatchString(key) || len(key) > 317 {
			return fmt.Sprintf("%s is not a Kubernetes label key", quoteShort(key))
		}
		return ""
	}
	return fmt.Sprintf("%s is not a record field: use %s, or pod_labels.NAME", quoteShort(field), strings.Join(recordFields, ", "))
}

// Placeholders of label value templates.
const (
	placeholderNamespace   = "{namespace}"
	placeholderApplication = "{application}"
)

// templateProblem checks a static label value and its placeholders.
func templateProblem(v string) string {
	switch {
	case v == "":
		return "label values must not be empty (Loki drops empty labels)"
	case len(v) > MaxLabelValueLength:
		return fmt.Sprintf("label values are at most %d bytes", MaxLabelValueLength)
	case !utf8.ValidString(v):
		return "is not valid UTF-8"
	}
	for rest := v; rest != ""; {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			break
		}
		rest = rest[i:]
		switch {
		case strings.HasPrefix(rest, placeholderNamespace):
			rest = rest[len(placeholderNamespace):]
		case strings.HasPrefix(rest, placeholderApplication):
			rest = rest[len(placeholderApplication):]
		default:
			return "'{' and '}' may only form the placeholders {namespace} and {application}"
		}
	}
	return ""
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = strings.ToValidUTF8(s[:64], "") + "..."
	}
	return fmt.Sprintf("%q", s)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Kind returns the Loki kind without a deliverer, for registries that only
// validate configs. Its settings validation checks URLs against the strict
// default egress policy (egress.Policy{}): https to public addresses on
// the default ports. A registry of a processor whose operator allows more
// (Loki's port 3100, an internal gateway, loopback in tests) uses
// KindWith or (*Deliverer).Kind, so that what is validated is what is
// dialled.
func Kind() deliver.Kind { return KindWith(egress.Policy{}) }

// KindWith returns the Loki kind without a deliverer whose settings
// validation checks URLs against p.
func KindWith(p egress.Policy) deliver.Kind {
	p = clonePolicy(p)
	return deliver.Kind{
		Name:        KindName,
		Summary:     "Grafana Loki (or a Loki gateway) through its push API, as the tenant's org id.",
		NewSettings: func() deliver.Settings { return &Settings{policy: clonePolicy(p)} },
		Records:     true,
	}
}

// Kind returns the Loki kind delivered by dv, validating URLs against
// dv's egress policy.
func (dv *Deliverer) Kind() deliver.Kind {
	k := KindWith(dv.opts.Egress)
	k.Deliverer = dv
	return k
}

// clonePolicy returns a copy of p that shares no slice with it.
func clonePolicy(p egress.Policy) egress.Policy {
	p.Ports = slices.Clone(p.Ports)
	p.AllowPrefixes = slices.Clone(p.AllowPrefixes)
	p.AllowHosts = slices.Clone(p.AllowHosts)
	p.DenyHosts = slices.Clone(p.DenyHosts)
	return p
}
