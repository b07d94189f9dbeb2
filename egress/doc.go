// Package egress guards the connections logdelivery makes to URLs that
// tenants configure (Loki, OpenSearch _bulk, Data Prepper, webhooks). Every
// destination that dials a tenant-supplied URL validates it with
// Policy.ValidateURL when the configuration is written, and sends its
// requests with a client from NewClient, which checks again when it dials.
//
// # Threat model
//
// Tenants are adversaries. A tenant controls the URL, the DNS records of its
// host name and the server behind it. Without a guard, a destination URL
// is a server-side request forgery (SSRF) primitive: the processor runs
// inside the operator's network, often next to a cloud metadata service
// that hands out credentials, so a URL naming 169.254.169.254, 10.0.0.5,
// localhost or a name resolving to them would let a tenant read or poke at
// what only the operator should reach. The guard makes that impossible by
// default:
//
//   - URLs are parsed strictly, so that no two parsers can disagree on the
//     host (see ValidateURL for the refused forms).
//   - Host names are resolved once per connection, through the Resolver of
//     the Options, every address is checked, and the connection is made to
//     the checked address: net/http never resolves the name itself, so a
//     DNS answer that changes between check and use (DNS rebinding) cannot
//     reach a refused address. The address is checked once more just
//     before the socket connects.
//   - Redirects are never followed, since a redirect is a URL the tenant's
//     server chooses at request time.
//   - Proxies are never used: the client has no Proxy function and the
//     package reads no environment variables, so HTTPS_PROXY cannot route
//     around the guard.
//   - TLS certificates are verified, against the host name of the URL (the
//     SNI and the name checked are the URL's host, though the connection is
//     made to an address).
//   - Responses are bounded: timeouts for connecting, the TLS handshake,
//     the response headers and the whole request, a cap on header bytes,
//     and LimitedBody and ReadBody for bodies.
//
// # What is refused
//
// Addresses (literal in the URL or resolved), with the allowances of the
// Policy (AllowLoopback, AllowPrefixes) except where noted:
//
//   - IPv4: 0.0.0.0/8 "this network" including the unspecified address
//     (never allowed: connecting to 0.0.0.0 reaches the local host),
//     10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16 (private, RFC 1918),
//     100.64.0.0/10 (CGNAT, RFC 6598), 127.0.0.0/8 (loopback),
//     169.254.0.0/16 (link-local), 192.0.0.0/24 (IETF protocol
//     assignments), 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24
//     (documentation), 192.88.99.0/24 (6to4 relay anycast), 198.18.0.0/15
//     (benchmarking), 224.0.0.0/4 (multicast), 240.0.0.0/4 (reserved) and
//     255.255.255.255 (broadcast).
//   - IPv6: :: (unspecified, never allowed), ::1 (loopback), ::/96
//     (IPv4-compatible, deprecated), ::ffff:0:0:0/96 (IPv4-translated),
//     64:ff9b:1::/48 (local-use NAT64), 100::/64 (discard-only),
//     2001::/23 (IETF protocol assignments: Teredo 2001::/32, benchmarking
//     2001:2::/48, ORCHID and others), 2001:db8::/32 and 3fff::/20
//     (documentation), 5f00::/16 (SRv6), fc00::/7 (unique local, RFC
//     4193), fe80::/10 (link-local), fec0::/10 (site-local), ff00::/8
//     (multicast), and everything outside the global unicast range
//     2000::/3.
//   - Addresses embedding a refused IPv4 address: IPv4-mapped
//     (::ffff:10.0.0.5), NAT64 (64:ff9b::10.0.0.5, RFC 6052) and 6to4
//     (2002:0a00:0005::/48, RFC 3056).
//   - Cloud metadata addresses, never allowed whatever the allowances:
//     169.254.169.254 (EC2, GCE, Azure, OpenStack and others),
//     169.254.170.2 (ECS task metadata), 169.254.170.23 and fd00:ec2::23
//     (EKS Pod Identity), fd00:ec2::254 (EC2 IMDS over IPv6), fd20:ce::254
//     (GCE metadata over IPv6), 100.100.100.200 (Alibaba Cloud) and
//     168.63.129.16 (Azure WireServer, which looks like a public address).
//   - Addresses with an IPv6 zone (fe80::1%eth0).
//
// Host names:
//
//   - localhost, localhost. and *.localhost (RFC 6761), unless
//     AllowLoopback is set; then they connect to 127.0.0.1 and ::1 without
//     a DNS lookup.
//   - Cloud metadata names (metadata.google.internal, metadata.goog,
//     instance-data.ec2.internal, metadata.tencentyun.com and their
//     subdomains), never allowed.
//   - Single-label names (they resolve through the resolver's search
//     list, to internal hosts) and names under TLDs that are not delegated
//     in the public DNS but used internally (.internal, .local, .lan,
//     .home, .corp, .localdomain, .intranet, .private, .arpa, .test,
//     .example, .invalid, .onion, .alt), unless AllowHosts names them.
//   - Names the operator denies (DenyHosts), and, when AllowHosts is set,
//     every host it does not name, IP literals included.
//   - Names that are not ASCII letter-digit-hyphen labels (RFC 1123) of at
//     most 63 bytes each and 253 in all. Internationalized names must be
//     written in their punycode (xn--) form.
//   - Names whose last label is a number, decimal or 0x-hexadecimal: such
//     a "name" is an IPv4 address to inet_aton and to browsers (127.1,
//     2130706433, 0x7f.1, 0177.0.0.1).
//
// Schemes other than https (and http when AllowHTTP is set) and ports not
// in the Policy's Ports are refused too.
//
// # Errors
//
// A refusal is a *RefusedError naming the host, the address (when there
// is one) and the rule broken, for example
//
//	egress: host "logs.example.com" resolves to 10.0.0.5, a private address (RFC 1918)
//
// It is permanent (fault.IsPermanent), matches ErrRefused, and is what
// ValidateURL returns for every URL it refuses, so that a configuration
// API can answer 422 with its message. Failures to resolve a name and to
// connect, and timeouts, are retryable; so is an invalid Policy, which is
// the operator's error and not the tenant's.
package egress
