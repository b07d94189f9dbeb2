package configapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// canonicalLine is one line of the string an LD-HMAC-SHA256 signature
// covers. The table below is both what canonicalRequest joins and what
// SigningDescription documents (and with it the OpenAPI document), so the
// two cannot drift apart.
type canonicalLine struct {
	name  string // as the documentation names it
	doc   string // what it holds
	value func(f signed, path, query string) string
}

var canonicalLines = []canonicalLine{
	{Scheme, "the scheme name, as is",
		func(signed, string, string) string { return Scheme }},
	{"method", "the request method as sent, such as PATCH",
		func(f signed, _, _ string) string { return f.method }},
	{"host", "the Host header as sent (host, or host:port when the URL has a port), lower case",
		func(f signed, _, _ string) string { return strings.ToLower(f.host) }},
	{"canonical path", "the path of the request line, each segment between slashes percent-decoded then encoded again (see Encoding); an empty path is /",
		func(_ signed, path, _ string) string { return path }},
	{"canonical query", "the query parameters sorted by name (the values of a repeated name in the order sent), each name and value decoded (+ is a space) then encoded again, as name=value joined by &; an empty line without a query",
		func(_ signed, _, query string) string { return query }},
	{"key id", "the key id, as in Authorization",
		func(f signed, _, _ string) string { return f.keyID }},
	{HeaderDate, "the " + HeaderDate + " header as sent",
		func(f signed, _, _ string) string { return f.date }},
	{HeaderNonce, "the " + HeaderNonce + " header as sent",
		func(f signed, _, _ string) string { return f.nonce }},
	{"If-Match", "the If-Match header as sent (quotes included); an empty line without one",
		func(f signed, _, _ string) string { return f.ifMatch }},
	{"body hash", "the lower-case hex SHA-256 of the body as sent; of the empty string without a body",
		func(f signed, _, _ string) string { sum := sha256.Sum256(f.body); return hex.EncodeToString(sum[:]) }},
}

// encodingRule is how canonical paths and queries encode.
const encodingRule = "Encoding keeps A-Z, a-z, 0-9, '-', '.', '_' and '~' and percent-encodes every other byte with upper-case hex: s3:archive becomes s3%3Aarchive, a space %20."

// canonicalRequest returns the string a request's signature covers: the
// values of canonicalLines joined by "\n".
func canonicalRequest(f signed) (string, error) {
	path, err := canonicalPath(f.escapedPath)
	if err != nil {
		return "", err
	}
	query, err := canonicalQuery(f.rawQuery)
	if err != nil {
		return "", err
	}
	lines := make([]string, len(canonicalLines))
	for i, l := range canonicalLines {
		lines[i] = l.value(f, path, query)
	}
	return strings.Join(lines, "\n"), nil
}

// SigningVector is a worked example of the LD-HMAC-SHA256 scheme, for
// implementers in other languages: the request, the string signed and
// the signature, all computed by the code that verifies signatures.
type SigningVector struct {
	KeyID, Secret, Method, URL, IfMatch, Body, Date, Nonce string
	// Canonical is the string signed; Signature its hex HMAC-SHA256 with
	// Secret; Authorization the header sent.
	Canonical, Signature, Authorization string
}

// Vector returns the scheme's published test vector (in the OpenAPI
// document, the package documentation and the README).
func Vector() SigningVector {
	v := SigningVector{KeyID: "ops-2026", Secret: "s3cr3t", Method: "PATCH",
		URL:     "https://config.example.com/tenants/acme/delivery-configs/s3:archive?b=2&a=1",
		IfMatch: `"v1"`, Body: `{"enabled":false}`,
		Date: "2026-11-21T19:41:49Z", Nonce: "3q2-7wZ0S9ePj1vQ0nN4xA"}
	canonical, err := canonicalRequest(signed{method: v.Method, host: "config.example.com",
		escapedPath: "/tenants/acme/delivery-configs/s3:archive", rawQuery: "b=2&a=1",
		keyID: v.KeyID, date: v.Date, nonce: v.Nonce, ifMatch: v.IfMatch, body: []byte(v.Body)})
	if err != nil {
		panic(err) // fixed inputs
	}
	v.Canonical = canonical
	v.Signature = hex.EncodeToString(mac([]byte(v.Secret), canonical))
	v.Authorization = fmt.Sprintf("%s KeyId=%s, Signature=%s", Scheme, v.KeyID, v.Signature)
	return v
}

// SigningDescription documents the LD-HMAC-SHA256 scheme as the server
// verifies it, for the OpenAPI document: rendered from the lines the
// verifier signs, with the test vector computed by the verifier's code.
func SigningDescription() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Authorization: %s KeyId=<key id>, Signature=<signature>, with the headers %s "+
		"(RFC 3339 UTC, such as 2026-11-21T19:41:49Z; by default at most %v behind and %v ahead of the server's clock) and %s "+
		"(16 to 128 of A-Z a-z 0-9 - _, never reused). The signature is the lower-case hex HMAC-SHA256, keyed with the key's secret, "+
		"of these %d lines joined by \\n (no newline at the end):",
		Scheme, HeaderDate, DefaultWindow, DefaultFutureSkew, HeaderNonce, len(canonicalLines))
	items := make([]string, len(canonicalLines))
	for i, l := range canonicalLines {
		items[i] = fmt.Sprintf("(%d) %s: %s", i+1, l.name, l.doc)
	}
	b.WriteString(" " + strings.Join(items, "; ") + ".")
	v := Vector()
	fmt.Fprintf(&b, " %s Example: key id %s, secret %s, %s %s with If-Match %s and body %s, %s %s, %s %s: "+
		"the string signed is %q and the header is %s.",
		encodingRule, v.KeyID, v.Secret, v.Method, v.URL, v.IfMatch, v.Body, HeaderDate, v.Date, HeaderNonce, v.Nonce,
		v.Canonical, v.Authorization)
	return b.String()
}
