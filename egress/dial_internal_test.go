package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/fault"
)

// fakeResolver answers each lookup with the next of its answers (the
// last one again when they run out) and counts the lookups.
type fakeResolver struct {
	mu      sync.Mutex
	answers [][]netip.Addr
	err     error
	calls   []string // "network host"
}

func (r *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, network+" "+host)
	if r.err != nil {
		return nil, r.err
	}
	i := min(len(r.calls), len(r.answers)) - 1
	if i < 0 {
		return nil, nil
	}
	return r.answers[i], nil
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// recorder stands in for the network: it records the addresses dialed
// and fails the ones in fail.
type recorder struct {
	mu     sync.Mutex
	dialed []string
	fail   map[string]bool
}

func (rec *recorder) dial(_ context.Context, network, address string) (net.Conn, error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.dialed = append(rec.dialed, network+" "+address)
	if rec.fail[address] {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
	}
	c1, c2 := net.Pipe()
	_ = c2.Close()
	return c1, nil
}

func newTestDialer(t *testing.T, p Policy, res *fakeResolver, rec *recorder) *Dialer {
	t.Helper()
	d, err := NewDialer(p, func(o *Options) {
		o.Resolver = res
		o.dial = rec.dial
	})
	require.NoError(t, err)
	return d
}

func TestDialerNoRebinding(t *testing.T) {
	// The first answer is public, the second private: a rebinding
	// attack. Each connection resolves once and connects to the address
	// it checked; a later connection that resolves to the private
	// address is refused.
	res := &fakeResolver{answers: [][]netip.Addr{addrs("93.184.215.14"), addrs("10.0.0.5")}}
	rec := &recorder{}
	d := newTestDialer(t, Policy{}, res, rec)

	conn, err := d.DialContext(context.Background(), "tcp", "Rebind.Example.com:443")
	require.NoError(t, err)
	_ = conn.Close()
	assert.Equal(t, []string{"ip rebind.example.com"}, res.calls, "resolved once")
	assert.Equal(t, []string{"tcp 93.184.215.14:443"}, rec.dialed, "dialed the checked address")

	_, err = d.DialContext(context.Background(), "tcp", "rebind.example.com:443")
	assert.EqualError(t, err, `egress: host "rebind.example.com" resolves to 10.0.0.5, a private address (RFC 1918)`)
	assert.True(t, fault.IsPermanent(err))
	assert.Len(t, res.calls, 2)
	assert.Len(t, rec.dialed, 1, "the refused address is never dialed")
}

func TestDialerRefusesAnyRefusedAddress(t *testing.T) {
	res := &fakeResolver{answers: [][]netip.Addr{addrs("8.8.8.8", "169.254.169.254")}}
	rec := &recorder{}
	d := newTestDialer(t, Policy{}, res, rec)
	_, err := d.DialContext(context.Background(), "tcp", "mixed.example.com:443")
	assert.EqualError(t, err, `egress: host "mixed.example.com" resolves to 169.254.169.254, a cloud instance metadata address`)
	assert.ErrorIs(t, err, ErrRefused)
	assert.Empty(t, rec.dialed, "a name with a refused address is refused, not filtered")
}

func TestDialerResolvedForms(t *testing.T) {
	tests := []struct {
		answer []netip.Addr
		dialed string // "" when refused
		rule   string
	}{
		{addrs("::ffff:10.0.0.1"), "", "IPv4-mapped form of 10.0.0.1"},
		{addrs("::ffff:8.8.8.8"), "tcp 8.8.8.8:443", ""},
		{addrs("64:ff9b::a00:1"), "", "NAT64"},
		{addrs("fd00:ec2::254"), "", "EC2 instance metadata"},
		{addrs("fe80::1%eth0"), "", "zone"},
		{addrs("::1"), "", "loopback"},
		{addrs("0.0.0.0"), "", "unspecified"},
		{[]netip.Addr{{}}, "", "not a valid address"},
		{addrs("2606:4700::1111"), "tcp [2606:4700::1111]:443", ""},
	}
	for _, tt := range tests {
		t.Run(tt.answer[0].String(), func(t *testing.T) {
			rec := &recorder{}
			d := newTestDialer(t, Policy{}, &fakeResolver{answers: [][]netip.Addr{tt.answer}}, rec)
			conn, err := d.DialContext(context.Background(), "tcp", "host.example.com:443")
			if tt.rule != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.rule)
				assert.True(t, fault.IsPermanent(err))
				assert.Empty(t, rec.dialed)
				return
			}
			require.NoError(t, err)
			_ = conn.Close()
			assert.Equal(t, []string{tt.dialed}, rec.dialed)
		})
	}
}

func TestDialerRetryableFailures(t *testing.T) {
	ctx := context.Background()

	dnsErr := &net.DNSError{Err: "server misbehaving", Name: "host.example.com", IsTemporary: true}
	d := newTestDialer(t, Policy{}, &fakeResolver{err: dnsErr}, &recorder{})
	_, err := d.DialContext(ctx, "tcp", "host.example.com:443")
	assert.True(t, fault.IsRetryable(err))
	assert.ErrorIs(t, err, dnsErr)
	assert.Contains(t, err.Error(), `resolving host "host.example.com"`)

	d = newTestDialer(t, Policy{}, &fakeResolver{}, &recorder{})
	_, err = d.DialContext(ctx, "tcp", "host.example.com:443")
	assert.EqualError(t, err, `egress: host "host.example.com" has no address`)
	assert.True(t, fault.IsRetryable(err))

	// Connection failures: every address is tried, in order.
	rec := &recorder{fail: map[string]bool{"8.8.8.8:443": true, "8.8.4.4:443": true}}
	d = newTestDialer(t, Policy{}, &fakeResolver{answers: [][]netip.Addr{addrs("8.8.8.8", "8.8.4.4")}}, rec)
	_, err = d.DialContext(ctx, "tcp", "host.example.com:443")
	assert.True(t, fault.IsRetryable(err))
	assert.Contains(t, err.Error(), `egress: connecting to host "host.example.com": dial tcp: connection refused`)
	assert.Equal(t, []string{"tcp 8.8.8.8:443", "tcp 8.8.4.4:443"}, rec.dialed)

	rec.fail = map[string]bool{"8.8.8.8:443": true}
	rec.dialed = nil
	conn, err := d.DialContext(ctx, "tcp", "host.example.com:443")
	require.NoError(t, err)
	_ = conn.Close()
	assert.Equal(t, []string{"tcp 8.8.8.8:443", "tcp 8.8.4.4:443"}, rec.dialed)
}

func TestDialerNetworks(t *testing.T) {
	ctx := context.Background()
	res := &fakeResolver{answers: [][]netip.Addr{addrs("2606:4700::1111", "1.1.1.1")}}
	rec := &recorder{}
	d := newTestDialer(t, Policy{}, res, rec)

	conn, err := d.DialContext(ctx, "tcp4", "host.example.com:443")
	require.NoError(t, err)
	_ = conn.Close()
	conn, err = d.DialContext(ctx, "tcp6", "host.example.com:443")
	require.NoError(t, err)
	_ = conn.Close()
	assert.Equal(t, []string{"ip4 host.example.com", "ip6 host.example.com"}, res.calls)
	assert.Equal(t, []string{"tcp4 1.1.1.1:443", "tcp6 [2606:4700::1111]:443"}, rec.dialed)

	d = newTestDialer(t, Policy{}, &fakeResolver{answers: [][]netip.Addr{addrs("1.1.1.1")}}, rec)
	_, err = d.DialContext(ctx, "tcp6", "host.example.com:443")
	assert.EqualError(t, err, `egress: host "host.example.com" has no IPv6 address`)

	_, err = d.DialContext(ctx, "udp", "host.example.com:443")
	assert.ErrorIs(t, err, ErrRefused)
	_, err = d.DialContext(ctx, "tcp", "host.example.com")
	assert.ErrorIs(t, err, ErrRefused)
}

func TestDialerChecksBeforeResolving(t *testing.T) {
	ctx := context.Background()
	for address, rule := range map[string]string{
		"host.example.com:22":         "port 22 is not allowed (allowed: 443, 8443, 80, 8080)",
		"host.example.com:0443":       "leading zeros",
		"2130706433:443":              "non-canonical IPv4",
		"0x7f.1:443":                  "non-canonical IPv4",
		"localhost:443":               "localhost names",
		"LOCALHOST:443":               "localhost names",
		"metadata.google.internal:80": "metadata host name",
		"collector:443":               "single-label",
		"127.0.0.1:443":               "loopback",
		"[::ffff:127.0.0.1]:443":      "IPv4-mapped form of 127.0.0.1",
		"[fe80::1%eth0]:443":          "zone",
		"169.254.169.254:80":          "metadata",
	} {
		res := &fakeResolver{answers: [][]netip.Addr{addrs("8.8.8.8")}}
		rec := &recorder{}
		d := newTestDialer(t, Policy{}, res, rec)
		_, err := d.DialContext(ctx, "tcp", address)
		if assert.Error(t, err, address) {
			assert.Contains(t, err.Error(), rule, address)
			assert.True(t, fault.IsPermanent(err), address)
		}
		assert.Empty(t, res.calls, "%s: no lookup", address)
		assert.Empty(t, rec.dialed, address)
	}
}

func TestDialerLiteralsAndLocalhost(t *testing.T) {
	ctx := context.Background()
	res := &fakeResolver{answers: [][]netip.Addr{addrs("10.9.9.9")}}
	rec := &recorder{}
	d := newTestDialer(t, Policy{AllowLoopback: true}, res, rec)
	for _, address := range []string{"8.8.8.8:443", "[::ffff:8.8.8.8]:443", "localhost:443", "Api.Localhost:443"} {
		conn, err := d.DialContext(ctx, "tcp", address)
		require.NoError(t, err, address)
		_ = conn.Close()
	}
	assert.Empty(t, res.calls, "literals and localhost names are not looked up")
	assert.Equal(t, []string{"tcp 8.8.8.8:443", "tcp 8.8.8.8:443", "tcp 127.0.0.1:443", "tcp 127.0.0.1:443"}, rec.dialed)

	rec.dialed = nil
	rec.fail = map[string]bool{"127.0.0.1:443": true}
	conn, err := d.DialContext(ctx, "tcp", "localhost:443")
	require.NoError(t, err)
	_ = conn.Close()
	assert.Equal(t, []string{"tcp 127.0.0.1:443", "tcp [::1]:443"}, rec.dialed)
}

// TestDialerControl checks the last line of defence: the socket refuses
// to connect to an address the policy refuses, whatever reaches it.
func TestDialerControl(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	d, err := NewDialer(Policy{})
	require.NoError(t, err)
	_, err = d.dial(context.Background(), "tcp", ln.Addr().String())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRefused)
	assert.Contains(t, err.Error(), "loopback")

	d, err = NewDialer(Policy{AllowLoopback: true})
	require.NoError(t, err)
	conn, err := d.dial(context.Background(), "tcp", ln.Addr().String())
	require.NoError(t, err)
	_ = conn.Close()
}

func TestNewDialerCopiesPolicy(t *testing.T) {
	p := Policy{Ports: []int{443}}
	rec := &recorder{}
	d := newTestDialer(t, p, &fakeResolver{answers: [][]netip.Addr{addrs("8.8.8.8")}}, rec)
	p.Ports[0] = 22
	_, err := d.DialContext(context.Background(), "tcp", "host.example.com:443")
	assert.NoError(t, err)
}
