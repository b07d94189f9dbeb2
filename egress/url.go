package egress

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxURLLength is the longest URL ValidateURL accepts, in bytes.
const MaxURLLength = 2048

// ValidateURL is Policy{}.ValidateURL: it validates raw against the strict
// default policy.
func ValidateURL(raw string) (*url.URL, error) {
	return Policy{}.ValidateURL(raw)
}

// ValidateURL parses raw strictly and checks it against p, for checks when
// a configuration is written. It returns the URL with its host lower-cased,
// or a *RefusedError (permanent) naming the rule broken:
//
//   - longer than MaxURLLength, or holding a byte that is a control
//     character, a space, a backslash or not ASCII (some parsers read a
//     backslash as a slash; paths must be percent-encoded, host names
//     written in punycode);
//   - not absolute (scheme://host), or opaque (https:host);
//   - a scheme other than https (and http, when p.AllowHTTP is set);
//   - userinfo (https://user:pass@host, even https://@host);
//   - a fragment, even an empty one;
//   - an empty host, a percent-encoded host, an IPv6 zone;
//   - a port that is empty (host:), has a leading zero, is out of range
//     or is not in p.Ports (the scheme's port when none is given);
//   - a host refused by p (see the package documentation): IP literals
//     in refused ranges, localhost names, metadata names, non-canonical
//     IPv4 forms (2130706433, 0177.0.0.1, 0x7f.1, 127.1, 0), trailing dots,
//     malformed names.
//
// ValidateURL does not resolve names: where a name leads is checked when
// a client from NewClient connects. When p is invalid, it returns p's
// Validate error (retryable: the operator's error).
func (p Policy) ValidateURL(raw string) (*url.URL, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(raw) > MaxURLLength {
		return nil, refuseURL("the URL is longer than %d bytes", MaxURLLength)
	}
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c >= 0x80:
			return nil, refuseURL("non-ASCII byte at offset %d (write host names in punycode, percent-encode paths)", i)
		case c <= ' ' || c == 0x7f:
			return nil, refuseURL("control character or space at offset %d", i)
		case c == '\\':
			return nil, refuseURL("backslash at offset %d", i)
		}
	}
	if strings.Contains(raw, "#") {
		return nil, refuseURL("fragments are not allowed")
	}
	if _, rest, ok := strings.Cut(raw, "://"); ok {
		authority, _, _ := strings.Cut(rest, "/")
		authority, _, _ = strings.Cut(authority, "?")
		if strings.Contains(authority, "@") {
			return nil, refuseURL("userinfo (user:password@) is not allowed")
		}
		if strings.Contains(authority, "%") {
			return nil, refuseURL("percent-encoded hosts and IPv6 zones are not allowed")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The message of a *url.Error quotes raw, which may hold
		// credentials: keep its cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, refuseURL("malformed URL: %v", err)
	}
	if u.Scheme == "" || u.Opaque != "" || !strings.HasPrefix(raw[len(u.Scheme):], "://") {
		return nil, refuseURL("the URL must be absolute, scheme://host[:port][/path]")
	}
	u.Host = strings.ToLower(u.Host)
	if err := p.checkURL(u); err != nil {
		return nil, err
	}
	return u, nil
}

// checkURL checks what of a parsed URL a request depends on: scheme,
// userinfo, host and port. The client checks every request with it.
func (p Policy) checkURL(u *url.URL) error {
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP {
			return refuseURL("the http scheme is not allowed (use https)")
		}
	default:
		return refuseURL("the scheme %q is not allowed (use https)", u.Scheme)
	}
	if u.User != nil {
		return refuseURL("userinfo (user:password@) is not allowed")
	}
	if u.Opaque != "" {
		return refuseURL("the URL must be absolute, scheme://host[:port][/path]")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return refuseURL("the host is empty")
	}
	if strings.HasPrefix(u.Host, "[") {
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return refuseHost(host, "brackets must enclose an IPv6 address")
		}
	}
	port, err := urlPort(u)
	if err != nil {
		return refuseHost(host, "%v", err)
	}
	if _, _, err := p.checkHost(host); err != nil {
		return err
	}
	return p.checkPort(host, port)
}

// urlPort returns the port of u, or its scheme's port.
func urlPort(u *url.URL) (int, error) {
	s := u.Port()
	if s == "" {
		if strings.HasSuffix(u.Host, ":") {
			return 0, errors.New("the port is empty")
		}
		if u.Scheme == "http" {
			return 80, nil
		}
		return 443, nil
	}
	return parsePort(s)
}

// parsePort parses a canonical decimal port: 1 to 65535, no sign, no
// leading zero.
func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || s[0] < '1' || s[0] > '9' || n > 65535 {
		return 0, errors.New("the port " + strconv.Quote(s) + " is not a number from 1 to 65535 without leading zeros")
	}
	return n, nil
}
