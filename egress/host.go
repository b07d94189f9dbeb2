package egress

import (
	"net/netip"
	"strings"
)

// metadataNames are the host names of cloud metadata services. They and
// their subdomains are never allowed.
var metadataNames = []string{
	"metadata.google.internal",
	"metadata.goog",
	"metadata",
	"instance-data",
	"instance-data.ec2.internal",
	"metadata.tencentyun.com",
}

// internalTLDs are top-level domains that are not delegated in the public
// DNS but are used for internal names (RFC 6761, RFC 6762, RFC 8375,
// RFC 9476, ICANN's .internal and the names ICANN will never delegate).
var internalTLDs = []string{
	"alt", "arpa", "corp", "example", "home", "internal", "intranet",
	"invalid", "lan", "local", "localdomain", "onion", "private", "test",
}

// checkHost checks host, the host of a URL or of an address to dial
// without brackets or port, lower-cased. For an IP literal it returns the
// address; for a localhost name p allows it reports loopback.
func (p Policy) checkHost(host string) (addr netip.Addr, loopback bool, err error) {
	if a, perr := netip.ParseAddr(host); perr == nil {
		if len(p.AllowHosts) > 0 {
			return netip.Addr{}, false, refuseHost(host, "IP address hosts are not allowed (the operator allows listed host names only)")
		}
		if rule := p.refusal(a); rule != "" {
			return netip.Addr{}, false, &RefusedError{Host: host, Addr: a, Rule: rule}
		}
		return a, false, nil
	}
	if strings.Contains(host, "%") {
		return netip.Addr{}, false, refuseHost(host, "IPv6 zones and percent-encoded host names are not allowed")
	}
	if rule := checkSyntax(host); rule != "" {
		return netip.Addr{}, false, refuseHost(host, "%s", rule)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		if !p.AllowLoopback {
			return netip.Addr{}, false, refuseHost(host, "localhost names are not allowed")
		}
		if _, ok := matchesSuffix(host, p.AllowHosts); len(p.AllowHosts) > 0 && !ok {
			return netip.Addr{}, false, refuseHost(host, "not among the host names the operator allows")
		}
		return netip.Addr{}, true, nil
	}
	if _, ok := matchesSuffix(host, metadataNames); ok {
		return netip.Addr{}, false, refuseHost(host, "a cloud metadata host name")
	}
	if entry, ok := matchesSuffix(host, p.DenyHosts); ok {
		return netip.Addr{}, false, refuseHost(host, "denied by the operator (DenyHosts %q)", entry)
	}
	if len(p.AllowHosts) > 0 {
		if _, ok := matchesSuffix(host, p.AllowHosts); ok {
			return netip.Addr{}, false, nil
		}
		return netip.Addr{}, false, refuseHost(host, "not among the host names the operator allows")
	}
	if !strings.Contains(host, ".") {
		return netip.Addr{}, false, refuseHost(host, "a single-label host name (it would resolve through the search list)")
	}
	if tld, ok := matchesSuffix(host, internalTLDs); ok {
		return netip.Addr{}, false, refuseHost(host, "a name under .%s, a top-level domain used for internal names", tld)
	}
	return netip.Addr{}, false, nil
}

// checkSyntax returns what is wrong with name as a DNS host name, or "":
// ASCII letter-digit-hyphen labels (RFC 1123) of 1 to 63 bytes, 253 in
// all, no trailing dot, and a last label that is not a number (which
// inet_aton and WHATWG URL parsers read as an IPv4 address).
func checkSyntax(name string) string {
	switch {
	case name == "":
		return "the host is empty"
	case len(name) > 253:
		return "the host name is longer than 253 bytes"
	case strings.HasSuffix(name, "."):
		return "host names must not end in a dot"
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" {
			return "the host name has an empty label"
		}
		if len(l) > 63 {
			return "a label of the host name is longer than 63 bytes"
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case c >= 0x80:
				return "the host name is not ASCII (write internationalized names in punycode, xn--)"
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			case c == '-' && i > 0 && i < len(l)-1:
			case c == '-':
				return "a label of the host name starts or ends with a hyphen"
			default:
				return "the host name has a character other than letters, digits, hyphens and dots"
			}
		}
	}
	if isNumber(labels[len(labels)-1]) {
		return "the host is a non-canonical IPv4 address (decimal, octal, hexadecimal or short form)"
	}
	return ""
}

// isNumber reports whether label is a decimal number or 0x followed by
// hexadecimal digits, as the WHATWG URL standard's "ends in a number"
// check does.
func isNumber(label string) bool {
	if len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		for i := 2; i < len(label); i++ {
			if !isHex(label[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(label); i++ {
		if label[i] < '0' || label[i] > '9' {
			return false
		}
	}
	return label != ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
