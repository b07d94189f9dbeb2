package tenant

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// MatchRule is one rule of a config's match list, in the Logging operator's
// Flow model: exactly one of Select and Exclude is set. Rules are evaluated
// in order; the first rule whose criteria all hold for a record decides
// whether the record is delivered (Select) or not (Exclude). When rules are
// given and none holds, the record is not delivered, so a list of excludes
// usually ends with an empty select ("select: {}") that takes the rest. No
// rules at all means every record. The match list applies on top of
// desired_logs and groups: a record must pass both.
//
//	match:
//	  - exclude: {labels: {tier: debug}}
//	  - select: {labels: {app: payments}, container_names: [api, worker]}
//	  - select: {namespaces: [payments-canary]}
type MatchRule struct {
	Select  *MatchCriteria `json:"select,omitempty"`
	Exclude *MatchCriteria `json:"exclude,omitempty"`
}

// MatchCriteria are the conditions of one rule. Every criterion given must
// hold (and); a list holds when one of its entries equals the record's
// value (or); Labels and NamespaceLabels hold when the record has every
// listed label with the listed value. Empty criteria hold for every record.
type MatchCriteria struct {
	// Labels are pod labels (kubernetes.pod_labels).
	Labels map[string]string `json:"labels,omitempty"`
	// NamespaceLabels are labels of the pod's namespace
	// (kubernetes.namespace_labels), when the collector sends them.
	NamespaceLabels map[string]string `json:"namespace_labels,omitempty"`
	// Namespaces are Kubernetes namespaces: the record's, else the key's.
	Namespaces []string `json:"namespaces,omitempty"`
	// ContainerNames are container names (kubernetes.container_name).
	ContainerNames []string `json:"container_names,omitempty"`
	// Hosts are node names (kubernetes.pod_node_name).
	Hosts []string `json:"hosts,omitempty"`
	// Applications are application names: the record's, else the key's.
	Applications []string `json:"applications,omitempty"`
}

// Criteria returns the rule's criteria and whether it selects (true) or
// excludes (false).
func (r MatchRule) Criteria() (c MatchCriteria, selects bool) {
	if r.Select != nil {
		return *r.Select, true
	}
	if r.Exclude != nil {
		return *r.Exclude, false
	}
	return MatchCriteria{}, false
}

// MaxMatchRules bounds the rules of one config.
const MaxMatchRules = 64

var (
	// A DNS label (RFC 1123), as Kubernetes names namespaces and containers.
	dnsLabelPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// A DNS subdomain (RFC 1123), as Kubernetes names nodes.
	dnsSubdomainPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// The name part of a label key, and a non-empty label value.
	labelNamePattern = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
)

// matchProblems checks a match list.
func matchProblems(rules []MatchRule) []FieldError {
	var v validator
	if len(rules) > MaxMatchRules {
		v.add("match", fmt.Sprintf("has %d rules; at most %d are allowed", len(rules), MaxMatchRules))
		return v.problems
	}
	for i, r := range rules {
		field := fmt.Sprintf("match[%d]", i)
		switch {
		case r.Select != nil && r.Exclude != nil:
			v.add(field, "must have exactly one of select and exclude, not both")
			continue
		case r.Select == nil && r.Exclude == nil:
			v.add(field, "must have one of select and exclude")
			continue
		}
		c, selects := r.Criteria()
		if selects {
			field += ".select"
		} else {
			field += ".exclude"
		}
		v.labels(field+".labels", c.Labels)
		v.labels(field+".namespace_labels", c.NamespaceLabels)
		v.names(field+".namespaces", c.Namespaces, 63, dnsLabelPattern, "a Kubernetes namespace name (lower case letters, digits and '-', at most 63)")
		v.names(field+".container_names", c.ContainerNames, 63, dnsLabelPattern, "a Kubernetes container name (lower case letters, digits and '-', at most 63)")
		v.names(field+".hosts", c.Hosts, 253, dnsSubdomainPattern, "a Kubernetes node name (a lower case DNS subdomain, at most 253)")
		for j, app := range c.Applications {
			if !appNamePattern.MatchString(app) || !utf8.ValidString(app) {
				v.add(fmt.Sprintf("%s.applications[%d]", field, j), fmt.Sprintf("%q is not an application name (non-empty, no '/', no control characters)", app))
			}
		}
	}
	return v.problems
}

func (v *validator) names(field string, names []string, maxLen int, pattern *regexp.Regexp, want string) {
	for i, n := range names {
		if len(n) > maxLen || !pattern.MatchString(n) {
			v.add(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q is not %s", n, want))
		}
	}
}

// labels checks label selectors against Kubernetes' label syntax: keys are
// [prefix/]name with a DNS subdomain prefix of at most 253 characters and a
// name of at most 63; values are at most 63 characters, possibly empty.
func (v *validator) labels(field string, labels map[string]string) {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys) // problems in a stable order
	for _, k := range keys {
		if msg := labelKeyProblem(k); msg != "" {
			v.add(field, fmt.Sprintf("key %q %s", k, msg))
		}
		if val := labels[k]; len(val) > 63 || (val != "" && !labelNamePattern.MatchString(val)) {
			v.add(field+"."+k, fmt.Sprintf("%q is not a label value (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)", val))
		}
	}
}

func labelKeyProblem(k string) string {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		prefix, name = "", k
	}
	switch {
	case hasPrefix && (prefix == "" || len(prefix) > 253 || !dnsSubdomainPattern.MatchString(prefix)):
		return "has a prefix that is not a DNS subdomain of at most 253 characters"
	case name == "" || len(name) > 63 || !labelNamePattern.MatchString(name):
		return "is not a label key (an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)"
	}
	return ""
}
