package tlsalpn01_test

import (
	"context"
	"crypto/tls"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/netguard"
	"github.com/acmegate/acmegate/challenges/resolver"
	"github.com/acmegate/acmegate/challenges/tlsalpn01"
)

const (
	token      = "tls-alpn-token_0123456789abcdefghij"
	thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

var keyAuth = challenges.KeyAuthorization(token, thumbprint)

func TestServerName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   challenges.Identifier
		want string
	}{
		{challenges.Identifier{Type: "dns", Value: "a.test"}, "a.test"},
		// RFC 8738, Section 6: the reverse-DNS name of the address.
		{challenges.Identifier{Type: "ip", Value: "192.0.2.1"}, "1.2.0.192.in-addr.arpa"},
		{
			challenges.Identifier{Type: "ip", Value: "2001:db8::1"},
			"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
		},
	}
	for _, tt := range tests {
		got, err := tlsalpn01.ServerName(tt.id)
		if err != nil || got != tt.want {
			t.Errorf("ServerName(%v): got %q, %v, want %q", tt.id, got, err, tt.want)
		}
	}
}

// env is a DNS server where a.test points at 127.0.0.1 and a tls-alpn-01
// responder there.
type env struct {
	dns  *challtest.DNSServer
	tls  *challtest.TLSALPNServer
	port int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{dns: challtest.NewDNSServer(t), tls: challtest.NewTLSALPNServer(t)}
	e.dns.SetA("a.test", "127.0.0.1")
	e.port = e.tls.Port()
	return e
}

func request(typ, value string) challenges.Request {
	return challenges.Request{
		Identifier:       challenges.Identifier{Type: typ, Value: value},
		Token:            token,
		KeyAuthorization: keyAuth,
	}
}

// cert serves a certificate for a.test made from spec.
func cert(spec challtest.CertSpec) func(*testing.T, *env) challenges.Request {
	return func(t *testing.T, e *env) challenges.Request {
		if spec.Names == nil {
			spec.Names = []string{"a.test"}
		}
		if spec.KeyAuthorization == "" {
			spec.KeyAuthorization = keyAuth
		}
		e.tls.SetCertificate("a.test", challtest.NewALPNCertificate(t, spec))
		return request(challenges.IdentifierDNS, "a.test")
	}
}

type testCase struct {
	name       string
	setup      func(t *testing.T, e *env) challenges.Request
	guard      netguard.Policy
	wantKind   string
	wantDetail string
	check      func(t *testing.T, e *env, rec challenges.Record)
}

func run(t *testing.T, tests []testCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			req := tt.setup(t, e)
			res := resolver.New([]string{e.dns.Addr()}, time.Second)
			v := tlsalpn01.New(res, tt.guard, e.port, tlsalpn01.Options{Timeout: 5 * time.Second})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			rec, err := v.Validate(ctx, req)
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			if rec.Type != challenges.TypeTLSALPN01 {
				t.Errorf("got record type %q, want %q", rec.Type, challenges.TypeTLSALPN01)
			}
			if tt.check != nil {
				tt.check(t, e, rec)
			}
		})
	}
}

func wantServerNames(want ...string) func(*testing.T, *env, challenges.Record) {
	return func(t *testing.T, e *env, _ challenges.Record) {
		if got := e.tls.ServerNames(); !slices.Equal(got, want) {
			t.Errorf("got SNI names %q, want %q", got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	var canary *challtest.Canary
	run(t, []testCase{
		{
			name: "dns identifier",
			setup: func(_ *testing.T, e *env) challenges.Request {
				e.tls.Set("a.test", keyAuth)
				return request(challenges.IdentifierDNS, "a.test")
			},
			check: wantServerNames("a.test"),
		},
		{
			name: "IPv4 identifier",
			setup: func(_ *testing.T, e *env) challenges.Request {
				e.tls.Set("127.0.0.1", keyAuth)
				return request(challenges.IdentifierIP, "127.0.0.1")
			},
			check: wantServerNames("1.0.0.127.in-addr.arpa"),
		},
		{
			name: "IPv6 identifier",
			setup: func(t *testing.T, e *env) challenges.Request {
				e.tls = challtest.NewTLSALPNServerAt(t, "[::1]:0")
				e.port = e.tls.Port()
				e.tls.Set("::1", keyAuth)
				return request(challenges.IdentifierIP, "::1")
			},
			check: wantServerNames("1." + strings.Repeat("0.", 31) + "ip6.arpa"),
		},
		{
			name: "no certificate for the name",
			setup: func(*testing.T, *env) challenges.Request {
				return request(challenges.IdentifierDNS, "a.test")
			},
			wantKind:   challenges.KindTLS,
			wantDetail: "TLS handshake with 127.0.0.1:",
		},
		{
			name: "nothing listening",
			setup: func(t *testing.T, e *env) challenges.Request {
				e.port = challtest.ClosedPort(t)
				return request(challenges.IdentifierIP, "127.0.0.1")
			},
			wantKind:   challenges.KindConnection,
			wantDetail: "connecting to 127.0.0.1:",
		},
		{
			// SECURITY-CATALOGUE E1: no connection to a denied network.
			name:  "denied address",
			guard: netguard.Policy{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}},
			setup: func(t *testing.T, e *env) challenges.Request {
				canary = challtest.NewCanary(t, "127.0.0.2:0")
				e.port = canary.Port()
				e.dns.SetA("a.test", "127.0.0.2")
				return request(challenges.IdentifierDNS, "a.test")
			},
			check: func(t *testing.T, _ *env, _ challenges.Record) {
				if got := canary.Connections(); got != 0 {
					t.Errorf("got %d connections to the canary, want 0", got)
				}
			},
			wantKind:   challenges.KindConnection,
			wantDetail: "connection to 127.0.0.2 refused by the network policy",
		},
		{
			name:       "NXDOMAIN",
			setup:      func(*testing.T, *env) challenges.Request { return request("dns", "missing.test") },
			wantKind:   challenges.KindDNS,
			wantDetail: "NXDOMAIN",
		},
	})
}

// TestProtocol covers the TLS side of SECURITY-CATALOGUE E6.
func TestProtocol(t *testing.T) {
	t.Parallel()
	serve := func(configure func(*challtest.TLSALPNServer)) func(*testing.T, *env) challenges.Request {
		return func(_ *testing.T, e *env) challenges.Request {
			e.tls.Set("a.test", keyAuth)
			configure(e.tls)
			return request(challenges.IdentifierDNS, "a.test")
		}
	}
	run(t, []testCase{
		{
			name:       "other protocol only",
			setup:      serve(func(s *challtest.TLSALPNServer) { s.SetALPN("h2") }),
			wantKind:   challenges.KindTLS,
			wantDetail: "no application protocol",
		},
		{
			name:       "no protocol negotiated",
			setup:      serve(func(s *challtest.TLSALPNServer) { s.SetALPN() }),
			wantKind:   challenges.KindTLS,
			wantDetail: `did not negotiate acme-tls/1 (RFC 8737, Section 3): got ""`,
		},
		{
			name:       "TLS 1.1",
			setup:      serve(func(s *challtest.TLSALPNServer) { s.SetMaxVersion(tls.VersionTLS11) }),
			wantKind:   challenges.KindTLS,
			wantDetail: "protocol version",
		},
	})
}
