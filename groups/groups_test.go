package groups_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/groups"
)

func TestBuiltinGroups(t *testing.T) {
	r := groups.NewRegistry()
	for name, want := range map[string][]string{
		"API":                     {"kube-apiserver", "openshift-apiserver"},
		"authentication":          {"oauth-apiserver", "oauth-server"},
		"CONTROLLER MANAGER":      {"kube-controller-manager", "openshift-controller-manager", "openshift-route-controller-manager"},
		"Scheduler":               {"kube-scheduler"},
		"  controller   manager ": {"kube-controller-manager", "openshift-controller-manager", "openshift-route-controller-manager"},
	} {
		got, ok := r.Lookup(name)
		require.True(t, ok, name)
		assert.ElementsMatch(t, want, got, name)
	}
	assert.Equal(t, []string{"API", "Authentication", "Controller Manager", "Scheduler"}, r.Names())
}

func TestExpand(t *testing.T) {
	r := groups.NewRegistry()

	all, warnings := r.Expand(nil, nil)
	assert.True(t, all.All(), "no desired_logs and no groups: everything")
	assert.True(t, all.Allows("anything"))
	assert.Empty(t, warnings)

	f, warnings := r.Expand([]string{"payments", "kube-apiserver"}, []string{"api", "Scheduler", "Nope"})
	assert.Equal(t, []string{`unknown application group "Nope" ignored`}, warnings)
	assert.False(t, f.All())
	assert.Equal(t, []string{"kube-apiserver", "kube-scheduler", "openshift-apiserver", "payments"}, f.Apps(), "union, deduplicated")
	assert.True(t, f.Allows("payments"))
	assert.False(t, f.Allows("Payments"), "application names are case-sensitive")
	assert.False(t, f.Allows("etcd"))

	none, warnings := r.Expand(nil, []string{"Unknown"})
	assert.Len(t, warnings, 1)
	assert.False(t, none.All(), "naming only unknown groups selects nothing rather than everything")
	assert.False(t, none.Allows("kube-apiserver"))
}

func TestRegister(t *testing.T) {
	r := groups.NewRegistry()
	require.NoError(t, r.Register("Payments", "ledger", "billing", "ledger"))
	got, ok := r.Lookup("PAYMENTS")
	require.True(t, ok)
	assert.Equal(t, []string{"billing", "ledger"}, got)

	require.NoError(t, r.Register("api", "my-api"), "re-registering replaces, case-insensitively")
	got, _ = r.Lookup("API")
	assert.Equal(t, []string{"my-api"}, got)

	assert.Error(t, r.Register(" ", "x"))
	assert.Error(t, r.Register("empty"))
	assert.Error(t, r.Register("blank-app", ""))

	other := groups.NewRegistry()
	got, _ = other.Lookup("api")
	assert.Equal(t, []string{"kube-apiserver", "openshift-apiserver"}, got, "registries do not share state")

	var zero groups.Registry
	_, ok = zero.Lookup("API")
	assert.False(t, ok, "the zero registry is empty")
	require.NoError(t, zero.Register("x", "y"))
}

func TestConcurrentUse(t *testing.T) {
	r := groups.NewRegistry()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if i%2 == 0 {
				_ = r.Register("g", "a")
			} else {
				r.Expand(nil, []string{"g", "API"})
			}
		})
	}
	wg.Wait()
	_, ok := r.Lookup("g")
	assert.True(t, ok)
}
