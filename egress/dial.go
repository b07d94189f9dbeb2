package egress

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/logdelivery/logdelivery/fault"
)

// Resolver resolves host names to addresses. *net.Resolver implements it;
// tests pass fakes.
type Resolver interface {
	// LookupNetIP returns the addresses of host; network is "ip", "ip4"
	// or "ip6".
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configures NewDialer and NewClient. Zero fields take the
// defaults given.
type Options struct {
	// Resolver resolves host names. Default: net.DefaultResolver.
	Resolver Resolver
	// ConnectTimeout bounds each TCP connection attempt. Default: 10 s.
	ConnectTimeout time.Duration

	// The fields below are used by NewClient only.

	// RootCAs are the certificate authorities server certificates are
	// verified against. Default: the system's. Verification cannot be
	// turned off.
	RootCAs *x509.CertPool
	// TLSHandshakeTimeout bounds the TLS handshake. Default: 10 s.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response headers once
	// the request is written. Default: 30 s.
	ResponseHeaderTimeout time.Duration
	// Timeout bounds each request as a whole, reading the body included
	// (http.Client.Timeout). Default: 60 s; negative for none, leaving
	// it to the request contexts.
	Timeout time.Duration
	// IdleConnTimeout closes idle connections. Default: 90 s.
	IdleConnTimeout time.Duration
	// MaxIdleConns bounds idle connections in all. Default: 100.
	MaxIdleConns int
	// MaxIdleConnsPerHost bounds idle connections per host. Default: 8.
	MaxIdleConnsPerHost int
	// MaxConnsPerHost bounds connections per host, 0 for no bound.
	// Default: 0.
	MaxConnsPerHost int
	// MaxResponseHeaderBytes bounds the response headers. Default: 64 KiB.
	MaxResponseHeaderBytes int64

	// dial replaces the connection of a checked address (tests).
	dial func(ctx context.Context, network, address string) (net.Conn, error)
}

func newOptions(optFns []func(*Options)) Options {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.TLSHandshakeTimeout <= 0 {
		o.TLSHandshakeTimeout = 10 * time.Second
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = 30 * time.Second
	}
	switch {
	case o.Timeout == 0:
		o.Timeout = 60 * time.Second
	case o.Timeout < 0:
		o.Timeout = 0
	}
	if o.IdleConnTimeout <= 0 {
		o.IdleConnTimeout = 90 * time.Second
	}
	if o.MaxIdleConns <= 0 {
		o.MaxIdleConns = 100
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 8
	}
	if o.MaxResponseHeaderBytes <= 0 {
		o.MaxResponseHeaderBytes = 64 << 10
	}
	return o
}

// Dialer connects to the hosts a Policy allows. For each connection it
// resolves the name once, checks every address, and connects to the
// checked addresses only, in the order resolved; the address is checked
// once more just before the socket connects. It is safe for concurrent
// use.
type Dialer struct {
	policy   Policy
	resolver Resolver
	dial     func(ctx context.Context, network, address string) (net.Conn, error)
}

// NewDialer returns a Dialer enforcing p. It uses the Resolver and
// ConnectTimeout of the options. It fails when p is invalid.
func NewDialer(p Policy, optFns ...func(*Options)) (*Dialer, error) {
	return newDialer(p, newOptions(optFns))
}

func newDialer(p Policy, o Options) (*Dialer, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = clonePolicy(p)
	d := &Dialer{policy: p, resolver: o.Resolver, dial: o.dial}
	if d.dial == nil {
		nd := &net.Dialer{
			Timeout:   o.ConnectTimeout,
			KeepAlive: 30 * time.Second,
			ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return &RefusedError{Host: address, Rule: "not an address and port"}
				}
				return p.CheckAddr(ap.Addr())
			},
		}
		d.dial = nd.DialContext
	}
	return d, nil
}

// clonePolicy copies the slices of p, so that a caller changing them
// later changes nothing.
func clonePolicy(p Policy) Policy {
	p.Ports = append([]int(nil), p.Ports...)
	p.AllowPrefixes = append([]netip.Prefix(nil), p.AllowPrefixes...)
	p.AllowHosts = append([]string(nil), p.AllowHosts...)
	p.DenyHosts = append([]string(nil), p.DenyHosts...)
	return p
}

var loopbackAddrs = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}

// DialContext connects to address, "host:port", over network "tcp",
// "tcp4" or "tcp6". It returns a *RefusedError (permanent) when the policy
// refuses the host, its port or any address the host resolves to, and a
// retryable error when the name cannot be resolved or no connection can
// be made.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var ipNetwork string
	switch network {
	case "tcp":
		ipNetwork = "ip"
	case "tcp4":
		ipNetwork = "ip4"
	case "tcp6":
		ipNetwork = "ip6"
	default:
		return nil, refuseURL("the network %q is not allowed (tcp only)", network)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, refuseURL("malformed address to dial: %v", err)
	}
	host = strings.ToLower(host)
	port, err := parsePort(portStr)
	if err != nil {
		return nil, refuseHost(host, "%v", err)
	}
	if err := d.policy.checkPort(host, port); err != nil {
		return nil, err
	}
	addrs, err := d.resolve(ctx, ipNetwork, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		conn, err := d.dial(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		if fault.IsPermanent(err) {
			return nil, err
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fault.Retryable(fmt.Errorf("egress: connecting to host %q: %w", host, errors.Join(errs...)))
}

// resolve returns the checked addresses of host for ipNetwork: the host
// itself for an IP literal, the loopback addresses for an allowed
// localhost name, or one resolution of the name, all of whose addresses
// the policy allows.
func (d *Dialer) resolve(ctx context.Context, ipNetwork, host string) ([]netip.Addr, error) {
	lit, loopback, err := d.policy.checkHost(host)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	switch {
	case lit.IsValid():
		addrs = []netip.Addr{lit.Unmap()}
	case loopback:
		addrs = loopbackAddrs
	default:
		resolved, err := d.resolver.LookupNetIP(ctx, ipNetwork, host)
		if err != nil {
			return nil, fault.Retryable(fmt.Errorf("egress: resolving host %q: %w", host, err))
		}
		for _, a := range resolved {
			// Every address must be allowed: a name that resolves to a
			// refused address at all is refused, not filtered.
			if err := d.policy.checkResolved(host, a); err != nil {
				return nil, err
			}
			a = a.Unmap()
			if !slices.Contains(addrs, a) {
				addrs = append(addrs, a)
			}
		}
	}
	var out []netip.Addr
	for _, a := range addrs {
		if ipNetwork == "ip" || (ipNetwork == "ip4") == a.Is4() {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		family := map[string]string{"ip": "", "ip4": " IPv4", "ip6": " IPv6"}[ipNetwork]
		return nil, fault.Retryable(fmt.Errorf("egress: host %q has no%s address", host, family))
	}
	return out, nil
}
