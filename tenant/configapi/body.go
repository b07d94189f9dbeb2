package configapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/logdelivery/logdelivery/tenant"
)

// etag returns the ETag of a config stored with the given updated_at: an
// opaque strong entity tag.
func etag(updatedAt string) string {
	return `"` + base64.RawURLEncoding.EncodeToString([]byte(updatedAt)) + `"`
}

// ifMatchHeader is a parsed If-Match header.
type ifMatchHeader struct {
	present  bool
	any      bool     // "*"
	versions []string // updated_at values of the valid entity tags listed
	invalid  bool     // some listed tag is weak or not one this API issued
}

// ifMatch parses If-Match, refusing its absence with 428 when
// Options.RequireIfMatch is set.
func (c *call) ifMatch() (ifMatchHeader, error) {
	var im ifMatchHeader
	for _, line := range c.r.Header.Values("If-Match") {
		for tag := range strings.SplitSeq(line, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "" {
				continue
			}
			im.present = true
			if tag == "*" {
				im.any = true
				continue
			}
			v, ok := strings.CutPrefix(tag, `"`)
			if v, ok2 := strings.CutSuffix(v, `"`); ok && ok2 {
				if b, err := base64.RawURLEncoding.DecodeString(v); err == nil && len(b) > 0 {
					im.versions = append(im.versions, string(b))
					continue
				}
			}
			// Weak tags never match: If-Match uses strong comparison.
			im.invalid = true
		}
	}
	if !im.present && c.h.opts.RequireIfMatch {
		return im, newProblem(ProblemPreconditionRequired, "this server requires If-Match with the ETag of the config being changed; GET it first")
	}
	return im, nil
}

// matches reports whether a config stored with updatedAt satisfies the
// header (an absent header is satisfied by anything).
func (im ifMatchHeader) matches(updatedAt string) bool {
	return !im.present || im.any || (updatedAt != "" && slices.Contains(im.versions, updatedAt))
}

// condition turns If-Match into the store condition of a write, so that the
// store checks it atomically with the write. A list of several tags is
// resolved against the stored config first.
func (c *call) condition(im ifMatchHeader) (tenant.Condition, error) {
	if !im.present || im.any {
		return tenant.Condition{}, nil
	}
	if len(im.versions) == 1 && !im.invalid {
		return tenant.Condition{IfUpdatedAt: im.versions[0]}, nil
	}
	cur, err := c.h.store.Get(c.r.Context(), c.tenantID, c.typ)
	if err != nil {
		return tenant.Condition{}, err
	}
	if !im.matches(cur.UpdatedAt) {
		return tenant.Condition{}, tenant.ErrConflict
	}
	return tenant.Condition{IfUpdatedAt: cur.UpdatedAt}, nil
}

// decodeObject parses body as exactly one JSON object whose members are
// each given once. Numbers are kept as json.Number. Whether the members are
// fields of a delivery config is decodeConfig's and the registry's to say.
func decodeObject(body []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, newProblem(ProblemBadRequest, "the request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, newProblem(ProblemBadRequest, "the request body is not valid UTF-8")
	}
	malformed := func(err error) error {
		return newProblem(ProblemBadRequest, "the request body is not valid JSON: "+syntaxDetail(err, body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(err)
	}
	if tok != json.Delim('{') {
		return nil, newProblem(ProblemBadRequest, "the request body must be a JSON object")
	}
	obj := map[string]any{}
	var bad []tenant.FieldError
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		key, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, malformed(err)
		}
		if _, dup := obj[key]; dup {
			bad = append(bad, tenant.FieldError{Field: key, Message: "is given more than once"})
		}
		obj[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, newProblem(ProblemBadRequest, fmt.Sprintf("the request body has data after the JSON object (at byte %d)", dec.InputOffset()))
	}
	if len(bad) > 0 {
		slices.SortStableFunc(bad, func(a, b tenant.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return nil, newProblem(ProblemBadRequest, "the request body has repeated fields", bad...)
	}
	return obj, nil
}

// syntaxDetail describes a JSON decoding error without Go internals.
func syntaxDetail(err error, body []byte) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s (at byte %d)", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Sprintf("unexpected end of input (at byte %d)", len(body))
	default:
		return "cannot be parsed"
	}
}

// decodeConfig turns a JSON value into a config (tenant.DecodeObject): a
// field of the wrong JSON type, or a setting in the wrong place, is a 422
// naming it, together with an unknown kind (the likeliest reason for a
// misplaced setting).
func (c *call) decodeConfig(v any) (tenant.DeliveryConfig, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return tenant.DeliveryConfig{}, newProblem(ProblemBadRequest, "the request body must be a JSON object")
	}
	cfg, err := tenant.DecodeObject(obj)
	var ve *tenant.ValidationError
	if !errors.As(err, &ve) {
		return cfg, err
	}
	problems := ve.Problems
	seen := map[string]bool{}
	for _, p := range problems {
		seen[p.Field] = true
	}
	var more *tenant.ValidationError
	if errors.As(c.h.kinds.Validate(cfg), &more) {
		for _, p := range more.Problems {
			if p.Field == tenant.FieldType && !seen[p.Field] {
				problems = append(problems, p)
			}
		}
	}
	return tenant.DeliveryConfig{}, validationProblem(problems)
}

// configObject returns cfg as a JSON object, the target of merge patches.
func configObject(cfg tenant.DeliveryConfig) map[string]any { return cfg.Object() }

// mergePatch applies an RFC 7396 JSON Merge Patch to target and returns
// the result. target is modified.
func mergePatch(target any, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = mergePatch(t[k], v)
		}
	}
	return t
}
