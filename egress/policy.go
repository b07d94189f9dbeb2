package egress

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// DefaultPorts returns the ports a Policy with no Ports allows: the web
// ports 443 and 8443, and 80 and 8080 (useful only with AllowHTTP; an
// https URL on port 80 is merely odd). Destinations listening elsewhere
// (OpenSearch on 9200, Loki on 3100) need the operator to list their
// ports. Each call returns a new slice.
func DefaultPorts() []int { return slices.Clone(defaultPorts) }

var defaultPorts = []int{443, 8443, 80, 8080}

// Policy says which URLs and addresses tenant destinations may reach. The
// zero Policy is the strict default: https only, on DefaultPorts, to
// public addresses (see the package documentation for what is refused).
// A Policy is a value; the functions given one copy what they keep. It
// encodes as JSON with snake_case members (allow_http, ports,
// allow_loopback, allow_prefixes, allow_hosts, deny_hosts), for operators'
// configuration files and environment variables.
type Policy struct {
	// AllowHTTP allows the http scheme besides https.
	AllowHTTP bool `json:"allow_http,omitempty"`

	// Ports lists the ports URLs may name or imply (443 for https, 80
	// for http). Default: DefaultPorts().
	Ports []int `json:"ports,omitempty"`

	// AllowLoopback allows the loopback addresses 127.0.0.0/8 and ::1,
	// and the names localhost and *.localhost, which then connect to
	// 127.0.0.1 and ::1 without a DNS lookup. For tests and for a
	// processor that delivers to a collector on its own host; never for a
	// processor serving tenants.
	AllowLoopback bool `json:"allow_loopback,omitempty"`

	// AllowPrefixes allows the addresses of these prefixes whatever rule
	// would refuse them, except the unspecified addresses and the cloud
	// metadata addresses, which are never allowed: for example the
	// operator's own 10.20.0.0/16 where an internal collector runs.
	// Prefixes must be IPv4 or IPv6, not IPv4-mapped IPv6
	// (::ffff:10.0.0.0/104 is written 10.0.0.0/8).
	AllowPrefixes []netip.Prefix `json:"allow_prefixes,omitempty"`

	// AllowHosts, when not empty, restricts hosts to these DNS names and
	// their subdomains ("example.com" allows example.com and
	// logs.example.com; a leading dot is ignored). IP literals are then
	// refused. A name it allows may be single-label or under a TLD used
	// internally (such as "collector.internal"); its addresses are still
	// checked. Localhost names need AllowLoopback besides; metadata names
	// are never allowed.
	AllowHosts []string `json:"allow_hosts,omitempty"`

	// DenyHosts refuses these DNS names and their subdomains, before
	// AllowHosts is consulted.
	DenyHosts []string `json:"deny_hosts,omitempty"`
}

// ParsePolicy decodes a Policy from its JSON form, such as
// {"ports":[443,3100],"allow_prefixes":["10.20.0.0/16"]}, refusing unknown
// members, and validates it. The empty string is the strict default.
func ParsePolicy(s string) (Policy, error) {
	var p Policy
	if strings.TrimSpace(s) == "" {
		return p, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("egress: policy: %w", err)
	}
	if dec.More() {
		return Policy{}, fmt.Errorf("egress: policy: more than one JSON value")
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// Validate reports whether p is well formed: ports in range, valid
// prefixes, host entries that are DNS names. The functions taking a
// Policy validate it; the error is retryable (the operator's, not the
// tenant's).
func (p Policy) Validate() error {
	for _, port := range p.Ports {
		if port < 1 || port > 65535 {
			return policyError("port %d is out of range", port)
		}
	}
	for _, pfx := range p.AllowPrefixes {
		if !pfx.IsValid() {
			return policyError("AllowPrefixes holds an invalid prefix")
		}
		if pfx.Addr().Is4In6() {
			return policyError("AllowPrefixes: write the IPv4-mapped prefix %s in its IPv4 form", pfx)
		}
		if pfx.Addr().Zone() != "" {
			return policyError("AllowPrefixes: prefix %s has a zone", pfx)
		}
	}
	for _, list := range []struct {
		name  string
		hosts []string
	}{{"AllowHosts", p.AllowHosts}, {"DenyHosts", p.DenyHosts}} {
		for _, h := range list.hosts {
			n := normalizeSuffix(h)
			if rule := checkSyntax(n); rule != "" {
				return policyError("%s entry %q: %s", list.name, h, rule)
			}
		}
	}
	return nil
}

// normalizeSuffix returns a host list entry in the form hosts are
// compared in.
func normalizeSuffix(s string) string {
	return strings.ToLower(strings.TrimPrefix(s, "."))
}

// matchesSuffix reports whether host (lower case) is one of the names of
// list or a subdomain of one.
func matchesSuffix(host string, list []string) (string, bool) {
	for _, entry := range list {
		s := normalizeSuffix(entry)
		if host == s || strings.HasSuffix(host, "."+s) {
			return entry, true
		}
	}
	return "", false
}

// checkPort refuses a port the policy does not allow.
func (p Policy) checkPort(host string, port int) error {
	ports := p.Ports
	if len(ports) == 0 {
		ports = defaultPorts
	}
	if slices.Contains(ports, port) {
		return nil
	}
	list := make([]string, len(ports))
	for i, port := range ports {
		list[i] = strconv.Itoa(port)
	}
	return refuseHost(host, "port %d is not allowed (allowed: %s)", port, strings.Join(list, ", "))
}

// CheckAddr reports whether p allows connecting to addr. It returns nil
// or a *RefusedError naming addr as the host.
func (p Policy) CheckAddr(addr netip.Addr) error {
	if rule := p.refusal(addr); rule != "" {
		return &RefusedError{Host: addr.String(), Addr: addr, Rule: rule}
	}
	return nil
}

// checkResolved is CheckAddr for an address host resolved to.
func (p Policy) checkResolved(host string, addr netip.Addr) error {
	if rule := p.refusal(addr); rule != "" {
		return &RefusedError{Host: host, Addr: addr, Rule: rule, resolved: true}
	}
	return nil
}

// refusal returns the rule that refuses addr, or "" when p allows it.
func (p Policy) refusal(addr netip.Addr) string {
	if !addr.IsValid() {
		return "not a valid address"
	}
	if addr.Zone() != "" {
		return "an address with an IPv6 zone"
	}
	a := addr.Unmap()
	if rule := never(a); rule != "" {
		return mapped(addr, a, rule)
	}
	if p.AllowLoopback && a.IsLoopback() {
		return ""
	}
	for _, pfx := range p.AllowPrefixes {
		if pfx.Contains(a) || pfx.Contains(addr) {
			return ""
		}
	}
	return mapped(addr, a, forbidden(a))
}

// mapped prefixes rule with the IPv4-mapped form when addr is one.
func mapped(addr, a netip.Addr, rule string) string {
	if rule == "" || !addr.Is4In6() {
		return rule
	}
	return fmt.Sprintf("the IPv4-mapped form of %s, %s", a, rule)
}

// A rangeRule names a special-purpose range.
type rangeRule struct {
	prefix netip.Prefix
	rule   string
}

func r(prefix, rule string) rangeRule {
	return rangeRule{prefix: netip.MustParsePrefix(prefix), rule: rule}
}

// metadataAddrs are the cloud metadata and host-agent addresses. They are
// never allowed, not even by AllowPrefixes.
var metadataAddrs = map[netip.Addr]string{
	netip.MustParseAddr("169.254.169.254"): "a cloud instance metadata address",
	netip.MustParseAddr("169.254.170.2"):   "the Amazon ECS task metadata address",
	netip.MustParseAddr("169.254.170.23"):  "the Amazon EKS Pod Identity agent address",
	netip.MustParseAddr("fd00:ec2::23"):    "the Amazon EKS Pod Identity agent address",
	netip.MustParseAddr("fd00:ec2::254"):   "the Amazon EC2 instance metadata address",
	netip.MustParseAddr("fd20:ce::254"):    "the Google Compute Engine metadata address",
	netip.MustParseAddr("100.100.100.200"): "the Alibaba Cloud metadata address",
	netip.MustParseAddr("168.63.129.16"):   "the Azure WireServer address",
}

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	unspecified = "an unspecified address (connecting to it reaches the local host)"
)

// never returns the rule of an address no allowance allows: the
// unspecified addresses and the metadata addresses, also when embedded.
func never(a netip.Addr) string {
	if rule, ok := metadataAddrs[a]; ok {
		return rule
	}
	if a.IsUnspecified() || thisNetwork.Contains(a) {
		return unspecified
	}
	if e, rule, ok := embeddedV4(a); ok {
		if r := never(e); r != "" {
			return fmt.Sprintf("%s embedding %s, %s", rule, e, r)
		}
	}
	return ""
}

var v4Rules = []rangeRule{
	r("255.255.255.255/32", "the limited broadcast address (RFC 919)"),
	r("10.0.0.0/8", "a private address (RFC 1918)"),
	r("100.64.0.0/10", "a shared CGNAT address (RFC 6598)"),
	r("127.0.0.0/8", "a loopback address (RFC 1122)"),
	r("169.254.0.0/16", "a link-local address (RFC 3927)"),
	r("172.16.0.0/12", "a private address (RFC 1918)"),
	r("192.0.0.0/24", "an IETF protocol assignment address (RFC 6890)"),
	r("192.0.2.0/24", "a documentation address (RFC 5737)"),
	r("192.88.99.0/24", "a 6to4 relay anycast address (RFC 7526)"),
	r("192.168.0.0/16", "a private address (RFC 1918)"),
	r("198.18.0.0/15", "a benchmarking address (RFC 2544)"),
	r("198.51.100.0/24", "a documentation address (RFC 5737)"),
	r("203.0.113.0/24", "a documentation address (RFC 5737)"),
	r("224.0.0.0/4", "a multicast address (RFC 5771)"),
	r("240.0.0.0/4", "a reserved address (RFC 1112)"),
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

var v6Rules = []rangeRule{
	r("::1/128", "the loopback address (RFC 4291)"),
	r("::/96", "an IPv4-compatible address (deprecated, RFC 4291)"),
	r("::ffff:0:0:0/96", "an IPv4-translated address (RFC 2765)"),
	r("64:ff9b:1::/48", "a local-use NAT64 address (RFC 8215)"),
	r("100::/64", "a discard-only address (RFC 6666)"),
	r("2001::/32", "a Teredo address (RFC 4380)"),
	r("2001:2::/48", "a benchmarking address (RFC 5180)"),
	r("2001:db8::/32", "a documentation address (RFC 3849)"),
	r("2001::/23", "an IETF protocol assignment address (RFC 2928)"),
	r("3fff::/20", "a documentation address (RFC 9637)"),
	r("5f00::/16", "a segment routing (SRv6) address (RFC 9602)"),
	r("fc00::/7", "a unique local (private) address (RFC 4193)"),
	r("fe80::/10", "a link-local address (RFC 4291)"),
	r("fec0::/10", "a site-local address (deprecated, RFC 3879)"),
	r("ff00::/8", "a multicast address (RFC 4291)"),
}

var globalUnicast = netip.MustParsePrefix("2000::/3")

// embeddedV4 returns the IPv4 address a NAT64 (64:ff9b::/96) or 6to4
// (2002::/16) address embeds, and the name of the form.
func embeddedV4(a netip.Addr) (netip.Addr, string, bool) {
	b := a.As16()
	switch {
	case !a.Is6():
		return netip.Addr{}, "", false
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), "a NAT64 address (RFC 6052)", true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), "a 6to4 address (RFC 3056)", true
	}
	return netip.Addr{}, "", false
}

// forbidden returns the rule refusing a (not IPv4-mapped), or "" when no
// rule does. It does not consider allowances.
func forbidden(a netip.Addr) string {
	if a.Is4() {
		for _, rr := range v4Rules {
			if rr.prefix.Contains(a) {
				return rr.rule
			}
		}
		return ""
	}
	if e, rule, ok := embeddedV4(a); ok {
		if r := forbidden(e); r != "" {
			return fmt.Sprintf("%s embedding %s, %s", rule, e, r)
		}
		return ""
	}
	for _, rr := range v6Rules {
		if rr.prefix.Contains(a) {
			return rr.rule
		}
	}
	if !globalUnicast.Contains(a) {
		return "an address outside the IPv6 global unicast range 2000::/3 (RFC 4291)"
	}
	return ""
}
