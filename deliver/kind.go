package deliver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/groups"
	"github.com/logdelivery/logdelivery/tenant"
)

// Kind is a destination kind: its name, its settings and the Deliverer that
// delivers to destinations of the kind. Each kind's package returns its
// Kind (cloudwatch.Kind, s3.Kind, …); a Registry holds the kinds a
// processor or a configuration API knows.
type Kind struct {
	// Name is the kind of configs' Type ("cloudwatch" for "cloudwatch" and
	// "cloudwatch:audit"): lower case letters, digits, '.', '_' and '-'.
	Name string
	// Summary is one sentence about the kind, for documentation and the
	// configuration API's OpenAPI document.
	Summary string
	// NewSettings returns a new, zero settings value of the kind: a pointer
	// to a struct whose json tags name the settings' attributes, with a doc
	// tag describing each, required:"true" on those that must be given and
	// operator:"true" on those only the platform operator sets (see
	// Settings).
	NewSettings func() Settings
	// Records says that the kind's deliverer reads the object's records
	// (Delivery.Records), not its raw bytes: the record destinations of one
	// tenant share one download and decode of each object. False for copy
	// destinations (Delivery.Open), which never decode.
	Records bool
	// Deliverer delivers to destinations of the kind. Nil in a registry that
	// only validates configs (a configuration API).
	Deliverer Deliverer
}

// Settings are the settings of one destination of a kind, decoded from a
// config by Registry.Settings and handed to the Deliverer in
// Delivery.Settings.
//
// A settings type is a struct (used through a pointer) whose exported
// fields carry json tags with the attribute names; a doc tag documents a
// field for the OpenAPI document and the validate report, and
// required:"true" marks a field that must be given. Field types are
// strings, bools, integers, floats, slices and maps of them, and nested
// structs of the same kind.
type Settings interface {
	// Validate checks the settings of cfg (decoded into the receiver) and
	// returns every problem, each naming its attribute as in the item
	// ("log_group_name", or "url" for a nested setting: the Registry adds
	// the "settings." prefix). Missing required fields are reported by the
	// Registry before Validate runs.
	Validate(cfg tenant.DeliveryConfig) []tenant.FieldError
}

// Bound is implemented by settings that reach a tenant's own AWS
// resources (a role to assume, a bucket to write): CheckIdentity returns
// the problems of settings that reach outside the tenant's identity, the
// operator's record of its accounts, naming each setting as Validate does.
type Bound interface {
	CheckIdentity(cfg tenant.DeliveryConfig, id tenant.Identity) []tenant.FieldError
}

// RegistryOptions configures a Registry.
type RegistryOptions struct {
	// Groups resolves the application groups configs name; a config naming
	// an unknown group is invalid. Default: groups.NewRegistry(), the
	// built-in groups.
	Groups *groups.Registry
}

// Registry is the set of destination kinds a processor or a configuration
// API knows. It validates configs as a whole (common fields, group names,
// the kind's settings), decodes settings for deliveries, describes each
// kind's settings for documentation, and closes the deliverers. It is
// immutable and safe for concurrent use.
type Registry struct {
	kinds  map[string]*entry
	names  []string // sorted
	groups *groups.Registry
	// owners maps each settings attribute to the kinds that own it, for
	// "belongs to kind s3" messages.
	owners map[string][]string
}

type entry struct {
	kind   Kind
	fields []FieldDoc
	typ    reflect.Type // the struct type of the settings
}

// With returns k delivered by d: the way to deliver a kind with a
// deliverer of one's own (a stand-in, a test fake).
func (k Kind) With(d Deliverer) Kind {
	k.Deliverer = d
	return k
}

var kindNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// NewRegistry returns a registry of kinds. Kind names must be unique and
// valid; every kind needs NewSettings returning a pointer to a struct.
func NewRegistry(kinds []Kind, optFns ...func(*RegistryOptions)) (*Registry, error) {
	var o RegistryOptions
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Groups == nil {
		o.Groups = groups.NewRegistry()
	}
	r := &Registry{kinds: map[string]*entry{}, groups: o.Groups, owners: map[string][]string{}}
	for _, k := range kinds {
		if !kindNamePattern.MatchString(k.Name) || len(k.Name) > 32 {
			return nil, fmt.Errorf("deliver: kind name %q: want 1 to 32 lower case letters, digits, '.', '_' and '-'", k.Name)
		}
		if _, dup := r.kinds[k.Name]; dup {
			return nil, fmt.Errorf("deliver: kind %q registered twice", k.Name)
		}
		if k.NewSettings == nil {
			return nil, fmt.Errorf("deliver: kind %q has no NewSettings", k.Name)
		}
		typ := reflect.TypeOf(k.NewSettings())
		if typ == nil || typ.Kind() != reflect.Pointer || typ.Elem().Kind() != reflect.Struct {
			return nil, fmt.Errorf("deliver: kind %q: NewSettings must return a pointer to a struct, not %v", k.Name, typ)
		}
		fields, err := fieldDocs(typ.Elem())
		if err != nil {
			return nil, fmt.Errorf("deliver: kind %q settings: %w", k.Name, err)
		}
		for _, f := range fields {
			if tenant.IsCommonField(f.Name) || f.Name == tenant.FieldSettings {
				return nil, fmt.Errorf("deliver: kind %q: setting %q has the name of a common field", k.Name, f.Name)
			}
			r.owners[f.Name] = append(r.owners[f.Name], k.Name)
		}
		r.kinds[k.Name] = &entry{kind: k, fields: fields, typ: typ.Elem()}
		r.names = append(r.names, k.Name)
	}
	slices.Sort(r.names)
	return r, nil
}

// Names returns the names of the registered kinds, sorted.
func (r *Registry) Names() []string { return slices.Clone(r.names) }

// Kind returns the kind of the given name.
func (r *Registry) Kind(name string) (Kind, bool) {
	e, ok := r.kinds[name]
	if !ok {
		return Kind{}, false
	}
	return e.kind, true
}

// Deliverer returns the deliverer of a kind, or nil when the kind is
// unknown or has none.
func (r *Registry) Deliverer(kind string) Deliverer {
	if e, ok := r.kinds[kind]; ok {
		return e.kind.Deliverer
	}
	return nil
}

// Groups returns the application groups configs are checked against.
func (r *Registry) Groups() *groups.Registry { return r.groups }

// FieldDoc describes one settings attribute of a kind.
type FieldDoc struct {
	Name     string // attribute name (json tag)
	Doc      string // the doc tag
	Required bool   // the required:"true" tag
	// Operator marks an attribute the platform operator sets, never the
	// tenant (the operator:"true" tag): configuration APIs refuse it from
	// tenants and keep the stored value.
	Operator bool
	Type     reflect.Type
}

// Fields describes the settings attributes of a kind, in declaration
// order; nil for an unknown kind.
func (r *Registry) Fields(kind string) []FieldDoc {
	if e, ok := r.kinds[kind]; ok {
		return slices.Clone(e.fields)
	}
	return nil
}

// SettingsField returns how a settings attribute of kind is named in items
// and problems: the attribute itself for cloudwatch and s3, whose settings
// are top-level, "settings." + name for every other kind.
func SettingsField(kind, name string) string {
	if tenant.HasFlatSettings(kind) {
		return name
	}
	return tenant.FieldSettings + "." + name
}

// Validate checks cfg as a whole and returns a *tenant.ValidationError
// listing every problem, or nil: the common fields, the group names
// (unknown groups are refused, naming the known ones), the kind (unknown
// kinds are refused, naming the known ones) and the kind's settings
// (unknown attributes are refused, naming the kind that owns them when
// another kind does).
func (r *Registry) Validate(cfg tenant.DeliveryConfig) error {
	_, err := r.Settings(cfg)
	return err
}

// Settings validates cfg like Validate and returns its settings, decoded
// into the kind's settings type.
func (r *Registry) Settings(cfg tenant.DeliveryConfig) (Settings, error) {
	problems := cfg.CommonProblems()
	for i, g := range cfg.Groups {
		if strings.TrimSpace(g) == "" {
			continue // reported as empty by CommonProblems
		}
		if _, ok := r.groups.Lookup(strings.TrimSpace(g)); !ok {
			problems = append(problems, tenant.FieldError{Field: fmt.Sprintf("groups[%d]", i),
				Message: fmt.Sprintf("%q is not an application group; known groups (case-insensitive): %s", g, strings.Join(quoteAll(r.groups.Names()), ", "))})
		}
	}
	kind := cfg.Kind()
	e, ok := r.kinds[kind]
	if !ok {
		if cfg.Type != "" && kindNamePattern.MatchString(kind) {
			problems = append(problems, tenant.FieldError{Field: tenant.FieldType,
				Message: fmt.Sprintf("%q is not a known destination kind; known kinds: %s", kind, strings.Join(quoteAll(r.names), ", "))})
		}
		return nil, tenant.NewValidationError(cfg, problems)
	}
	s, settingsProblems := r.decode(e, cfg)
	problems = append(problems, settingsProblems...)
	// The kind's own rules run on what decoded; a field that did not decode
	// has its problem already.
	undecoded := map[string]bool{}
	for _, p := range settingsProblems {
		undecoded[p.Field] = true
	}
	for _, p := range s.Validate(cfg) {
		p.Field = SettingsField(kind, p.Field)
		if !undecoded[p.Field] {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, tenant.NewValidationError(cfg, problems)
	}
	return s, nil
}

// Bind checks that settings s of cfg, as Settings returned them, reach only
// resources of the tenant's identity, and returns a *tenant.ValidationError
// naming each setting that does not, or nil. Settings that reach no AWS
// account of their own (not Bound) always pass.
func (r *Registry) Bind(cfg tenant.DeliveryConfig, s Settings, id tenant.Identity) error {
	b, ok := s.(Bound)
	if !ok {
		return nil
	}
	problems := b.CheckIdentity(cfg, id)
	for i := range problems {
		problems[i].Field = SettingsField(cfg.Kind(), problems[i].Field)
	}
	return tenant.NewValidationError(cfg, problems)
}

// decode decodes cfg.Settings into a new settings value of the kind, one
// attribute at a time, so that every unknown or mistyped attribute is
// reported.
func (r *Registry) decode(e *entry, cfg tenant.DeliveryConfig) (Settings, []tenant.FieldError) {
	kind := e.kind.Name
	s := e.kind.NewSettings()
	v := reflect.ValueOf(s).Elem()
	var problems []tenant.FieldError
	index := map[string]int{}
	for i, f := range e.fields {
		index[f.Name] = i
	}
	names := make([]string, 0, len(cfg.Settings))
	for name := range cfg.Settings {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		field := SettingsField(kind, name)
		i, ok := index[name]
		if !ok {
			problems = append(problems, tenant.FieldError{Field: field, Message: r.foreign(kind, name)})
			continue
		}
		val := cfg.Settings[name]
		if val == nil {
			continue
		}
		raw, err := json.Marshal(val)
		if err != nil {
			problems = append(problems, tenant.FieldError{Field: field, Message: "cannot be encoded: " + err.Error()})
			continue
		}
		fv := v.FieldByIndex(fieldIndex(e.typ, e.fields[i].Name))
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(fv.Addr().Interface()); err != nil {
			problems = append(problems, tenant.FieldError{Field: field, Message: decodeMessage(err, e.fields[i].Type)})
		}
	}
	for _, f := range e.fields {
		if f.Required && isZero(cfg.Settings[f.Name]) {
			problems = append(problems, tenant.FieldError{Field: SettingsField(kind, f.Name), Message: fmt.Sprintf("is required for %s destinations", kind)})
		}
	}
	return s, problems
}

// UnknownSettings returns a problem for each of names that is not a
// setting of kind (none for an unknown kind: Validate says that), for
// callers that check a partial document, such as a merge patch.
func (r *Registry) UnknownSettings(kind string, names []string) []tenant.FieldError {
	e, ok := r.kinds[kind]
	if !ok {
		return nil
	}
	var problems []tenant.FieldError
	for _, name := range names {
		if !slices.ContainsFunc(e.fields, func(f FieldDoc) bool { return f.Name == name }) {
			problems = append(problems, tenant.FieldError{Field: SettingsField(kind, name), Message: r.foreign(kind, name)})
		}
	}
	return problems
}

// foreign explains why name is not a setting of kind.
func (r *Registry) foreign(kind, name string) string {
	if owners := slices.DeleteFunc(slices.Clone(r.owners[name]), func(k string) bool { return k == kind }); len(owners) > 0 {
		return fmt.Sprintf("is not a setting of kind %q; it belongs to kind %s", kind, strings.Join(quoteAll(owners), ", "))
	}
	return fmt.Sprintf("is not a setting of kind %q", kind)
}

func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

func decodeMessage(err error, t reflect.Type) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%s: must be %s, not %s", te.Field, jsonKind(te.Type), te.Value)
		}
		return fmt.Sprintf("must be %s, not %s", jsonKind(t), te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "an object"
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// fieldDocs lists the json-tagged fields of a settings struct.
func fieldDocs(t reflect.Type) ([]FieldDoc, error) {
	var out []FieldDoc
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			return nil, fmt.Errorf("field %s has no json tag", f.Name)
		}
		out = append(out, FieldDoc{Name: name, Doc: f.Tag.Get("doc"), Required: f.Tag.Get("required") == "true",
			Operator: f.Tag.Get("operator") == "true", Type: f.Type})
	}
	return out, nil
}

func fieldIndex(t reflect.Type, name string) []int {
	for i := range t.NumField() {
		f := t.Field(i)
		if n, _, _ := strings.Cut(f.Tag.Get("json"), ","); n == name {
			return f.Index
		}
	}
	panic("deliver: no settings field " + name) // fieldDocs listed it
}

// Close closes the deliverers that hold resources (those implementing
// io.Closer), each once, and returns their errors joined.
func (r *Registry) Close() error {
	var errs []error
	seen := map[any]bool{}
	for _, name := range r.names {
		d := r.kinds[name].kind.Deliverer
		c, ok := d.(io.Closer)
		if !ok {
			continue
		}
		if reflect.TypeOf(d).Comparable() {
			if seen[d] {
				continue // one deliverer registered for several kinds
			}
			seen[d] = true
		}
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the %s deliverer: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// SettingsObject returns settings as the JSON values of a config's Settings,
// for building configs in code. It panics if s does not encode to a JSON
// object, which a settings type following the rules of Settings always
// does.
//
//	cfg := tenant.DeliveryConfig{TenantID: "acme", Type: "cloudwatch",
//		Settings: deliver.SettingsObject(&cloudwatch.Settings{LogGroupName: "/acme/logs", …})}
func SettingsObject(s Settings) map[string]any {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("deliver: settings of type %T cannot be encoded: %v", s, err))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		panic(fmt.Sprintf("deliver: settings of type %T do not encode to an object: %v", s, err))
	}
	return m
}

// SettingsOf returns the settings of a delivery of kind k as the kind's
// settings type: d.Settings when the Dispatcher decoded them, or, for a
// Delivery built by hand without them, d.Config decoded and validated with
// k. A config of another kind, a wrong settings type or an invalid config
// is a permanent error.
func SettingsOf[S any, P interface {
	*S
	Settings
}](d *Delivery, k Kind) (P, error) {
	if kind := d.Config.Kind(); kind != k.Name {
		return nil, fault.Permanent(fmt.Errorf("%s: delivery to %s/%s is of kind %q", k.Name, d.Config.TenantID, d.Config.Type, kind))
	}
	if d.Settings != nil {
		if s, ok := d.Settings.(P); ok && s != nil {
			return s, nil
		}
		return nil, fault.Permanent(fmt.Errorf("%s: delivery to %s/%s carries settings of type %T, not %T", k.Name, d.Config.TenantID, d.Config.Type, d.Settings, P(nil)))
	}
	r, err := NewRegistry([]Kind{k})
	if err != nil {
		return nil, fault.Permanent(err)
	}
	s, err := r.Settings(d.Config)
	if err != nil {
		return nil, fault.Permanent(err)
	}
	return s.(P), nil
}
