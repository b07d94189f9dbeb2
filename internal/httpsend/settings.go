package httpsend

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/tenant"
)

// Bounds of the settings the HTTP kinds share.
const (
	// MaxHeaders bounds the static headers of a destination.
	MaxHeaders = 32
	// MaxHeaderName and MaxHeaderValue bound each header, in bytes.
	MaxHeaderName  = 128
	MaxHeaderValue = 4096
	// MinRequestBytes and MaxRequestBytes bound a max_request_bytes
	// setting.
	MinRequestBytes = 64 << 10
	MaxRequestBytes = 100 << 20
)

// Problems collects the problems of settings.
type Problems []tenant.FieldError

// Add adds a problem of field.
func (p *Problems) Add(field, format string, args ...any) {
	*p = append(*p, tenant.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// URL adds the problem of a tenant URL under policy, if any: what
// egress.Policy.ValidateURL refuses, a query when query is false, a path
// other than "" or "/" when path is false.
func (p *Problems) URL(field string, policy egress.Policy, raw string, query, path bool) {
	if raw == "" {
		return
	}
	u, err := policy.ValidateURL(raw)
	if err != nil {
		p.Add(field, "%s", strings.TrimPrefix(err.Error(), "egress: "))
		return
	}
	if !query && (u.RawQuery != "" || strings.HasSuffix(raw, "?")) {
		p.Add(field, "must not have a query")
	}
	if !path && u.Path != "" && u.Path != "/" {
		p.Add(field, "must not have a path")
	}
}

// hopByHop are the headers of one connection (RFC 9110, section 7.6.1),
// which no destination may set.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// owned are the headers the deliverers set themselves.
var owned = []string{"Host", "Authorization", "Content-Length", "Content-Type", "Content-Encoding", "Expect", "User-Agent"}

// Headers adds the problems of static headers: at most MaxHeaders; names
// that are HTTP tokens of at most MaxHeaderName bytes; values of printable
// ASCII, spaces and tabs, at most MaxHeaderValue bytes; no hop-by-hop
// header and none of the headers the deliverer sets (Host,
// Authorization, Content-Type, Content-Length, Content-Encoding, Expect,
// User-Agent), nor any name that reserved reports (a kind's own headers,
// with the reason).
func (p *Problems) Headers(field string, h map[string]string, reserved func(canonical string) string) {
	if len(h) > MaxHeaders {
		p.Add(field, "has %d headers; at most %d are allowed", len(h), MaxHeaders)
		return
	}
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	seen := map[string]string{}
	for _, name := range names {
		f := field + "." + name
		if !isToken(name) || len(name) > MaxHeaderName {
			p.Add(field, "%q is not a header name (1 to %d letters, digits and !#$%%&'*+-.^_`|~)", shorten(name), MaxHeaderName)
			continue
		}
		c := http.CanonicalHeaderKey(name)
		switch {
		case seen[c] != "":
			p.Add(f, "is the header %s again (header names are case-insensitive)", seen[c])
			continue
		case slices.Contains(hopByHop, c):
			p.Add(f, "is a hop-by-hop header, which destinations may not set")
		case slices.Contains(owned, c):
			p.Add(f, "is set by the deliverer and cannot be overridden")
		case reserved != nil && reserved(c) != "":
			p.Add(f, "%s", reserved(c))
		}
		seen[c] = name
		if v := h[name]; len(v) > MaxHeaderValue || !isValue(v) {
			p.Add(f, "the value must be at most %d bytes of printable ASCII, spaces and tabs", MaxHeaderValue)
		}
	}
}

// MaxBytes adds the problem of a max_request_bytes setting (0: unset).
func (p *Problems) MaxBytes(field string, n int) {
	if n != 0 && (n < MinRequestBytes || n > MaxRequestBytes) {
		p.Add(field, "must be from %d (64 KiB) to %d (100 MiB)", MinRequestBytes, MaxRequestBytes)
	}
}

// Header returns h as an http.Header, with canonical names.
func Header(h map[string]string) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		out.Set(k, v)
	}
	return out
}

// isToken reports whether s is an HTTP token (RFC 9110, section 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

func shorten(s string) string {
	if len(s) > 32 {
		return strings.ToValidUTF8(s[:32], "") + "..."
	}
	return s
}
