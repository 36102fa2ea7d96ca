package state

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/acmegate/acmegate/acme/problem"
)

// identifierRefusals are the problem types an identifier may be refused
// with (RFC 8555, Sections 6.7 and 7.4).
var identifierRefusals = map[problem.Type]bool{
	problem.Malformed:             true,
	problem.RejectedIdentifier:    true,
	problem.UnsupportedIdentifier: true,
}

// FuzzIdentifier feeds arbitrary identifier types and values, alone and
// beside a valid one, to the identifier checks of newOrder, under an open
// and a restrictive policy. They must never panic; every refusal must be a
// malformed, rejectedIdentifier or unsupportedIdentifier problem, as must
// its subproblems; an accepted DNS name must be lower-case LDH and an
// accepted IP address canonical.
func FuzzIdentifier(f *testing.F) {
	for _, seed := range [][2]string{
		{"dns", "a.corp.internal"},
		{"dns", "*.Corp.Internal."},
		{"ip", "10.0.0.1"},
		{"ip", "::ffff:10.0.0.1"},
		{"dns", "-bad-.corp.internal"},
		{"email", "x@corp.internal"},
		{"permanent-identifier", "0123"},
	} {
		f.Add(seed[0], seed[1])
	}
	policies := []Policy{
		{},
		{AllowedDomains: []string{"corp.internal"}, DeniedDomains: []string{"bad.corp.internal"},
			AllowedIPRanges: []string{"10.0.0.0/8"}, DisallowWildcard: true},
	}
	f.Fuzz(func(t *testing.T, typ, value string) {
		id := Identifier{Type: typ, Value: value}
		for _, p := range policies {
			for _, ids := range [][]Identifier{{id}, {id, {Type: IdentifierDNS, Value: "ok.corp.internal"}}} {
				out, err := p.checkIdentifiers(ids, 10)
				if err != nil {
					checkIdentifierRefusal(t, id, err)
					continue
				}
				for _, got := range out {
					checkAcceptedIdentifier(t, id, got)
				}
			}
		}
	})
}

func checkIdentifierRefusal(t *testing.T, id Identifier, err error) {
	t.Helper()
	var pe *problem.Error
	if !errors.As(err, &pe) {
		t.Fatalf("%+v: refused with %T %v, want a *problem.Error", id, err, err)
	}
	if !identifierRefusals[pe.Type] {
		t.Fatalf("%+v: refused as %s, want malformed, rejectedIdentifier or unsupportedIdentifier",
			id, pe.Type)
	}
	for _, sub := range pe.Subproblems {
		if !identifierRefusals[sub.Type] || sub.Identifier == nil {
			t.Fatalf("%+v: subproblem %+v, want an identifier refusal naming it", id, sub)
		}
	}
}

func checkAcceptedIdentifier(t *testing.T, in, got Identifier) {
	t.Helper()
	switch got.Type {
	case IdentifierDNS:
		name := got.Value
		if len(name) > 2 && name[:2] == "*." {
			name = name[2:]
		}
		if err := validDNSName(name); err != nil {
			t.Fatalf("%+v: accepted as %q, which is not lower-case LDH: %v", in, got.Value, err)
		}
	case IdentifierIP:
		addr, err := netip.ParseAddr(got.Value)
		if err != nil || addr.String() != got.Value || addr.Is4In6() || addr.Zone() != "" {
			t.Fatalf("%+v: accepted as IP %q, want a canonical address", in, got.Value)
		}
	case IdentifierPermanent:
		if got != in {
			t.Fatalf("%+v: accepted as %+v, want it unchanged", in, got)
		}
	default:
		t.Fatalf("%+v: accepted with type %q", in, got.Type)
	}
}
