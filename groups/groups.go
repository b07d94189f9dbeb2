// Package groups expands a delivery config's application groups and
// desired_logs into the set of applications to deliver.
//
// Group names are case-insensitive ("api", "API" and "Api" are one group);
// application names are case-sensitive. An unknown group name is reported
// as a warning and otherwise ignored, so that a typo in one config never
// stops a tenant's deliveries.
package groups

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Builtin returns the built-in groups, keyed by their canonical names.
func Builtin() map[string][]string {
	return map[string][]string{
		"API":                {"kube-apiserver", "openshift-apiserver"},
		"Authentication":     {"oauth-server", "oauth-apiserver"},
		"Controller Manager": {"kube-controller-manager", "openshift-controller-manager", "openshift-route-controller-manager"},
		"Scheduler":          {"kube-scheduler"},
	}
}

// Registry holds named groups of applications. The zero value is empty;
// NewRegistry starts with the built-in groups. A Registry is safe for
// concurrent use.
type Registry struct {
	mu     sync.RWMutex
	groups map[string]group // keyed by folded name
}

type group struct {
	name string // as registered
	apps []string
}

// NewRegistry returns a registry holding the built-in groups.
func NewRegistry() *Registry {
	r := &Registry{}
	for name, apps := range Builtin() {
		// Built-in names are valid; Register cannot fail for them.
		_ = r.Register(name, apps...)
	}
	return r
}

// Register adds a group, or replaces the group of the same name (compared
// case-insensitively). A group must have a non-blank name and at least one
// application.
func (r *Registry) Register(name string, apps ...string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("groups: empty group name")
	}
	if len(apps) == 0 {
		return fmt.Errorf("groups: group %q has no applications", name)
	}
	for _, a := range apps {
		if a == "" {
			return fmt.Errorf("groups: group %q has an empty application name", name)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.groups == nil {
		r.groups = map[string]group{}
	}
	r.groups[fold(name)] = group{name: name, apps: dedupe(apps)}
	return nil
}

// Lookup returns the applications of a group, or false if it is unknown.
func (r *Registry) Lookup(name string) ([]string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g, ok := r.groups[fold(name)]
	return slices.Clone(g.apps), ok
}

// Names returns the registered group names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.groups))
	for _, g := range r.groups {
		names = append(names, g.name)
	}
	slices.Sort(names)
	return names
}

// Expand returns the filter selecting the union of desired applications and
// the members of the named groups, and a warning for each unknown group.
// With no applications and no groups, the filter allows every application.
func (r *Registry) Expand(desired, groupNames []string) (Filter, []string) {
	var warnings []string
	apps := slices.Clone(desired)
	for _, name := range groupNames {
		members, ok := r.Lookup(strings.TrimSpace(name))
		if !ok {
			warnings = append(warnings, fmt.Sprintf("unknown application group %q ignored", name))
			continue
		}
		apps = append(apps, members...)
	}
	if len(desired) == 0 && len(groupNames) == 0 {
		return Filter{}, warnings
	}
	set := make(map[string]struct{}, len(apps))
	for _, a := range apps {
		set[a] = struct{}{}
	}
	return Filter{apps: set, restricted: true}, warnings
}

// Filter selects applications. The zero Filter allows every application.
type Filter struct {
	apps       map[string]struct{}
	restricted bool
}

// All reports whether the filter allows every application.
func (f Filter) All() bool { return !f.restricted }

// Allows reports whether app is selected.
func (f Filter) Allows(app string) bool {
	if !f.restricted {
		return true
	}
	_, ok := f.apps[app]
	return ok
}

// Apps returns the selected applications, sorted; nil when the filter
// allows every application. A restricted filter may select none (only
// unknown groups were named): then Apps is empty and nothing is allowed.
func (f Filter) Apps() []string {
	if !f.restricted {
		return nil
	}
	out := make([]string, 0, len(f.apps))
	for a := range f.apps {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

func fold(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), " "))
}

func dedupe(apps []string) []string {
	out := slices.Clone(apps)
	slices.Sort(out)
	return slices.Compact(out)
}
