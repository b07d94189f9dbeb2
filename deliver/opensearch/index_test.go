package opensearch

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
)

var day = time.Date(2026, 11, 30, 14, 5, 0, 0, time.UTC)

func TestIndexTemplate(t *testing.T) {
	for tmpl, want := range map[string]string{
		DefaultIndex:                                "logs-acme-2026.11.30",
		"k8s_{tenant_id}_%Y-%m":                     "k8s_acme_2026-11",
		"a.{tenant_id}.%Y.%m.%d.%H":                 "a.acme.2026.11.30.14",
		"logs-{tenant_id}-%Y":                       "logs-acme-2026",
		"logs2-{tenant_id}-%Y-%d-%m":                "logs2-acme-2026-30-11",
		"0-{tenant_id}.%Y":                          "0-acme.2026",
		strings.Repeat("x", 64) + "-{tenant_id}-%Y": strings.Repeat("x", 64) + "-acme-2026",
	} {
		x, err := ParseIndexTemplate(tmpl)
		require.NoError(t, err, tmpl)
		assert.Equal(t, want, x.Index("Acme", day.In(time.FixedZone("X", -10*3600))), tmpl)
		assert.Equal(t, tmpl, x.String())
	}
	for tmpl, why := range map[string]string{
		"":                                "must contain {tenant_id}",
		"logs-%Y":                         "must contain {tenant_id}",
		"logs-{tenant_id}-{tenant_id}-%Y": "once",
		"{tenant_id}-%Y":                  "must start with one word",
		"logs-acme-{tenant_id}-%Y":        "must start with one word",
		"Logs-{tenant_id}-%Y":             "must start with one word",
		"logs{tenant_id}-%Y":              "must start with one word",
		"logs--{tenant_id}-%Y":            "must start with one word",
		strings.Repeat("x", 65) + "-{tenant_id}-%Y": "must start with one word",
		"logs-{tenant_id}":                          "a separator and %Y",
		"logs-{tenant_id}-corp-%Y":                  "a separator and %Y",
		"logs-{tenant_id}%Y":                        "a separator and %Y",
		"logs-{tenant_id}-%Y.%m%d":                  "each part must be",
		"logs-{tenant_id}-%Y.%m.x":                  "each part must be",
		"logs-{tenant_id}-%Y.%y":                    "each part must be",
		"logs-{tenant_id}-%Y-%m-%d-%H-%H":           "at most 3 parts",
		"logs-{tenant_id}-%Y.%m.%d-archive":         "each part must be",
	} {
		_, err := ParseIndexTemplate(tmpl)
		require.Error(t, err, tmpl)
		assert.ErrorIs(t, err, ErrIndexTemplate)
		assert.ErrorContains(t, err, why, tmpl)
	}
}

func TestIndexerCachesByHour(t *testing.T) {
	x, _ := ParseIndexTemplate("logs-{tenant_id}-%Y.%m.%d.%H")
	ix := newIndexer(x, "Acme")
	assert.Equal(t, "logs-acme-2026.11.30.14", string(ix.index(day)))
	assert.Equal(t, "logs-acme-2026.11.30.14", string(ix.index(day.Add(50*time.Minute))))
	assert.Equal(t, "logs-acme-2026.11.30.15", string(ix.index(day.Add(55*time.Minute))))
	assert.Equal(t, "logs-acme-1969.12.31.23", string(ix.index(time.Unix(-1, 0))))
	assert.Equal(t, "logs-acme-1970.01.01.00", string(ix.index(time.Unix(0, 0))))
}

// The attacks the grammar stops, on a shared cluster: no template of one
// tenant writes the default indexes of another.
func TestIndexTemplateConfinesTenants(t *testing.T) {
	victim, _ := ParseIndexTemplate(DefaultIndex)
	for _, attack := range []struct{ tenant, tmpl string }{
		{"acme", "logs-{tenant_id}-corp-%Y.%m.%d"}, // tenant acme-corp's
		{"corp", "logs-acme-{tenant_id}-%Y.%m.%d"},
		{"acme", "logs-{tenant_id}-2026.%Y.%m"}, // tenant acme-2026's
		{"logs-acme", "{tenant_id}-%Y.%m.%d"},
	} {
		_, err := ParseIndexTemplate(attack.tmpl)
		assert.Error(t, err, "%s may not use %s", attack.tenant, attack.tmpl)
	}
	// What the grammar allows cannot reach another tenant's indexes.
	yearly, _ := ParseIndexTemplate("logs-{tenant_id}-%Y")
	assert.NotEqual(t, victim.Index("acme-2026", day), yearly.Index("acme", day))
	assert.False(t, grantPattern("acme").MatchString(victim.Index("acme-corp", day)), "acme's grant excludes acme-corp's indexes")
}

// grantPattern is the index permission of tenant id on a shared cluster,
// as the IndexTemplate documentation gives it.
func grantPattern(id string) *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9]+[-_.]` + regexp.QuoteMeta(strings.ToLower(id)) + `[-_.][0-9]{4}([-_.][0-9]{2}){0,3}$`)
}

// validIndexName checks the index name rules of OpenSearch and
// Elasticsearch.
func validIndexName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return errors.New("empty, . or ..")
	case len(name) > 255:
		return errors.New("longer than 255 bytes")
	case strings.ContainsAny(name[:1], "-_+"):
		return errors.New("starts with - _ or +")
	case strings.ToLower(name) != name:
		return errors.New("not lower case")
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return errors.New("holds a forbidden character")
	}
	return nil
}

// FuzzIndexTemplate checks, for any two templates and tenant ids, that a
// valid template renders valid index names within its tenant's grant
// pattern, and that two tenants' indexes are equal only when their ids
// are equal ignoring case.
func FuzzIndexTemplate(f *testing.F) {
	f.Add(DefaultIndex, "acme", "logs-{tenant_id}-%Y.%m.%d", "acme-corp", int64(1764496800), int64(1764496800))
	f.Add("logs-{tenant_id}-%Y", "acme", "logs-{tenant_id}.%m.%d", "acme-2026", int64(1764496800), int64(1764496800))
	f.Add("logs-a-{tenant_id}-%Y", "cme", DefaultIndex, "a-cme", int64(0), int64(0))
	f.Add("x_{tenant_id}_%Y_%H", "a.b", "x_{tenant_id}_%Y", "a.b_2026_14", int64(-1), int64(253402300799))
	f.Fuzz(func(t *testing.T, tmplA, tenantA, tmplB, tenantB string, secA, secB int64) {
		a, errA := ParseIndexTemplate(tmplA)
		b, errB := ParseIndexTemplate(tmplB)
		if errA != nil || errB != nil || tenant.ValidateTenantID(tenantA) != nil || tenant.ValidateTenantID(tenantB) != nil {
			return
		}
		ta, tb := time.Unix(secA%(1<<40), 0), time.Unix(secB%(1<<40), 0)
		ia, ib := a.Index(tenantA, ta), b.Index(tenantB, tb)
		if err := validIndexName(ia); err != nil {
			t.Fatalf("%q for %q renders %q: %v", tmplA, tenantA, ia, err)
		}
		if !grantPattern(tenantA).MatchString(ia) {
			t.Fatalf("%q for %q renders %q, outside the tenant's grant pattern", tmplA, tenantA, ia)
		}
		if ia == ib && !strings.EqualFold(tenantA, tenantB) {
			t.Fatalf("tenants %q (%q) and %q (%q) both write %q", tenantA, tmplA, tenantB, tmplB, ia)
		}
		if grantPattern(tenantB).MatchString(ia) && !strings.EqualFold(tenantA, tenantB) {
			t.Fatalf("tenant %q's index %q is in tenant %q's grant pattern", tenantA, ia, tenantB)
		}
		if again, err := ParseIndexTemplate(a.String()); err != nil || again.String() != tmplA {
			t.Fatalf("%q does not round-trip: %v", tmplA, err)
		}
	})
}
