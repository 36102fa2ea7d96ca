package netguard

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestCheck covers SECURITY-CATALOGUE E1 (metadata and link-local always
// refused, loopback deniable, the internal-CA allowlist) and E2 (zones,
// IPv4-mapped forms).
func TestCheck(t *testing.T) {
	t.Parallel()
	internal := Policy{Allow: prefixes("10.0.0.0/8", "fd00::/8"), Deny: prefixes("10.0.0.0/24")}
	noLoopback := Policy{Deny: prefixes("127.0.0.0/8", "::1/128")}
	tests := []struct {
		name    string
		policy  Policy
		addr    string
		refused bool
	}{
		{name: "loopback by default", addr: "127.0.0.1"},
		{name: "IPv6 loopback by default", addr: "::1"},
		{name: "private network by default", addr: "10.1.2.3"},
		{name: "ULA by default", addr: "fd00::1"},
		{name: "cloud metadata", addr: "169.254.169.254", refused: true},
		{name: "mapped cloud metadata", addr: "::ffff:169.254.169.254", refused: true},
		{name: "Alibaba metadata", addr: "100.100.100.200", refused: true},
		{name: "AWS IPv6 metadata", addr: "fd00:ec2::254", refused: true},
		{name: "IPv6 link-local", addr: "fe80::1", refused: true},
		{name: "IPv6 zone", addr: "fe80::1%eth0", refused: true},
		{name: "zone on a global address", addr: "2001:db8::1%eth0", refused: true},
		{name: "this network", addr: "0.0.0.0", refused: true},
		{name: "IPv6 unspecified", addr: "::", refused: true},
		{name: "multicast", addr: "224.0.0.1", refused: true},
		{name: "IPv6 multicast", addr: "ff02::1", refused: true},
		{name: "broadcast", addr: "255.255.255.255", refused: true},
		{name: "loopback denied", policy: noLoopback, addr: "127.0.0.5", refused: true},
		{name: "mapped loopback denied", policy: noLoopback, addr: "::ffff:127.0.0.1", refused: true},
		{name: "IPv6 loopback denied", policy: noLoopback, addr: "::1", refused: true},
		{name: "in the allowlist", policy: internal, addr: "10.9.8.7"},
		{name: "IPv6 in the allowlist", policy: internal, addr: "fd12::1"},
		{name: "outside the allowlist", policy: internal, addr: "192.168.1.1", refused: true},
		{name: "deny wins over allow", policy: internal, addr: "10.0.0.5", refused: true},
		{name: "metadata refused even if allowed", policy: Policy{Allow: prefixes("169.254.0.0/16")},
			addr: "169.254.169.254", refused: true},
		{name: "mapped prefix in configuration", policy: Policy{Deny: prefixes("::ffff:10.0.0.0/104")},
			addr: "10.1.1.1", refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := netip.MustParseAddr(tt.addr)
			err := tt.policy.Check(addr)
			if !tt.refused {
				challtest.WantError(t, err, "", "")
				return
			}
			challtest.WantError(t, err, challenges.KindConnection, "connection to "+tt.addr+" refused")
		})
	}
}

func TestCheckInvalid(t *testing.T) {
	t.Parallel()
	challtest.WantError(t, Policy{}.Check(netip.Addr{}), challenges.KindConnection, "invalid address")
}

func TestDefaultDenyIsACopy(t *testing.T) {
	t.Parallel()
	d := DefaultDeny()
	d[0] = netip.MustParsePrefix("127.0.0.0/8")
	if slices.Contains(DefaultDeny(), d[0]) {
		t.Errorf("got %v in DefaultDeny after changing a copy, want it unchanged", d[0])
	}
}

func TestCandidates(t *testing.T) {
	t.Parallel()
	p := Policy{Deny: prefixes("10.0.0.0/8")}
	tests := []struct {
		name       string
		addrs      []string
		want       []string
		wantDetail string
	}{
		{name: "IPv6 first", addrs: []string{"192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2"},
			want: []string{"2001:db8::1", "192.0.2.1"}},
		{name: "denied skipped", addrs: []string{"10.0.0.1", "169.254.169.254", "192.0.2.9"},
			want: []string{"192.0.2.9"}},
		{name: "mapped IPv4 counts as IPv4", addrs: []string{"::ffff:192.0.2.1"},
			want: []string{"192.0.2.1"}},
		{name: "all denied", addrs: []string{"10.0.0.1", "fe80::1"},
			wantDetail: "connection to 10.0.0.1 refused by the network policy"},
		{name: "none", wantDetail: "no address to connect to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var addrs []netip.Addr
			for _, a := range tt.addrs {
				addrs = append(addrs, netip.MustParseAddr(a))
			}
			got, err := p.Candidates(addrs)
			if tt.wantDetail != "" {
				challtest.WantError(t, err, challenges.KindConnection, tt.wantDetail)
				return
			}
			var gotS []string
			for _, a := range got {
				gotS = append(gotS, a.String())
			}
			if err != nil || !slices.Equal(gotS, tt.want) {
				t.Errorf("got %q, %v, want %q", gotS, err, tt.want)
			}
		})
	}
}

// TestDialer shows that a deny rule stops a connection before it is made
// (SECURITY-CATALOGUE E1) and that host names are never resolved by the
// dialer (E2).
func TestDialer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		policy     Policy
		network    string
		addr       func(c *challtest.Canary) string
		wantConns  int
		wantDetail string // empty: the dial succeeds
	}{
		{name: "allowed", network: "tcp", addr: (*challtest.Canary).Addr, wantConns: 1},
		{
			name:       "loopback denied",
			policy:     Policy{Deny: prefixes("127.0.0.0/8")},
			network:    "tcp",
			addr:       (*challtest.Canary).Addr,
			wantDetail: "refused by the network policy",
		},
		{
			name:       "host name",
			network:    "tcp",
			addr:       func(c *challtest.Canary) string { return "localhost:" + portOf(c) },
			wantDetail: "only IP addresses are dialled",
		},
		{
			name:       "zone",
			network:    "tcp6",
			addr:       func(c *challtest.Canary) string { return "[fe80::1%lo]:" + portOf(c) },
			wantDetail: "addresses with a zone are not allowed",
		},
		{name: "udp", network: "udp", addr: (*challtest.Canary).Addr, wantDetail: "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			canary := challtest.NewCanary(t, "127.0.0.1:0")
			dial := tt.policy.Dialer(2 * time.Second)

			conn, err := dial(context.Background(), tt.network, tt.addr(canary))
			if tt.wantDetail == "" {
				if err != nil {
					t.Fatalf("got %v, want a connection", err)
				}
				conn.Close()
				waitConnections(t, canary, tt.wantConns)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantDetail) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantDetail)
			}
			var ce *challenges.Error
			if tt.network != "udp" && !errors.As(err, &ce) {
				t.Errorf("got %T, want *challenges.Error", err)
			}
			// Give a connection that should not exist time to show up.
			time.Sleep(50 * time.Millisecond)
			if got := canary.Connections(); got != 0 {
				t.Errorf("got %d connections to the canary, want 0", got)
			}
		})
	}
}

func portOf(c *challtest.Canary) string {
	_, port, _ := strings.Cut(c.Addr(), ":")
	return port
}

// waitConnections waits until the canary has counted want connections.
func waitConnections(t *testing.T, c *challtest.Canary, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for c.Connections() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := c.Connections(); got != want {
		t.Errorf("got %d connections, want %d", got, want)
	}
}
