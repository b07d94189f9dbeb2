package configapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
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

// configFields is the set of JSON member names of tenant.DeliveryConfig.
var configFields = func() map[string]bool {
	fields := map[string]bool{}
	t := reflect.TypeFor[tenant.DeliveryConfig]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = true
		}
	}
	return fields
}()

// decodeObject parses body as exactly one JSON object whose member names
// are all fields of a delivery config, spelt exactly (encoding/json would
// accept other cases) and given once. Numbers are kept as json.Number.
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
		_, dup := obj[key]
		switch {
		case !configFields[key]:
			bad = append(bad, tenant.FieldError{Field: key, Message: "is not a field of delivery configs"})
		case dup:
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
		return nil, newProblem(ProblemBadRequest, "the request body has unknown or repeated fields", bad...)
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

// decodeConfig turns a JSON value into a config, strictly: a member of the
// wrong JSON type is a 400 naming the field.
func decodeConfig(obj any) (tenant.DeliveryConfig, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return tenant.DeliveryConfig{}, fmt.Errorf("re-encoding a request body: %w", err)
	}
	var cfg tenant.DeliveryConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			field, _, _ := strings.Cut(te.Field, ".")
			msg := fmt.Sprintf("must be %s, not %s", jsonKind(te.Type), te.Value)
			return tenant.DeliveryConfig{}, newProblem(ProblemBadRequest, fmt.Sprintf("field %s %s", field, msg), tenant.FieldError{Field: field, Message: msg})
		}
		return tenant.DeliveryConfig{}, newProblem(ProblemBadRequest, "the request body does not describe a delivery config")
	}
	return cfg, nil
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	default:
		return "an object"
	}
}

// configObject returns cfg as a JSON object, the target of merge patches.
func configObject(cfg tenant.DeliveryConfig) (map[string]any, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding stored config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("decoding stored config: %w", err)
	}
	return obj, nil
}

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
