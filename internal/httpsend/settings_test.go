package httpsend

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/logdelivery/logdelivery/egress"
)

func messagesOf(p Problems) []string {
	var out []string
	for _, e := range p {
		out = append(out, e.Field+": "+e.Message)
	}
	return out
}

func TestHeaders(t *testing.T) {
	var p Problems
	p.Headers("headers", map[string]string{
		"AccountID":         "7",
		"X-Scope-OrgID":     "acme",
		"Connection":        "close",
		"transfer-encoding": "chunked",
		"Host":              "evil.example.com",
		"authorization":     "Bearer x",
		"Content-Type":      "text/plain",
		"X-Amz-Date":        "now",
		"Bad Name":          "x",
		"X-Crlf":            "a\r\nX-Injected: 1",
		"X-Long":            strings.Repeat("v", MaxHeaderValue+1),
	}, func(c string) string {
		if strings.HasPrefix(c, "X-Amz-") {
			return "is reserved for SigV4 signing"
		}
		return ""
	})
	assert.ElementsMatch(t, []string{
		`headers: "Bad Name" is not a header name (1 to 128 letters, digits and !#$%&'*+-.^_` + "`" + `|~)`,
		"headers.Connection: is a hop-by-hop header, which destinations may not set",
		"headers.transfer-encoding: is a hop-by-hop header, which destinations may not set",
		"headers.Host: is set by the deliverer and cannot be overridden",
		"headers.authorization: is set by the deliverer and cannot be overridden",
		"headers.Content-Type: is set by the deliverer and cannot be overridden",
		"headers.X-Amz-Date: is reserved for SigV4 signing",
		"headers.X-Crlf: the value must be at most 4096 bytes of printable ASCII, spaces and tabs",
		"headers.X-Long: the value must be at most 4096 bytes of printable ASCII, spaces and tabs",
	}, messagesOf(p))

	p = nil
	p.Headers("headers", map[string]string{"X-A": "1", "x-a": "2"}, nil)
	assert.Equal(t, []string{"headers.x-a: is the header X-A again (header names are case-insensitive)"}, messagesOf(p))

	p = nil
	many := map[string]string{}
	for i := range MaxHeaders + 1 {
		many[fmt.Sprintf("X-H%d", i)] = "v"
	}
	p.Headers("headers", many, nil)
	assert.Len(t, p, 1)
	assert.Equal(t, "7", Header(map[string]string{"accountid": "7"}).Get("AccountID"))
}

func TestURLProblems(t *testing.T) {
	strict := egress.Policy{}
	for raw, want := range map[string]string{
		"https://search.example.com":           "",
		"https://search.example.com/":          "",
		"https://search.example.com/es":        "url: must not have a path",
		"https://search.example.com/?a=b":      "url: must not have a query",
		"https://search.example.com?":          "url: must not have a query",
		"http://search.example.com":            "url: URL refused: the http scheme is not allowed (use https)",
		"https://10.0.0.5":                     `url: host "10.0.0.5" is a private address (RFC 1918)`,
		"https://search.example.com:9200/":     `url: host "search.example.com": port 9200 is not allowed (allowed: 443, 8443, 80, 8080)`,
		"https://user:pw@search.example.com/x": "url: URL refused: userinfo (user:password@) is not allowed",
	} {
		var p Problems
		p.URL("url", strict, raw, false, false)
		if want == "" {
			assert.Empty(t, p, raw)
		} else {
			assert.Equal(t, []string{want}, messagesOf(p), raw)
		}
	}
	var p Problems
	p.URL("url", strict, "https://hooks.example.com/a/b?token=x", true, true)
	assert.Empty(t, p)
	p.MaxBytes("max_request_bytes", 1000)
	p.MaxBytes("max_request_bytes", 0)
	p.MaxBytes("max_request_bytes", 5<<20)
	assert.Equal(t, []string{"max_request_bytes: must be from 65536 (64 KiB) to 104857600 (100 MiB)"}, messagesOf(p))
}
