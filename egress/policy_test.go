package egress_test

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/egress"
)

func TestPolicyJSON(t *testing.T) {
	p, err := egress.ParsePolicy(`{"allow_http":true,"ports":[3100,9200],"allow_loopback":true,"allow_prefixes":["10.20.0.0/16"],"allow_hosts":["collector.internal"],"deny_hosts":["bad.example.com"]}`)
	require.NoError(t, err)
	assert.Equal(t, egress.Policy{AllowHTTP: true, Ports: []int{3100, 9200}, AllowLoopback: true,
		AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}, AllowHosts: []string{"collector.internal"},
		DenyHosts: []string{"bad.example.com"}}, p)
	b, err := json.Marshal(egress.Policy{})
	require.NoError(t, err)
	assert.Equal(t, "{}", string(b), "the strict default is the empty object")
	for _, bad := range []string{`{"allow_prefixes":["10.0.0.0/33"]}`, `{"alow_http":true}`, `{"ports":[0]}`, `{} {}`, `[`} {
		_, err := egress.ParsePolicy(bad)
		assert.Error(t, err, bad)
	}
	p, err = egress.ParsePolicy("  ")
	require.NoError(t, err)
	assert.Equal(t, egress.Policy{}, p, "empty: the strict default")
}
