package http01_test

import (
	"net/netip"
	"testing"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/netguard"
)

// canaryAt starts a canary and points the validator at its port.
func canaryAt(t *testing.T, e *env, addr string) *challtest.Canary {
	t.Helper()
	c := challtest.NewCanary(t, addr)
	e.port = c.Port()
	return c
}

// TestGuard covers SECURITY-CATALOGUE E1 (no connection to refused
// networks, metadata always refused) and E2 (DNS rebinding).
func TestGuard(t *testing.T) {
	t.Parallel()
	var ipCanary, loopCanary, rebindCanary, deniedNameCanary *challtest.Canary

	run(t, []testCase{
		{
			name:  "ip identifier in a denied network",
			guard: deny("127.0.0.2/32"),
			setup: func(t *testing.T, e *env) challenges.Request {
				ipCanary = canaryAt(t, e, "127.0.0.2:0")
				return request(challenges.IdentifierIP, "127.0.0.2")
			},
			check:      func(t *testing.T, _ *env, _ challenges.Record) { wantNoConnections(t, ipCanary) },
			wantKind:   challenges.KindConnection,
			wantDetail: "connection to 127.0.0.2 refused by the network policy",
		},
		{
			name:  "loopback denied by configuration",
			guard: deny("127.0.0.0/8", "::1/128"),
			setup: func(t *testing.T, e *env) challenges.Request {
				loopCanary = canaryAt(t, e, "127.0.0.1:0")
				return request(challenges.IdentifierDNS, "a.test")
			},
			check:      func(t *testing.T, _ *env, _ challenges.Record) { wantNoConnections(t, loopCanary) },
			wantKind:   challenges.KindConnection,
			wantDetail: "connection to 127.0.0.1 refused by the network policy",
		},
		{
			name:       "outside the allow list",
			guard:      netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			wantKind:   challenges.KindConnection,
			wantDetail: "not in an allowed network",
		},
		{
			name: "cloud metadata address",
			setup: func(*testing.T, *env) challenges.Request {
				return request(challenges.IdentifierIP, "169.254.169.254")
			},
			wantKind:   challenges.KindConnection,
			wantDetail: "connection to 169.254.169.254 refused",
		},
		{
			name: "name of a metadata address",
			setup: func(_ *testing.T, e *env) challenges.Request {
				e.dns.SetA("metadata.test", "169.254.169.254", "fd00:ec2::254")
				return request(challenges.IdentifierDNS, "metadata.test")
			},
			wantKind:   challenges.KindConnection,
			wantDetail: "refused by the network policy",
		},
		{
			// E2: the first answer is checked and pinned; the second,
			// rebound one is never asked for nor dialled.
			name: "rebinding after the check",
			setup: func(t *testing.T, e *env) challenges.Request {
				rebindCanary = challtest.NewCanary(t, secondLoopbackPort(e))
				e.dns.SetASequence("a.test", []string{"127.0.0.1"}, []string{"127.0.0.2"})
				return request(challenges.IdentifierDNS, "a.test")
			},
			check: func(t *testing.T, e *env, rec challenges.Record) {
				wantNoConnections(t, rebindCanary)
				if rec.AddressUsed != "127.0.0.1" {
					t.Errorf("got address used %q, want 127.0.0.1", rec.AddressUsed)
				}
				if got := e.dns.Queries("a.test"); got != 2 {
					t.Errorf("got %d queries for a.test, want 2 (one A, one AAAA)", got)
				}
			},
		},
		{
			// E2: a name resolving to a denied address is refused before
			// any connection.
			name:  "name resolving to a denied address",
			guard: deny("127.0.0.2/32"),
			setup: func(t *testing.T, e *env) challenges.Request {
				deniedNameCanary = challtest.NewCanary(t, secondLoopbackPort(e))
				e.dns.SetA("a.test", "127.0.0.2")
				return request(challenges.IdentifierDNS, "a.test")
			},
			check: func(t *testing.T, _ *env, rec challenges.Record) {
				wantNoConnections(t, deniedNameCanary)
				if len(rec.AddressesTried) != 0 {
					t.Errorf("got addresses tried %q, want none", rec.AddressesTried)
				}
			},
			wantKind:   challenges.KindConnection,
			wantDetail: "connection to 127.0.0.2 refused by the network policy",
		},
	})
}
