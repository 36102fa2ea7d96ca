// Package netguard is the outbound network policy of the challenge
// validators: which IP addresses they may connect to.
//
// A validator resolves a name once with its own resolver, checks each address
// with [Policy.Check], and connects to that exact address through the dialer
// of [Policy.Dialer], which refuses host names. Resolving once and pinning the
// checked address is what defeats DNS rebinding: no second lookup can swap a
// permitted address for a forbidden one between the check and the connection.
//
// Addresses that are never a legitimate validation target (link-local ones,
// including the cloud metadata services, multicast, "this network") are
// always refused; see [DefaultDeny]. Loopback and private networks are
// allowed unless configuration denies them, because an internal CA validates
// internal hosts and a developer may run the gateway and a client on one
// machine. Name resolution and the validators themselves live elsewhere.
package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/acmegate/acmegate/challenges"
)

// defaultDeny backs [DefaultDeny]; it is never modified.
var defaultDeny = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network" (RFC 1122, Section 3.2.1.3)
	netip.MustParsePrefix("169.254.0.0/16"),     // link-local, cloud metadata 169.254.169.254
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud metadata
	netip.MustParsePrefix("224.0.0.0/4"),        // multicast
	netip.MustParsePrefix("240.0.0.0/4"),        // reserved, limited broadcast
	netip.MustParsePrefix("::/128"),             // unspecified
	netip.MustParsePrefix("fe80::/10"),          // link-local
	netip.MustParsePrefix("ff00::/8"),           // multicast
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS metadata over IPv6
}

// DefaultDeny returns the networks that [Policy.Check] always refuses, in
// addition to [Policy.Deny]: "this network" 0.0.0.0/8, link-local
// 169.254.0.0/16 and fe80::/10 (which hold the cloud metadata services),
// the Alibaba Cloud metadata address 100.100.100.200, the AWS IPv6 metadata
// address fd00:ec2::254, multicast, the reserved 240.0.0.0/4 and the
// unspecified address ::. The caller owns the returned slice.
func DefaultDeny() []netip.Prefix {
	return slices.Clone(defaultDeny)
}

// Policy says which addresses validators may connect to. The zero value
// allows every address outside [DefaultDeny]. A Policy is read-only once in
// use and safe for concurrent use.
type Policy struct {
	// Allow, when non-empty, lists the only networks that may be reached.
	Allow []netip.Prefix
	// Deny lists networks that are refused even when Allow contains them,
	// on top of [DefaultDeny]. Add 127.0.0.0/8 and ::1/128 to refuse
	// loopback.
	Deny []netip.Prefix
}

// Check returns nil when ip may be connected to. Otherwise it returns a
// *challenges.Error of kind connection whose detail names the address. An
// IPv4-mapped IPv6 address is judged as the IPv4 address it carries, and an
// address with a zone (fe80::1%eth0) is always refused. Deny rules win over
// Allow rules.
func (p Policy) Check(ip netip.Addr) error {
	refused := func(why string) error {
		return challenges.Errorf(challenges.KindConnection,
			"connection to %s refused by the network policy: %s", ip, why)
	}
	if !ip.IsValid() {
		return challenges.Errorf(challenges.KindConnection, "connection refused: invalid address")
	}
	if ip.Zone() != "" {
		return refused("addresses with a zone are not allowed")
	}

	plain := ip.Unmap()
	if matches(defaultDeny, plain) || matches(p.Deny, plain) {
		return refused("the address is in a denied network")
	}
	if len(p.Allow) > 0 && !matches(p.Allow, plain) {
		return refused("the address is not in an allowed network")
	}
	return nil
}

// matches reports whether ip (already unmapped) is in one of the prefixes.
// A prefix written in IPv4-mapped form (::ffff:10.0.0.0/104) matches the
// IPv4 addresses it covers.
func matches(prefixes []netip.Prefix, ip netip.Addr) bool {
	for _, pfx := range prefixes {
		if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

// Candidates returns the addresses a validator should try, in order: the
// first permitted IPv6 address and then the first permitted IPv4 address,
// skipping addresses that [Policy.Check] refuses. When none is permitted it
// returns the refusal for the first address (a *challenges.Error of kind
// connection); when addrs is empty it returns a connection error too.
func (p Policy) Candidates(addrs []netip.Addr) ([]netip.Addr, error) {
	var v6, v4 netip.Addr
	var firstErr error
	for _, a := range addrs {
		if err := p.Check(a); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if a.Unmap().Is4() && !v4.IsValid() {
			v4 = a.Unmap()
		} else if !a.Unmap().Is4() && !v6.IsValid() {
			v6 = a
		}
	}

	var out []netip.Addr
	for _, a := range []netip.Addr{v6, v4} {
		if a.IsValid() {
			out = append(out, a)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, challenges.Errorf(challenges.KindConnection, "no address to connect to")
}

// Dialer returns a function with the signature of net.Dialer.DialContext
// that connects over TCP with the given connect timeout. It accepts only an
// IP literal with a port ("192.0.2.1:80", "[2001:db8::1]:443"): host names
// are refused, so that resolution happens once, in the validator, and cannot
// be redone by the dialer. The address is checked with [Policy.Check] before
// any packet is sent. Refusals are *challenges.Error of kind connection;
// connection failures are returned as the net package reports them.
func (p Policy) Dialer(
	timeout time.Duration,
) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		switch network {
		case "tcp", "tcp4", "tcp6":
		default:
			return nil, fmt.Errorf("netguard: network %q is not supported", network)
		}
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, challenges.Errorf(challenges.KindConnection,
				"refusing to dial %q: only IP addresses are dialled", challenges.Excerpt(addr, 64))
		}
		if err := p.Check(ap.Addr()); err != nil {
			return nil, err
		}
		return d.DialContext(ctx, network, ap.String())
	}
}
