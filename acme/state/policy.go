package state

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/challenges/deviceattest"
)

// Policy decides which identifiers may be ordered. The zero Policy allows
// any syntactically valid DNS name and IP address.
type Policy struct {
	// AllowedDomains, when not empty, lists DNS suffixes names must fall
	// under ("corp.internal" allows "corp.internal" and "a.corp.internal").
	AllowedDomains []string
	// DeniedDomains lists DNS suffixes that are always refused.
	DeniedDomains []string
	// AllowedIPRanges, when not empty, lists the CIDR ranges IP identifiers
	// must fall in.
	AllowedIPRanges []string
	// DisallowIP refuses IP identifiers altogether.
	DisallowIP bool
	// DisallowWildcard refuses wildcard DNS names.
	DisallowWildcard bool
}

func (p Policy) validate() error {
	for _, r := range p.AllowedIPRanges {
		if _, err := netip.ParsePrefix(r); err != nil {
			return fmt.Errorf("state: policy allowed IP range %q: %w", r, err)
		}
	}
	return nil
}

// checkIdentifiers validates the syntax and policy of each identifier and
// returns them normalised. All refusals are collected as subproblems
// (RFC 8555, Section 6.7.1).
func (p Policy) checkIdentifiers(ids []Identifier, max int) ([]Identifier, error) {
	if len(ids) == 0 {
		return nil, problem.New(problem.Malformed, "the order has no identifiers")
	}
	if len(ids) > max {
		return nil, problem.New(problem.RejectedIdentifier,
			"the order has %d identifiers; at most %d are allowed", len(ids), max)
	}
	out := make([]Identifier, 0, len(ids))
	seen := map[Identifier]bool{}
	var subs []*problem.Error
	for _, id := range ids {
		norm, err := p.checkIdentifier(id)
		if err != nil {
			pe := problem.From(err)
			pe.Identifier = &problem.Identifier{Type: id.Type, Value: truncate(id.Value, 255)}
			subs = append(subs, pe)
			continue
		}
		if seen[norm] {
			continue
		}
		seen[norm] = true
		out = append(out, norm)
	}
	switch {
	case len(subs) == 1:
		return nil, subs[0]
	case len(subs) > 1:
		return nil, &problem.Error{
			Type:        subs[0].Type,
			Detail:      fmt.Sprintf("%d identifiers were refused; see subproblems", len(subs)),
			Subproblems: subs,
		}
	}
	return out, nil
}

func (p Policy) checkIdentifier(id Identifier) (Identifier, error) {
	switch id.Type {
	case IdentifierDNS:
		name, err := p.checkDNSName(id.Value)
		return Identifier{Type: IdentifierDNS, Value: name}, err
	case IdentifierIP:
		addr, err := p.checkIP(id.Value)
		return Identifier{Type: IdentifierIP, Value: addr}, err
	case IdentifierPermanent:
		if _, err := deviceattest.ParsePermanentIdentifier(id.Value); err != nil {
			return Identifier{}, problem.New(problem.Malformed,
				"%q is not a valid permanent identifier", truncate(id.Value, 64))
		}
		return id, nil
	case IdentifierHardwareModule:
		if _, err := deviceattest.ParseHardwareModule(id.Value); err != nil {
			return Identifier{}, problem.New(problem.Malformed,
				"%q is not a valid hardware module name (serial/type OID)", truncate(id.Value, 64))
		}
		return id, nil
	}
	return Identifier{}, problem.New(problem.UnsupportedIdentifier,
		"identifier type %q is not supported", truncate(id.Type, 32))
}

func (p Policy) checkDNSName(value string) (string, error) {
	// Refuse non-ASCII before folding case: strings.ToLower maps some
	// Unicode letters (the Kelvin sign) onto ASCII ones. Internationalised
	// names must arrive as A-labels (RFC 8555, Section 7.1.4).
	for i := 0; i < len(value); i++ {
		if value[i] >= 0x80 {
			return "", problem.New(problem.RejectedIdentifier,
				"%q is not a valid DNS name: use the ASCII (A-label) form", truncate(value, 255))
		}
	}
	name := strings.ToLower(strings.TrimSuffix(value, "."))
	base := name
	if strings.HasPrefix(name, "*.") {
		if p.DisallowWildcard {
			return "", problem.New(problem.RejectedIdentifier, "wildcard names are not allowed")
		}
		base = name[2:]
	}
	if err := validDNSName(base); err != nil {
		return "", problem.New(problem.RejectedIdentifier, "%q is not a valid DNS name: %s",
			truncate(value, 255), err)
	}
	if _, err := netip.ParseAddr(base); err == nil {
		return "", problem.New(problem.Malformed,
			"%q is an IP address; use an identifier of type ip (RFC 8738)", truncate(value, 64))
	}
	for _, d := range p.DeniedDomains {
		if underDomain(base, d) {
			return "", problem.New(problem.RejectedIdentifier,
				"%s is refused by policy: domain %s is denied", name, d)
		}
	}
	if len(p.AllowedDomains) > 0 {
		ok := false
		for _, d := range p.AllowedDomains {
			ok = ok || underDomain(base, d)
		}
		if !ok {
			return "", problem.New(problem.RejectedIdentifier,
				"%s is refused by policy: it is not under an allowed domain (%s)",
				name, strings.Join(p.AllowedDomains, ", "))
		}
	}
	return name, nil
}

func underDomain(name, domain string) bool {
	domain = strings.ToLower(strings.Trim(domain, "."))
	return name == domain || strings.HasSuffix(name, "."+domain)
}

// validDNSName checks LDH syntax: labels of 1 to 63 letters, digits and
// hyphens, not starting or ending with a hyphen, at least two labels, 253
// characters at most.
func validDNSName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	if len(name) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return fmt.Errorf("a single label is not allowed")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("label %q must have 1 to 63 characters", truncate(l, 70))
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with a hyphen", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("label %q has a character outside letters, digits and hyphen", l)
			}
		}
	}
	return nil
}

func (p Policy) checkIP(value string) (string, error) {
	if p.DisallowIP {
		return "", problem.New(problem.RejectedIdentifier, "IP address identifiers are not allowed")
	}
	addr, err := netip.ParseAddr(value)
	if err != nil || addr.Zone() != "" {
		return "", problem.New(problem.Malformed, "%q is not a valid IP address",
			truncate(value, 64))
	}
	addr = addr.Unmap()
	if len(p.AllowedIPRanges) > 0 {
		ok := false
		for _, r := range p.AllowedIPRanges {
			pfx, _ := netip.ParsePrefix(r)
			ok = ok || pfx.Contains(addr)
		}
		if !ok {
			return "", problem.New(problem.RejectedIdentifier,
				"%s is refused by policy: it is not in an allowed range", addr)
		}
	}
	return addr.String(), nil
}

// truncate shortens client-supplied strings before they go into details
// and logs.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
