package egress_test

import (
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/logdelivery/logdelivery/egress"
)

var fuzzSeeds = []string{
	"https://logs.example.com/loki/api/v1/push",
	"http://example.com:8080/path?q=1",
	"https://8.8.8.8/",
	"https://[2606:4700::1111]:8443/",
	"https://[::ffff:8.8.8.8]/",
	"http://2130706433/",
	"http://0177.0.0.1/",
	"http://0x7f.1/",
	"http://127.1/",
	"http://0/",
	"http://[::1]:80",
	"https://[::ffff:127.0.0.1]/",
	"https://[::ffff:7f00:1]/",
	"https://[0:0:0:0:0:ffff:a00:1]/",
	"https://[64:ff9b::a00:1]/",
	"https://[2002:c0a8:101::1]/",
	"https://[fe80::1%25eth0]/",
	"https://localhost./",
	"https://LOCALHOST/",
	"https://user:pass@example.com/",
	"https://example.com:0443/",
	"https://example.com:65536/",
	"https://xn--exmple-cua.com/",
	"https://exämple.com/",
	"https://169.254.169.254/latest/meta-data/",
	"https://metadata.google.internal/computeMetadata/v1/",
	"https://example.com./",
	"https://%6c%6f%63alhost/",
	"https://evil.example\\@example.com/",
	"https://example.com/#frag",
	"https:example.com",
	"//example.com/",
}

// FuzzValidateURL checks that ValidateURL never panics, and that what it
// accepts re-parses to the same host, is accepted again, and has a host
// that is a DNS name no resolver or URL parser reads as an IP address, or
// an IP address outside every forbidden range by an independent check.
func FuzzValidateURL(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	p := egress.Policy{AllowHTTP: true}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := p.ValidateURL(raw)
		if err != nil {
			if u != nil {
				t.Fatalf("%q: a URL and an error", raw)
			}
			return
		}
		if u.User != nil || u.Fragment != "" || u.Opaque != "" || (u.Scheme != "https" && u.Scheme != "http") {
			t.Fatalf("%q: accepted %#v", raw, u)
		}
		again, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("%q: accepted, but %q does not parse: %v", raw, u, err)
		}
		if again.Hostname() != u.Hostname() {
			t.Fatalf("%q: host %q re-parses as %q", raw, u.Hostname(), again.Hostname())
		}
		if _, err := p.ValidateURL(u.String()); err != nil {
			t.Fatalf("%q: accepted, but its String %q is not: %v", raw, u, err)
		}
		host := again.Hostname()
		if addr, err := netip.ParseAddr(host); err == nil {
			if why := forbiddenByStdlib(addr); why != "" {
				t.Fatalf("%q: accepted the %s address %s", raw, why, addr)
			}
			return
		}
		if why := badName(host); why != "" {
			t.Fatalf("%q: accepted the host name %q, %s", raw, host, why)
		}
	})
}

// forbiddenByStdlib judges addr with net/netip's own predicates, as an
// oracle independent of the package's tables.
func forbiddenByStdlib(addr netip.Addr) string {
	a := addr.Unmap()
	switch {
	case a.Zone() != "":
		return "zoned"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case !a.IsGlobalUnicast():
		return "non-global-unicast"
	}
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "192.0.0.0/24", "192.0.2.0/24",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"::/96", "2001::/23", "2001:db8::/32", "fc00::/7", "fec0::/10",
		"168.63.129.16/32", "100.100.100.200/32",
	} {
		if netip.MustParsePrefix(s).Contains(a) {
			return "special-purpose (" + s + ")"
		}
	}
	b := a.As16()
	switch {
	case netip.MustParsePrefix("64:ff9b::/96").Contains(a):
		return forbiddenByStdlib(netip.AddrFrom4([4]byte(b[12:16])))
	case netip.MustParsePrefix("2002::/16").Contains(a):
		return forbiddenByStdlib(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return ""
}

var (
	ldhName    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
	inetNumber = regexp.MustCompile(`^(0[xX][0-9a-fA-F]*|[0-9]+)$`)
)

// badName says what is wrong with an accepted host name, or "".
func badName(host string) string {
	switch {
	case !ldhName.MatchString(host):
		return "not a lower-case multi-label LDH name"
	case net.ParseIP(host) != nil:
		return "an IP address to net.ParseIP"
	case looksLikeIPv4(host):
		return "an IPv4 address to inet_aton or a WHATWG URL parser"
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return "a localhost name"
	case strings.HasSuffix(host, ".internal") || strings.HasSuffix(host, ".local"):
		return "an internal name"
	}
	return ""
}

// looksLikeIPv4 reports whether host is one to four numbers (decimal,
// octal or hexadecimal) separated by dots, or ends in a number: what
// inet_aton and WHATWG URL parsers read as an IPv4 address.
func looksLikeIPv4(host string) bool {
	parts := strings.Split(strings.TrimSuffix(host, "."), ".")
	if inetNumber.MatchString(parts[len(parts)-1]) {
		return true
	}
	if len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		if !inetNumber.MatchString(p) {
			return false
		}
	}
	return true
}
