package ca

import (
	"crypto/x509"
	"fmt"
	"net"
	"strings"
)

// checkNameConstraints refuses identifiers that the intermediate's or the
// root's name constraints (RFC 5280, Section 4.2.1.10) exclude, so that we
// never sign a certificate that cannot verify.
func (i *Issuer) checkNameConstraints(dnsNames []string, ips []net.IP) error {
	for _, ca := range []*x509.Certificate{i.Certificate, i.Root} {
		for _, name := range dnsNames {
			if !dnsAllowed(name, ca.PermittedDNSDomains, ca.ExcludedDNSDomains) {
				return fmt.Errorf("%w: %s", ErrNameConstraint, name)
			}
		}
		for _, ip := range ips {
			if !ipAllowed(ip, ca.PermittedIPRanges, ca.ExcludedIPRanges) {
				return fmt.Errorf("%w: %s", ErrNameConstraint, ip)
			}
		}
	}
	return nil
}

// dnsAllowed applies DNS name constraints: no excluded subtree may match,
// and if any subtree is permitted one must match.
func dnsAllowed(name string, permitted, excluded []string) bool {
	for _, c := range excluded {
		if dnsMatches(name, c) || wildcardReaches(name, c) {
			return false
		}
	}
	if len(permitted) == 0 {
		return true
	}
	for _, c := range permitted {
		if dnsMatches(name, c) {
			return true
		}
	}
	return false
}

// dnsMatches reports whether name lies in the subtree c. As in crypto/x509,
// "example.com" covers the name itself and every name below it, while
// ".example.com" covers only the names below it. Comparison ignores case.
func dnsMatches(name, c string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	c = strings.ToLower(c)
	switch {
	case c == "":
		return true
	case strings.HasPrefix(c, "."):
		return strings.HasSuffix(name, c)
	default:
		return name == c || strings.HasSuffix(name, "."+c)
	}
}

// wildcardReaches reports whether a wildcard name such as "*.example.com",
// which stands for any one label below its base, can name a host inside the
// excluded subtree c, such as "secret.example.com". crypto/x509 refuses
// such wildcards, so we do too.
func wildcardReaches(name, c string) bool {
	base, ok := strings.CutPrefix(strings.ToLower(name), "*")
	if !ok || strings.HasPrefix(c, ".") {
		return false
	}
	c = strings.ToLower(c)
	dot := strings.IndexByte(c, '.')
	return dot >= 0 && c[dot:] == base
}

// ipAllowed applies IP range constraints the same way as [dnsAllowed].
func ipAllowed(ip net.IP, permitted, excluded []*net.IPNet) bool {
	for _, r := range excluded {
		if r.Contains(ip) {
			return false
		}
	}
	if len(permitted) == 0 {
		return true
	}
	for _, r := range permitted {
		if r.Contains(ip) {
			return true
		}
	}
	return false
}
