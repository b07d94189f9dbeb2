package limits

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"sigs.k8s.io/yaml"
)

// Overrides are limits read from an overrides file, in the shape of Loki's
// runtime configuration:
//
//	defaults:                 # optional: every tenant's limits
//	  events_per_second: 1000
//	overrides:                # per tenant; tenants not listed get the defaults
//	  <tenant>:
//	    <limit>: <value>
//	    kinds:                # optional: per destination kind
//	      <kind>:
//	        <limit>: <value>
//
// The limits are named as Names returns them. A value applies to each of
// the tenant's destination kinds separately (each kind has its own
// budget), and the kinds entry sets a kind's own. The most specific value
// wins: the tenant's kind, the tenant, the defaults' kind, the defaults,
// then the Limiter's Options.Defaults. The zero Overrides (or nil)
// overrides nothing.
type Overrides struct {
	defaults entry
	tenants  map[string]entry
}

// entry is the limits set for the defaults or one tenant.
type entry struct {
	values map[string]float64            // limit name → value
	kinds  map[string]map[string]float64 // kind → limit name → value
}

// apply sets on l the values of e for kind.
func (e entry) apply(l *Limits, kind string) {
	for name, v := range e.values {
		f, _ := fieldByName(name)
		f.set(l, v)
	}
	for name, v := range e.kinds[kind] {
		f, _ := fieldByName(name)
		f.set(l, v)
	}
}

// Limits returns the limits of tenantID's deliveries to kind: base with
// the overrides' values applied.
func (o *Overrides) Limits(base Limits, tenantID, kind string) Limits {
	if o == nil {
		return base
	}
	o.defaults.apply(&base, kind)
	if e, ok := o.tenants[tenantID]; ok {
		e.apply(&base, kind)
	}
	return base
}

// Tenants returns the tenants the overrides name, sorted.
func (o *Overrides) Tenants() []string {
	if o == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(o.tenants))
}

// ParseOptions configures ParseOverrides.
type ParseOptions struct {
	// Kinds are the destination kinds a kinds entry may name (the
	// processor's registry's, deliver.Registry.Names); others are refused.
	// Default: nil, any kind name made of lower-case letters, digits, '-'
	// and '_'.
	Kinds []string
}

// ValidationError lists every problem of an overrides file. An overrides
// file with any problem is refused as a whole.
type ValidationError struct {
	// Problems are the problems, each naming where it is
	// ("overrides.acme.events_per_second: must not be negative (got -1)"),
	// in document order of their keys, sorted.
	Problems []string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "limits: invalid overrides: " + e.Problems[0]
	}
	return fmt.Sprintf("limits: invalid overrides (%d problems): %s", len(e.Problems), strings.Join(e.Problems, "; "))
}

// ParseOverrides reads an overrides file (YAML, or JSON, which is YAML
// too) and validates it as a whole: it returns a *ValidationError naming
// every problem (unknown limit names, values that are not non-negative
// numbers, fractional counts, unknown kinds, keys that cannot be tenant
// ids, duplicate keys, anything but defaults and overrides at the top),
// or the overrides. Tenants the overrides name need not exist anywhere
// else. An empty document overrides nothing.
func ParseOverrides(data []byte, optFns ...func(*ParseOptions)) (*Overrides, error) {
	var opts ParseOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, &ValidationError{Problems: []string{"not valid YAML: " + err.Error()}}
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, &ValidationError{Problems: []string{"not valid YAML: " + err.Error()}}
	}
	p := &parser{kinds: opts.Kinds}
	o := p.document(doc)
	if len(p.problems) > 0 {
		return nil, &ValidationError{Problems: p.problems}
	}
	return o, nil
}

// parser collects the problems of one document.
type parser struct {
	kinds    []string
	problems []string
}

func (p *parser) problem(path, format string, args ...any) {
	p.problems = append(p.problems, path+": "+fmt.Sprintf(format, args...))
}

// mapping returns v as a mapping, or nil (with a problem unless v is null).
func (p *parser) mapping(path string, v any) (map[string]any, bool) {
	switch m := v.(type) {
	case nil:
		return nil, true
	case map[string]any:
		return m, true
	}
	p.problem(path, "want a mapping, got %s", describe(v))
	return nil, false
}

func (p *parser) document(doc any) *Overrides {
	o := &Overrides{tenants: map[string]entry{}}
	top, ok := doc.(map[string]any)
	if doc == nil {
		return o
	}
	if !ok {
		p.problems = append(p.problems, fmt.Sprintf("want a mapping with overrides (and optionally defaults), got %s", describe(doc)))
		return o
	}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		switch k {
		case "defaults":
			o.defaults = p.entry("defaults", top[k])
		case "overrides":
			tenants, _ := p.mapping("overrides", top[k])
			for _, t := range slices.Sorted(maps.Keys(tenants)) {
				path := "overrides." + quoteKey(t)
				if why := badTenantKey(t); why != "" {
					p.problem(path, "not a tenant id: %s", why)
					continue
				}
				o.tenants[t] = p.entry(path, tenants[t])
			}
		default:
			p.problem(quoteKey(k), "unknown key: want defaults or overrides")
		}
	}
	return o
}

// entry reads the limits of the defaults or of a tenant.
func (p *parser) entry(path string, v any) entry {
	m, _ := p.mapping(path, v)
	e := entry{values: map[string]float64{}, kinds: map[string]map[string]float64{}}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k == "kinds" {
			kinds, _ := p.mapping(path+".kinds", m[k])
			for _, kind := range slices.Sorted(maps.Keys(kinds)) {
				kpath := path + ".kinds." + quoteKey(kind)
				if why := p.badKind(kind); why != "" {
					p.problem(kpath, "%s", why)
					continue
				}
				km, _ := p.mapping(kpath, kinds[kind])
				values := map[string]float64{}
				for _, name := range slices.Sorted(maps.Keys(km)) {
					if name == "kinds" {
						p.problem(kpath+".kinds", "kinds do not nest: set the kind's limits here")
						continue
					}
					p.value(kpath, name, km[name], values)
				}
				e.kinds[kind] = values
			}
			continue
		}
		p.value(path, k, m[k], e.values)
	}
	return e
}

// value reads one limit into values.
func (p *parser) value(path, name string, v any, values map[string]float64) {
	path += "." + quoteKey(name)
	f, ok := fieldByName(name)
	if !ok {
		p.problem(path, "unknown limit; known: %s", strings.Join(Names(), ", "))
		return
	}
	n, ok := v.(json.Number)
	if !ok {
		p.problem(path, "want a number, got %s", describe(v))
		return
	}
	x, err := strconv.ParseFloat(n.String(), 64)
	if err != nil {
		p.problem(path, "%s is out of range", n)
		return
	}
	if why := f.check(x); why != "" {
		p.problem(path, "%s", why)
		return
	}
	values[name] = x
}

// badKind says what is wrong with a kind name, or "".
func (p *parser) badKind(kind string) string {
	if p.kinds != nil {
		if !slices.Contains(p.kinds, kind) {
			return fmt.Sprintf("unknown destination kind; known: %s", strings.Join(p.kinds, ", "))
		}
		return ""
	}
	if kind == "" || strings.IndexFunc(kind, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) >= 0 {
		return "not a destination kind name (lower-case letters, digits, '-' and '_')"
	}
	return ""
}

// badTenantKey says why t cannot be a tenant id (an object key segment:
// non-empty, no '/', not "." or "..", no control characters), or "".
func badTenantKey(t string) string {
	switch {
	case t == "":
		return "empty"
	case t == "." || t == "..":
		return "a dot segment"
	case strings.Contains(t, "/"):
		return "contains '/'"
	case strings.IndexFunc(t, unicode.IsControl) >= 0:
		return "contains control characters"
	}
	return ""
}

// quoteKey returns k as it appears in a problem's path: quoted when it is
// not a plain word.
func quoteKey(k string) string {
	if k != "" && strings.IndexFunc(k, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_')
	}) < 0 {
		return k
	}
	return strconv.Quote(k)
}

// describe names the YAML type of a decoded value, for problems.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing (null)"
	case bool:
		return fmt.Sprintf("a boolean (%v)", x)
	case string:
		return fmt.Sprintf("a string (%q)", x)
	case json.Number:
		return "a number (" + x.String() + ")"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}
