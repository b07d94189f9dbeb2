// Package keyparse maps object keys to the tenant, cluster, application and
// pod they belong to, and back, using key templates such as the default
// "{cluster_id}/{namespace}/{application}/{pod_name}/{file}".
//
// Parsing is strict: a key that does not match its template exactly, or
// whose segments are empty, ".", "..", or hold control characters or invalid
// UTF-8, is rejected with an error wrapping ErrInvalidKey. Nothing is
// guessed.
package keyparse

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultTemplate is the key layout the collector writes by default. The
// tenant is the namespace.
const DefaultTemplate = "{cluster_id}/{namespace}/{application}/{pod_name}/{file}"

// Field names usable in templates.
const (
	FieldCluster     = "cluster_id"
	FieldNamespace   = "namespace"
	FieldTenant      = "tenant_id"
	FieldApplication = "application"
	FieldPod         = "pod_name"
	FieldFile        = "file"
)

// ErrInvalidKey is matched by errors.Is for every key that cannot be parsed
// or formatted.
var ErrInvalidKey = errors.New("invalid object key")

// ErrInvalidTemplate is matched by errors.Is for every template that cannot
// be used.
var ErrInvalidTemplate = errors.New("invalid key template")

// Key is what an object key says about the object.
type Key struct {
	Cluster     string
	Namespace   string
	Tenant      string // the explicit tenant segment, or the namespace
	Application string
	Pod         string
	File        string
}

// field returns the value of a template field.
func (k Key) field(name string) (string, bool) {
	switch name {
	case FieldCluster:
		return k.Cluster, true
	case FieldNamespace:
		return k.Namespace, true
	case FieldTenant:
		return k.Tenant, true
	case FieldApplication:
		return k.Application, true
	case FieldPod:
		return k.Pod, true
	case FieldFile:
		return k.File, true
	}
	return "", false
}

func (k *Key) set(name, v string) {
	switch name {
	case FieldCluster:
		k.Cluster = v
	case FieldNamespace:
		k.Namespace = v
	case FieldTenant:
		k.Tenant = v
	case FieldApplication:
		k.Application = v
	case FieldPod:
		k.Pod = v
	case FieldFile:
		k.File = v
	}
}

// FileTime returns the time encoded at the start of the file name, as the
// collector writes it: Unix seconds (10 digits) or milliseconds (13
// digits), or an RFC 3339 UTC timestamp with "-" or ":" between the time
// fields. It reports false when the name starts with none of these.
func (k Key) FileTime() (time.Time, bool) {
	f := k.File
	n := 0
	for n < len(f) && f[n] >= '0' && f[n] <= '9' {
		n++
	}
	if n == 10 || n == 13 {
		if n < len(f) && f[n] != '-' && f[n] != '_' && f[n] != '.' {
			return time.Time{}, false
		}
		v, err := strconv.ParseInt(f[:n], 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		if n == 10 {
			return time.Unix(v, 0).UTC(), true
		}
		return time.UnixMilli(v).UTC(), true
	}
	if len(f) >= 20 {
		s := f[:20]
		s = s[:13] + ":" + s[14:16] + ":" + s[17:]
		if t, err := time.Parse("2006-01-02T15:04:05Z", s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// KeyError describes why a key was rejected.
type KeyError struct {
	Key    string
	Reason string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("invalid object key %q: %s", e.Key, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidKey) true.
func (e *KeyError) Is(target error) bool { return target == ErrInvalidKey }

// token is a literal text or a placeholder of a template.
type token struct {
	text  string
	field bool
}

// Template is a parsed key template. Templates are immutable and safe for
// concurrent use.
type Template struct {
	pattern string
	tokens  []token
	// segments holds, per "/"-separated segment, its tokens; set only when
	// the template can parse keys.
	segments [][]token
	parseErr error
}

// Default returns the default template.
func Default() *Template { return MustNew(DefaultTemplate) }

// New parses a template. Placeholders are written {name}. Templates that
// parse keys may use the fields cluster_id, namespace, tenant_id,
// application, pod_name and file, at most once each and at most one per
// "/"-separated segment, and must name the tenant (tenant_id, or namespace
// which then is the tenant). Templates used only to format keys may also
// name other placeholders, filled from the vars given to Expand.
func New(pattern string) (*Template, error) {
	t := &Template{pattern: pattern}
	if pattern == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidTemplate)
	}
	rest := pattern
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			t.tokens = append(t.tokens, token{text: rest})
			break
		}
		if rest[i] == '}' {
			return nil, fmt.Errorf("%w %q: unmatched '}'", ErrInvalidTemplate, pattern)
		}
		if i > 0 {
			t.tokens = append(t.tokens, token{text: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("%w %q: unclosed '{'", ErrInvalidTemplate, pattern)
		}
		name := rest[i+1 : i+j]
		if !validPlaceholder(name) {
			return nil, fmt.Errorf("%w %q: bad placeholder {%s}", ErrInvalidTemplate, pattern, name)
		}
		t.tokens = append(t.tokens, token{text: name, field: true})
		rest = rest[i+j+1:]
	}
	t.segments, t.parseErr = parseSegments(pattern, t.tokens)
	return t, nil
}

// MustNew is like New but panics on error. It is for templates known at
// compile time.
func MustNew(pattern string) *Template {
	t, err := New(pattern)
	if err != nil {
		panic(err)
	}
	return t
}

func validPlaceholder(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && r != '_' && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// parseSegments splits tokens into "/"-separated segments and checks that
// they can parse keys.
func parseSegments(pattern string, tokens []token) ([][]token, error) {
	segs := [][]token{nil}
	seen := map[string]bool{}
	for _, tok := range tokens {
		if tok.field {
			if _, ok := (Key{}).field(tok.text); !ok {
				return nil, fmt.Errorf("%w %q: {%s} is not a key field", ErrInvalidTemplate, pattern, tok.text)
			}
			if seen[tok.text] {
				return nil, fmt.Errorf("%w %q: {%s} appears twice", ErrInvalidTemplate, pattern, tok.text)
			}
			seen[tok.text] = true
			segs[len(segs)-1] = append(segs[len(segs)-1], tok)
			continue
		}
		parts := strings.Split(tok.text, "/")
		for i, p := range parts {
			if i > 0 {
				segs = append(segs, nil)
			}
			if p != "" {
				segs[len(segs)-1] = append(segs[len(segs)-1], token{text: p})
			}
		}
	}
	for i, seg := range segs {
		if len(seg) == 0 {
			return nil, fmt.Errorf("%w %q: segment %d is empty", ErrInvalidTemplate, pattern, i+1)
		}
		fields := 0
		for _, tok := range seg {
			if tok.field {
				fields++
			}
		}
		if fields > 1 {
			return nil, fmt.Errorf("%w %q: segment %d has more than one placeholder", ErrInvalidTemplate, pattern, i+1)
		}
	}
	if !seen[FieldTenant] && !seen[FieldNamespace] {
		return nil, fmt.Errorf("%w %q: names neither {tenant_id} nor {namespace}", ErrInvalidTemplate, pattern)
	}
	return segs, nil
}

// String returns the template's pattern.
func (t *Template) String() string { return t.pattern }

// Parse parses an object key (already URL-decoded). The error wraps
// ErrInvalidKey, or ErrInvalidTemplate when t can only format keys.
func (t *Template) Parse(key string) (Key, error) {
	if t.parseErr != nil {
		return Key{}, fmt.Errorf("cannot parse keys: %w", t.parseErr)
	}
	if err := checkText(key); err != "" {
		return Key{}, &KeyError{Key: key, Reason: err}
	}
	parts := strings.Split(key, "/")
	if len(parts) != len(t.segments) {
		return Key{}, &KeyError{Key: key, Reason: fmt.Sprintf("has %d segments, template %q has %d", len(parts), t.pattern, len(t.segments))}
	}
	var k Key
	for i, seg := range t.segments {
		part := parts[i]
		if reason := checkSegment(part); reason != "" {
			return Key{}, &KeyError{Key: key, Reason: fmt.Sprintf("segment %d %s", i+1, reason)}
		}
		// A segment is literal text, or prefix{field}suffix.
		var prefix, suffix, field string
		for _, tok := range seg {
			switch {
			case tok.field:
				field = tok.text
			case field == "":
				prefix += tok.text
			default:
				suffix += tok.text
			}
		}
		if field == "" {
			if part != prefix {
				return Key{}, &KeyError{Key: key, Reason: fmt.Sprintf("segment %d is %q, template wants %q", i+1, part, prefix)}
			}
			continue
		}
		if len(part) <= len(prefix)+len(suffix) || !strings.HasPrefix(part, prefix) || !strings.HasSuffix(part, suffix) {
			return Key{}, &KeyError{Key: key, Reason: fmt.Sprintf("segment %d %q does not match %q", i+1, part, "{"+field+"}")}
		}
		v := part[len(prefix) : len(part)-len(suffix)]
		if reason := checkSegment(v); reason != "" {
			return Key{}, &KeyError{Key: key, Reason: fmt.Sprintf("{%s} %s", field, reason)}
		}
		k.set(field, v)
	}
	if k.Tenant == "" {
		k.Tenant = k.Namespace
	}
	return k, nil
}

// Format builds the key of k from the template. Every field the template
// names must be set and be a valid segment.
func (t *Template) Format(k Key) (string, error) {
	return t.Expand(k, nil)
}

// Expand is Format with extra placeholders: a placeholder that is not a key
// field is replaced by vars[name] verbatim (it may contain "/", as a bucket
// prefix does). A placeholder with no value is an error.
func (t *Template) Expand(k Key, vars map[string]string) (string, error) {
	var b strings.Builder
	for _, tok := range t.tokens {
		if !tok.field {
			b.WriteString(tok.text)
			continue
		}
		v, isField := k.field(tok.text)
		if !isField {
			var ok bool
			if v, ok = vars[tok.text]; !ok {
				return "", fmt.Errorf("%w: template %q: no value for {%s}", ErrInvalidKey, t.pattern, tok.text)
			}
			b.WriteString(v)
			continue
		}
		if reason := checkSegment(v); reason != "" {
			return "", fmt.Errorf("%w: template %q: {%s} %s", ErrInvalidKey, t.pattern, tok.text, reason)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// Parse parses key with the default template.
func Parse(key string) (Key, error) { return defaultTemplate.Parse(key) }

var defaultTemplate = MustNew(DefaultTemplate)

// checkText returns why s cannot be a key, or "".
func checkText(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > 1024:
		return fmt.Sprintf("is %d bytes long, more than S3's 1024", len(s))
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	return ""
}

// checkSegment returns why s cannot be a key segment, or "".
func checkSegment(s string) string {
	switch s {
	case "":
		return "is empty"
	case ".", "..":
		return fmt.Sprintf("is %q", s)
	}
	if strings.ContainsRune(s, '/') {
		return "contains '/'"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("contains control character %U", r)
		}
	}
	return ""
}

// DecodeNotificationKey decodes an object key as S3 event notifications
// carry it: URL-encoded, with "+" for a space.
func DecodeNotificationKey(s string) (string, error) {
	k, err := url.QueryUnescape(s)
	if err != nil {
		return "", &KeyError{Key: s, Reason: "bad URL encoding: " + err.Error()}
	}
	return k, nil
}
