package egress_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/fault"
)

func TestValidateURLRefuses(t *testing.T) {
	tests := []struct {
		name, raw, rule string
	}{
		// IP literals in refused ranges.
		{"loopback", "https://127.0.0.1/", "loopback"},
		{"loopback high", "https://127.255.255.254/", "loopback"},
		{"ipv6 loopback", "http://[::1]:80", "http scheme"},
		{"ipv6 loopback https", "https://[::1]/", "loopback"},
		{"private 10", "https://10.0.0.5/", "private address (RFC 1918)"},
		{"private 172", "https://172.31.255.255/", "RFC 1918"},
		{"private 192", "https://192.168.1.1/", "RFC 1918"},
		{"unspecified", "https://0.0.0.0/", "unspecified"},
		{"this network", "https://0.1.2.3/", "unspecified"},
		{"ipv6 unspecified", "https://[::]/", "unspecified"},
		{"cgnat", "https://100.64.0.1/", "CGNAT"},
		{"benchmarking", "https://198.19.0.1/", "benchmarking"},
		{"documentation", "https://192.0.2.1/", "documentation"},
		{"documentation 3", "https://203.0.113.7/", "documentation"},
		{"ietf", "https://192.0.0.192/", "IETF protocol"},
		{"multicast", "https://224.0.0.1/", "multicast"},
		{"broadcast", "https://255.255.255.255/", "broadcast"},
		{"reserved", "https://240.0.0.1/", "reserved"},
		{"link-local", "https://169.254.1.1/", "link-local"},
		{"metadata", "https://169.254.169.254/", "metadata"},
		{"ecs metadata", "https://169.254.170.2/", "ECS"},
		{"alibaba metadata", "https://100.100.100.200/", "Alibaba"},
		{"azure wireserver", "https://168.63.129.16/", "WireServer"},
		{"ec2 ipv6 metadata", "https://[fd00:ec2::254]/", "EC2"},
		{"gce ipv6 metadata", "https://[fd20:ce::254]/", "Google"},
		{"ula", "https://[fd12:3456::1]/", "unique local"},
		{"ipv6 link-local", "https://[fe80::1]/", "link-local"},
		{"site-local", "https://[fec0::1]/", "site-local"},
		{"ipv6 multicast", "https://[ff02::1]/", "multicast"},
		{"ipv6 documentation", "https://[2001:db8::1]/", "documentation"},
		{"teredo", "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo"},
		{"discard", "https://[100::1]/", "discard"},
		{"not global unicast", "https://[4000::1]/", "global unicast"},

		// IPv6 forms embedding refused IPv4 addresses.
		{"mapped loopback dotted", "https://[::ffff:127.0.0.1]/", "IPv4-mapped form of 127.0.0.1, a loopback"},
		{"mapped loopback hex", "https://[::ffff:7f00:1]/", "IPv4-mapped form of 127.0.0.1"},
		{"mapped private long", "https://[0:0:0:0:0:ffff:a00:1]/", "IPv4-mapped form of 10.0.0.1, a private"},
		{"mapped metadata", "https://[::ffff:169.254.169.254]/", "metadata"},
		{"compatible", "https://[::127.0.0.1]/", "IPv4-compatible"},
		{"compatible hex", "https://[::a00:1]/", "IPv4-compatible"},
		{"translated", "https://[::ffff:0:a00:1]/", "IPv4-translated"},
		{"nat64 private", "https://[64:ff9b::a00:1]/", "NAT64 address (RFC 6052) embedding 10.0.0.1, a private"},
		{"nat64 loopback", "https://[64:ff9b::127.0.0.1]/", "embedding 127.0.0.1"},
		{"nat64 metadata", "https://[64:ff9b::a9fe:a9fe]/", "embedding 169.254.169.254, a cloud instance metadata"},
		{"nat64 local-use", "https://[64:ff9b:1::1]/", "local-use NAT64"},
		{"6to4 private", "https://[2002:c0a8:101::1]/", "6to4 address (RFC 3056) embedding 192.168.1.1"},
		{"6to4 loopback", "https://[2002:7f00:1::]/", "embedding 127.0.0.1"},

		// Non-canonical IPv4 forms.
		{"decimal", "http://2130706433/", "http scheme"},
		{"decimal https", "https://2130706433/", "non-canonical IPv4"},
		{"octal", "https://0177.0.0.1/", "non-canonical IPv4"},
		{"hex short", "https://0x7f.1/", "non-canonical IPv4"},
		{"hex", "https://0x7f000001/", "non-canonical IPv4"},
		{"hex empty", "https://0x/", "non-canonical IPv4"},
		{"short", "https://127.1/", "non-canonical IPv4"},
		{"zero", "https://0/", "non-canonical IPv4"},
		{"leading zeros", "https://010.0.0.1/", "non-canonical IPv4"},
		{"too many parts", "https://1.2.3.4.5/", "non-canonical IPv4"},
		{"ipv4 in brackets", "https://[127.0.0.1]/", "malformed"},

		// Names.
		{"localhost", "https://localhost/", "localhost"},
		{"localhost upper", "https://LOCALHOST/", `"localhost": localhost names`},
		{"localhost dot", "https://localhost./", "end in a dot"},
		{"localhost sub", "https://api.localhost/", "localhost"},
		{"gce metadata", "https://metadata.google.internal/", "metadata host name"},
		{"gce metadata upper", "https://Metadata.Google.Internal/computeMetadata/v1/", "metadata host name"},
		{"gce metadata dot", "https://metadata.google.internal./", "end in a dot"},
		{"metadata.goog", "https://metadata.goog/", "metadata host name"},
		{"ec2 instance-data", "https://instance-data.ec2.internal/", "metadata"},
		{"single label", "https://collector/", "single-label"},
		{"internal tld", "https://logs.corp.internal/", ".internal"},
		{"local tld", "https://printer.local/", ".local"},
		{"arpa", "https://1.0.0.127.in-addr.arpa/", ".arpa"},
		{"trailing dot", "https://example.com./", "end in a dot"},
		{"empty label", "https://example..com/", "empty label"},
		{"leading hyphen", "https://-example.com/", "hyphen"},
		{"underscore", "https://ex_ample.com/", "character other than"},
		{"dollar", "https://exa$mple.com/", "character other than"},
		{"long label", "https://" + strings.Repeat("a", 64) + ".com/", "63 bytes"},
		{"long name", "https://" + strings.Repeat("a.", 127) + "com/", "253 bytes"},
		{"unicode", "https://exämple.com/", "non-ASCII"},
		{"fullwidth localhost", "https://ｌｏｃａｌｈｏｓｔ/", "non-ASCII"},

		// The URL itself.
		{"userinfo", "https://user:s3cret@example.com/", "userinfo"},
		{"empty userinfo", "https://@example.com/", "userinfo"},
		{"user only", "https://user@example.com/", "userinfo"},
		{"double at", "https://a@b@example.com/", "userinfo"},
		{"backslash", "https://evil.example\\@example.com/", "backslash"},
		{"fragment", "https://example.com/#x", "fragment"},
		{"empty fragment", "https://example.com/#", "fragment"},
		{"relative", "/path", "absolute"},
		{"scheme relative", "//example.com/", "absolute"},
		{"opaque", "https:example.com", "absolute"},
		{"single slash", "https:/example.com", "absolute"},
		{"empty host", "https:///path", "empty"},
		{"empty", "", "absolute"},
		{"scheme", "ftp://example.com/", `scheme "ftp"`},
		{"file", "file:///etc/passwd", `scheme "file"`},
		{"gopher", "gopher://example.com/", `scheme "gopher"`},
		{"http", "http://example.com/", "http scheme"},
		{"percent host", "https://%6c%6f%63alhost/", "percent-encoded"},
		{"percent host valid", "https://ex%61mple.com/", "percent-encoded"},
		{"zone", "https://[fe80::1%25eth0]/", "percent-encoded hosts and IPv6 zones"},
		{"space", "https://example.com /", "space"},
		{"tab", "https://exa\tmple.com/", "control"},
		{"newline", "https://example.com/\r\nHost: x", "control"},
		{"nul", "https://example.com\x00.evil/", "control"},
		{"del", "https://example.com\x7f/", "control"},
		{"too long", "https://example.com/" + strings.Repeat("a", 2048), "longer than"},

		// Ports.
		{"port not allowed", "https://example.com:22/", "port 22 is not allowed"},
		{"port smtp", "https://example.com:25/", "port 25"},
		{"port zero", "https://example.com:0/", "not a number from 1"},
		{"port leading zero", "https://example.com:0443/", "leading zeros"},
		{"port out of range", "https://example.com:65536/", "not a number from 1"},
		{"port huge", "https://example.com:99999999999999999999/", "not a number from 1"},
		{"port empty", "https://example.com:/", "port is empty"},
		{"port sign", "https://example.com:+443/", "malformed"},
		{"port letters", "https://example.com:https/", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := egress.ValidateURL(tt.raw)
			require.Error(t, err, "accepted as %v", u)
			assert.Nil(t, u)
			assert.Contains(t, err.Error(), tt.rule)
			assert.True(t, fault.IsPermanent(err), "refusals are permanent")
			assert.ErrorIs(t, err, egress.ErrRefused)
			var re *egress.RefusedError
			assert.True(t, errors.As(err, &re))
			assert.NotContains(t, err.Error(), "s3cret", "the message never quotes credentials")
		})
	}
}

func TestValidateURLAccepts(t *testing.T) {
	tests := []struct {
		name, raw, host string
		policy          egress.Policy
	}{
		{"name", "https://logs.example.com/loki/api/v1/push", "logs.example.com", egress.Policy{}},
		{"upper case", "HTTPS://Logs.Example.COM/Path", "logs.example.com", egress.Policy{}},
		{"port", "https://logs.example.com:8443/_bulk?refresh=false", "logs.example.com:8443", egress.Policy{}},
		{"punycode", "https://xn--exmple-cua.com/", "xn--exmple-cua.com", egress.Policy{}},
		{"numeric labels", "https://1.2.3.example.com/", "1.2.3.example.com", egress.Policy{}},
		{"public ipv4", "https://8.8.8.8/", "8.8.8.8", egress.Policy{}},
		{"public ipv6", "https://[2606:4700::1111]/", "[2606:4700::1111]", egress.Policy{}},
		{"mapped public", "https://[::ffff:8.8.8.8]/", "[::ffff:8.8.8.8]", egress.Policy{}},
		{"nat64 public", "https://[64:ff9b::808:808]/", "[64:ff9b::808:808]", egress.Policy{}},
		{"6to4 public", "https://[2002:808:808::1]/", "[2002:808:808::1]", egress.Policy{}},
		{"percent in path", "https://example.com/a%20b", "example.com", egress.Policy{}},
		{"http allowed", "http://example.com/", "example.com", egress.Policy{AllowHTTP: true}},
		{"ipv6 loopback allowed", "http://[::1]:80", "[::1]:80", egress.Policy{AllowHTTP: true, AllowLoopback: true}},
		{"loopback allowed", "https://127.0.0.1:8443/", "127.0.0.1:8443", egress.Policy{AllowLoopback: true}},
		{"localhost allowed", "https://localhost/", "localhost", egress.Policy{AllowLoopback: true}},
		{"mapped loopback allowed", "https://[::ffff:127.0.0.1]/", "[::ffff:127.0.0.1]", egress.Policy{AllowLoopback: true}},
		{"other port", "https://search.example.com:9200/", "search.example.com:9200", egress.Policy{Ports: []int{9200}}},
		{"prefix allowed", "https://10.20.0.5/", "10.20.0.5", egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}}},
		{"prefix allows mapped", "https://[::ffff:10.20.0.5]/", "[::ffff:10.20.0.5]", egress.Policy{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}}},
		{"allowed internal name", "https://collector.internal/", "collector.internal", egress.Policy{AllowHosts: []string{".collector.internal"}}},
		{"allowed single label", "https://collector/", "collector", egress.Policy{AllowHosts: []string{"collector"}}},
		{"allowed subdomain", "https://eu.logs.example.com/", "eu.logs.example.com", egress.Policy{AllowHosts: []string{"Logs.Example.com"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := tt.policy.ValidateURL(tt.raw)
			require.NoError(t, err)
			assert.Equal(t, tt.host, u.Host)
		})
	}
}

func TestPolicyRefusesDespiteAllowances(t *testing.T) {
	everything := egress.Policy{
		AllowHTTP:     true,
		AllowLoopback: true,
		AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
	}
	for _, raw := range []string{
		"https://169.254.169.254/",
		"https://[::ffff:169.254.169.254]/",
		"https://[64:ff9b::a9fe:a9fe]/",
		"https://[fd00:ec2::254]/",
		"https://168.63.129.16/",
		"https://0.0.0.0/",
		"https://[::]/",
		"https://metadata.google.internal/",
		"https://metadata.goog/",
	} {
		_, err := everything.ValidateURL(raw)
		assert.ErrorIs(t, err, egress.ErrRefused, raw)
	}
	// Localhost names need AllowLoopback, and AllowHosts too when it is set.
	_, err := egress.Policy{AllowLoopback: true, AllowHosts: []string{"example.com"}}.ValidateURL("https://localhost/")
	assert.ErrorContains(t, err, "not among the host names")
	_, err = egress.Policy{AllowLoopback: true, AllowHosts: []string{"localhost"}}.ValidateURL("https://api.localhost/")
	assert.NoError(t, err)

	names := egress.Policy{AllowHosts: []string{"google.internal", "goog", "localhost"}}
	for _, raw := range []string{"https://metadata.google.internal/", "https://metadata.goog/", "https://localhost/"} {
		_, err := names.ValidateURL(raw)
		assert.ErrorIs(t, err, egress.ErrRefused, raw)
	}
	// The allowances themselves work.
	_, err = everything.ValidateURL("http://10.0.0.5:8080/")
	assert.NoError(t, err)
}

func TestPolicyHostLists(t *testing.T) {
	p := egress.Policy{AllowHosts: []string{"example.com"}, DenyHosts: []string{"admin.example.com"}}
	for raw, want := range map[string]string{
		"https://example.com/":          "",
		"https://logs.example.com/":     "",
		"https://admin.example.com/":    `denied by the operator (DenyHosts "admin.example.com")`,
		"https://x.admin.example.com/":  "denied by the operator",
		"https://badexample.com/":       "not among the host names",
		"https://example.com.evil.net/": "not among the host names",
		"https://8.8.8.8/":              "IP address hosts are not allowed",
		"https://localhost/":            "localhost",
	} {
		_, err := p.ValidateURL(raw)
		if want == "" {
			assert.NoError(t, err, raw)
		} else if assert.Error(t, err, raw) {
			assert.Contains(t, err.Error(), want, raw)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	for name, p := range map[string]egress.Policy{
		"port":         {Ports: []int{0}},
		"big port":     {Ports: []int{70000}},
		"prefix":       {AllowPrefixes: []netip.Prefix{{}}},
		"mapped":       {AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}},
		"allow host":   {AllowHosts: []string{"exa mple.com"}},
		"deny host":    {DenyHosts: []string{"example.com."}},
		"numeric host": {DenyHosts: []string{"127.1"}},
	} {
		err := p.Validate()
		require.Error(t, err, name)
		assert.True(t, fault.IsRetryable(err), "an invalid policy is the operator's error")
		_, err = p.ValidateURL("https://example.com/")
		assert.Error(t, err, name)
		assert.NotErrorIs(t, err, egress.ErrRefused)
		_, err = egress.NewClient(p)
		assert.Error(t, err, name)
	}
	assert.NoError(t, egress.Policy{}.Validate())
}

func TestRefusedErrorMessages(t *testing.T) {
	_, err := egress.ValidateURL("https://10.0.0.5/")
	assert.EqualError(t, err, `egress: host "10.0.0.5" is a private address (RFC 1918)`)
	_, err = egress.ValidateURL("https://[::ffff:7f00:1]/")
	assert.EqualError(t, err, `egress: host "::ffff:7f00:1" is the IPv4-mapped form of 127.0.0.1, a loopback address (RFC 1122)`)
	_, err = egress.ValidateURL("https://localhost:443/")
	assert.EqualError(t, err, `egress: host "localhost": localhost names are not allowed`)
	_, err = egress.ValidateURL("https://user:secret@example.com/")
	assert.EqualError(t, err, `egress: URL refused: userinfo (user:password@) is not allowed`)

	err = egress.Policy{}.CheckAddr(netip.MustParseAddr("192.168.0.1"))
	var re *egress.RefusedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, netip.MustParseAddr("192.168.0.1"), re.Addr)
	assert.Equal(t, "a private address (RFC 1918)", re.Rule)
	assert.NoError(t, egress.Policy{}.CheckAddr(netip.MustParseAddr("1.1.1.1")))
}
