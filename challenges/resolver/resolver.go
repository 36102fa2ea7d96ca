// Package resolver performs the DNS lookups of the challenge validators: TXT
// records for dns-01, A/AAAA records for the validators that connect, and CAA
// records for package caa.
//
// Queries go over UDP to the configured servers with github.com/miekg/dns and
// are repeated over TCP when the answer is truncated. CNAME chains are
// followed up to [MaxCNAMEs] links, inside one answer or by asking again for
// the target. With [Resolver.Quorum] set, every server is asked independently
// and the answer must be agreed by that many of them, which is how an
// internal CA can insist on the agreement of several internal resolvers
// before it trusts a record.
//
// Failures are *challenges.Error of kind dns whose detail names the query and
// the DNS condition (NXDOMAIN, SERVFAIL, timeout) but never a server address;
// [Resolver.Servers] gives those for the audit record. The resolver caches
// nothing. Deciding what a record must contain is the validators' job.
package resolver

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/acmegate/acmegate/challenges"
)

// MaxCNAMEs is the longest CNAME chain a lookup follows.
const MaxCNAMEs = 8

// DefaultTimeout is the time allowed for one query when New gets zero.
const DefaultTimeout = 5 * time.Second

// systemServer names the fallback to the operating system's resolver in
// [Resolver.Servers].
const systemServer = "system"

// Resolver looks up DNS records for validators. It is safe for concurrent
// use once configured.
type Resolver struct {
	// servers are host:port pairs; nil means the operating system's
	// resolver through the net package.
	servers []string
	timeout time.Duration

	// Quorum, when greater than one, makes every lookup ask each server
	// independently and accept an answer (records or a definite error such
	// as NXDOMAIN) only if at least Quorum servers gave the same one. A
	// Quorum larger than the number of servers fails every lookup. Set it
	// before the first lookup; zero and one mean the first server that
	// answers decides.
	Quorum int
}

// New returns a Resolver that asks servers (host:port) in order. With no
// servers it reads the name servers of /etc/resolv.conf; if that yields none
// it falls back to the net package's resolver, which offers neither answer
// records nor quorum. timeout bounds each query; zero means
// [DefaultTimeout].
func New(servers []string, timeout time.Duration) *Resolver {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if len(servers) == 0 {
		servers = systemServers("/etc/resolv.conf")
	}
	return &Resolver{servers: slices.Clone(servers), timeout: timeout}
}

// systemServers returns the name servers of a resolv.conf file as host:port,
// or nil when the file cannot be read or lists none.
func systemServers(path string) []string {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	return out
}

// Servers returns the servers this resolver asks, for audit records, or
// ["system"] when it uses the operating system's resolver.
func (r *Resolver) Servers() []string {
	if r.servers == nil {
		return []string{systemServer}
	}
	return slices.Clone(r.servers)
}

// LookupTXT returns the TXT values at name, following CNAMEs, and the answer
// records received in presentation form. The character-strings of one record
// are concatenated into one value; bytes outside printable ASCII, quotes and
// backslashes appear escaped as the DNS presentation format writes them. A
// name that exists without TXT records gives no values and no error;
// NXDOMAIN, SERVFAIL, timeouts and broken CNAME chains give a
// *challenges.Error of kind dns.
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, []string, error) {
	if r.servers == nil {
		return systemTXT(ctx, name)
	}
	res, err := r.lookup(ctx, name, dns.TypeTXT)
	return res.values, res.answers, err
}

// LookupIP returns the IPv6 addresses and then the IPv4 addresses of host,
// following CNAMEs. An IP literal is returned as it is. When neither query
// yields an address it returns a *challenges.Error of kind dns: the error of
// the A query if there was one, else that of the AAAA query, else "no
// records".
func (r *Resolver) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if addr, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{addr}, nil
	}
	if r.servers == nil {
		return systemIP(ctx, host)
	}

	var addrs []netip.Addr
	var errs [2]error
	for i, qtype := range []uint16{dns.TypeAAAA, dns.TypeA} {
		res, err := r.lookup(ctx, host, qtype)
		errs[i] = err
		for _, v := range res.values {
			if a, perr := netip.ParseAddr(v); perr == nil {
				addrs = append(addrs, a)
			}
		}
	}
	if len(addrs) > 0 {
		return addrs, nil
	}
	if err := cmp.Or(errs[1], errs[0]); err != nil {
		return nil, err
	}
	return nil, challenges.Errorf(challenges.KindDNS,
		"no A or AAAA records found for %s", challenges.Excerpt(host, 253))
}

// systemTXT is LookupTXT through the net package. It cannot tell NXDOMAIN
// from a name without TXT records, so both give no values.
func systemTXT(ctx context.Context, name string) ([]string, []string, error) {
	values, err := net.DefaultResolver.LookupTXT(ctx, name)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, systemError(err, "TXT", name)
	}
	return values, nil, nil
}

// systemIP is LookupIP through the net package.
func systemIP(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, systemError(err, "A/AAAA", host)
	}
	slices.SortStableFunc(addrs, func(a, b netip.Addr) int {
		return boolInt(a.Unmap().Is4()) - boolInt(b.Unmap().Is4())
	})
	return addrs, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// systemError turns a net package lookup error into a client-safe one.
func systemError(err error, qtype, name string) error {
	var dnsErr *net.DNSError
	cond := "SERVFAIL or network error"
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		cond = "NXDOMAIN"
	case errors.As(err, &dnsErr) && dnsErr.IsTimeout,
		errors.Is(err, context.DeadlineExceeded):
		cond = "query timed out"
	}
	return dnsError(cond, qtype, name)
}

// dnsError is the one shape of lookup failure details.
func dnsError(cond, qtype, name string) *challenges.Error {
	name = strings.TrimSuffix(name, ".")
	return challenges.Errorf(challenges.KindDNS,
		"DNS problem: %s looking up %s for %s", cond, qtype, challenges.Excerpt(name, 253))
}
