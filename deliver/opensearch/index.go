package opensearch

import (
	"errors"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/fault"
)

// DefaultIndex is the index template of destinations without one: one
// index per tenant and day, such as logs-acme-2026.11.30.
const DefaultIndex = "logs-{tenant_id}-%Y.%m.%d"

// tenantPlaceholder is replaced by the tenant id, lower-cased.
const tenantPlaceholder = "{tenant_id}"

// Limits of an index template.
const (
	maxIndexWord    = 64 // letters and digits of the prefix
	maxIndexFormats = 3  // directives after %Y
)

// ErrIndexTemplate is matched by errors.Is on every error of
// ParseIndexTemplate.
var ErrIndexTemplate = errors.New("invalid index template")

// IndexTemplate is a parsed index template: the index of each document,
// from the tenant id and the document's time (UTC). Make one with
// ParseIndexTemplate.
//
// A template is PREFIX{tenant_id}SUFFIX, where
//
//   - PREFIX is one word of 1 to 64 lower-case letters and digits followed
//     by a separator, '-', '_' or '.' (logs-, k8s_);
//   - {tenant_id} is the tenant id, lower-cased, exactly once;
//   - SUFFIX is a separator and %Y (the year), followed by up to three
//     separators each followed by %m (month), %d (day) or %H (hour), each
//     two digits (-%Y.%m.%d, _%Y-%m, .%Y.%m.%d.%H).
//
// The grammar is what confines tenants on a shared cluster: whatever
// templates two tenants choose, their indexes differ unless their ids are
// equal ignoring case. The prefix word ends at the first separator, so
// it cannot absorb part of a tenant id (tenant corp with a prefix
// logs-acme- would otherwise write tenant acme-corp's logs-acme-corp-…);
// the suffix holds no letters and its digits come in groups of four then
// two, after separators, so it cannot continue a tenant id either (tenant
// acme could otherwise write logs-acme-corp-… or the indexes of tenant
// acme-2026). Tenant acme's indexes all match the regular expression
//
//	[a-z0-9]+[-_.]acme[-_.][0-9]{4}([-_.][0-9]{2}){0,3}
//
// which is the index permission to grant it on a shared cluster (the
// wildcard logs-acme-* would also grant tenant acme-corp's indexes).
type IndexTemplate struct {
	prefix string // the word and its separator
	sep    byte   // before %Y
	parts  []indexPart
}

type indexPart struct {
	sep       byte
	directive byte // 'm', 'd' or 'H'
}

// ParseIndexTemplate parses and validates an index template (see
// IndexTemplate). Errors match ErrIndexTemplate.
func ParseIndexTemplate(s string) (*IndexTemplate, error) {
	prefix, suffix, ok := strings.Cut(s, tenantPlaceholder)
	switch {
	case !ok:
		return nil, indexError("must contain " + tenantPlaceholder + ", so that each tenant writes its own indexes")
	case strings.Contains(suffix, tenantPlaceholder):
		return nil, indexError("must contain " + tenantPlaceholder + " once")
	}
	word := strings.TrimRight(prefix, "-_.")
	if len(word) != len(prefix)-1 || word == "" || len(word) > maxIndexWord || !isWord(word) {
		return nil, indexError("must start with one word of 1 to 64 lower-case letters and digits and one separator ('-', '_' or '.') before " + tenantPlaceholder + ", such as logs-")
	}
	t := &IndexTemplate{prefix: prefix}
	if len(suffix) < 3 || !isSep(suffix[0]) || suffix[1:3] != "%Y" {
		return nil, indexError("must continue after " + tenantPlaceholder + " with a separator and %Y, such as -%Y.%m.%d")
	}
	t.sep = suffix[0]
	rest := suffix[3:]
	for rest != "" {
		if len(rest) < 3 || !isSep(rest[0]) || rest[1] != '%' || !strings.ContainsRune("mdH", rune(rest[2])) {
			return nil, indexError("after %Y, each part must be a separator ('-', '_' or '.') and %m, %d or %H, such as .%m.%d")
		}
		t.parts = append(t.parts, indexPart{sep: rest[0], directive: rest[2]})
		rest = rest[3:]
	}
	if len(t.parts) > maxIndexFormats {
		return nil, indexError("may have at most 3 parts after %Y")
	}
	return t, nil
}

func indexError(msg string) error { return &templateError{msg} }

type templateError struct{ msg string }

func (e *templateError) Error() string { return "invalid index template: " + e.msg }

// Is makes the error match ErrIndexTemplate and be permanent.
func (e *templateError) Is(target error) bool {
	return target == ErrIndexTemplate || target == fault.ErrPermanent
}

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func isSep(c byte) bool { return c == '-' || c == '_' || c == '.' }

// String returns the template.
func (t *IndexTemplate) String() string {
	var b strings.Builder
	b.WriteString(t.prefix)
	b.WriteString(tenantPlaceholder)
	b.WriteByte(t.sep)
	b.WriteString("%Y")
	for _, p := range t.parts {
		b.WriteByte(p.sep)
		b.WriteByte('%')
		b.WriteByte(p.directive)
	}
	return b.String()
}

// Index returns the index of a document of tenantID at tm.
func (t *IndexTemplate) Index(tenantID string, tm time.Time) string {
	return string(t.append(nil, strings.ToLower(tenantID), tm))
}

// append appends the index of tenant (lower-cased already) at tm.
func (t *IndexTemplate) append(dst []byte, tenant string, tm time.Time) []byte {
	tm = tm.UTC()
	dst = append(dst, t.prefix...)
	dst = append(dst, tenant...)
	dst = append(dst, t.sep)
	y := tm.Year()
	if y < 0 || y > 9999 {
		y = max(0, min(y, 9999))
	}
	dst = append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
	for _, p := range t.parts {
		var v int
		switch p.directive {
		case 'm':
			v = int(tm.Month())
		case 'd':
			v = tm.Day()
		case 'H':
			v = tm.Hour()
		}
		dst = append(dst, p.sep, byte('0'+v/10), byte('0'+v%10))
	}
	return dst
}

// indexer renders the indexes of one delivery, reusing the last one while
// documents fall in the same hour.
type indexer struct {
	t      *IndexTemplate
	tenant string // lower-cased
	hour   int64  // Unix hour of last, or -1
	last   []byte
}

func newIndexer(t *IndexTemplate, tenantID string) *indexer {
	return &indexer{t: t, tenant: strings.ToLower(tenantID), hour: -1 << 62}
}

// index returns the index of a document at tm, valid until the next call.
func (x *indexer) index(tm time.Time) []byte {
	h := tm.Unix()
	if h < 0 {
		h -= 3599
	}
	h /= 3600
	if h != x.hour {
		x.hour = h
		x.last = x.t.append(x.last[:0], x.tenant, tm)
	}
	return x.last
}
