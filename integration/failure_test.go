package integration

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/go-acme/lego/v4/certificate"
	"golang.org/x/crypto/acme"

	"github.com/acmegate/acmegate/challenges/challtest"
)

// failChallenge orders name, answers its challenge of type typ after setup
// has prepared the responders, and returns the authorization and the
// challenge once validation is over. The authorization must end invalid.
func failChallenge(t *testing.T, ctx context.Context, g *gateway, client *acme.Client, name, typ string,
	setup func(chal *acme.Challenge)) (*acme.Authorization, *acme.Challenge, *acme.Order) {
	t.Helper()
	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		t.Fatalf("AuthorizeOrder(%q): %v", name, err)
	}
	if len(order.AuthzURLs) != 1 {
		t.Fatalf("got %d authorizations, want 1", len(order.AuthzURLs))
	}
	z, err := client.GetAuthorization(ctx, order.AuthzURLs[0])
	if err != nil {
		t.Fatalf("GetAuthorization: %v", err)
	}
	chal := findChallenge(t, z, typ)
	setup(chal)
	if _, err := client.Accept(ctx, chal); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	_, err = client.WaitAuthorization(ctx, z.URI)
	var authzErr *acme.AuthorizationError
	if !errors.As(err, &authzErr) {
		t.Fatalf("WaitAuthorization: got %v (%T), want an *acme.AuthorizationError", err, err)
	}

	z, err = client.GetAuthorization(ctx, z.URI)
	if err != nil {
		t.Fatalf("GetAuthorization after validation: %v", err)
	}
	if z.Status != acme.StatusInvalid {
		t.Errorf("authorization status: got %q, want %q", z.Status, acme.StatusInvalid)
	}
	chal, err = client.GetChallenge(ctx, chal.URI)
	if err != nil {
		t.Fatalf("GetChallenge: %v", err)
	}
	if chal.Status != acme.StatusInvalid {
		t.Errorf("challenge status: got %q, want %q", chal.Status, acme.StatusInvalid)
	}
	order, err = client.GetOrder(ctx, order.URI)
	if err != nil {
		t.Fatalf("GetOrder: %v", err)
	}
	if order.Status != acme.StatusInvalid {
		t.Errorf("order status: got %q, want %q", order.Status, acme.StatusInvalid)
	}
	return z, chal, order
}

// wantChallengeError fails unless chal carries a problem of type
// problemURN+typ.
func wantChallengeError(t *testing.T, chal *acme.Challenge, typ string) {
	t.Helper()
	var ae *acme.Error
	if !errors.As(chal.Error, &ae) {
		t.Fatalf("challenge error: got %v (%T), want an ACME problem %s", chal.Error, chal.Error, typ)
	}
	if ae.ProblemType != problemURN+typ {
		t.Errorf("challenge problem type: got %q (detail %q), want %q",
			ae.ProblemType, ae.Detail, problemURN+typ)
	}
	t.Logf("challenge problem: %s: %s", ae.ProblemType, ae.Detail)
}

func TestChallengeFailures(t *testing.T) {
	t.Parallel()
	g := startGateway(t)

	tests := []struct {
		name     string
		typ      string
		setup    func(t *testing.T, client *acme.Client, name string, chal *acme.Challenge)
		wantType string
	}{
		{
			name: "http-01 wrong key authorization",
			typ:  challHTTP01,
			setup: func(t *testing.T, _ *acme.Client, _ string, chal *acme.Challenge) {
				g.HTTP01.Set(chal.Token, chal.Token+".not-the-account-thumbprint")
			},
			wantType: "incorrectResponse",
		},
		{
			name:     "http-01 not served",
			typ:      challHTTP01,
			setup:    func(*testing.T, *acme.Client, string, *acme.Challenge) {},
			wantType: "incorrectResponse",
		},
		{
			name:     "dns-01 name does not exist",
			typ:      challDNS01,
			setup:    func(*testing.T, *acme.Client, string, *acme.Challenge) {},
			wantType: "dns",
		},
		{
			name: "dns-01 no TXT record",
			typ:  challDNS01,
			setup: func(_ *testing.T, _ *acme.Client, name string, _ *acme.Challenge) {
				g.DNS.SetTXT("_acme-challenge." + name + ".")
			},
			wantType: "incorrectResponse",
		},
		{
			name: "dns-01 wrong TXT record",
			typ:  challDNS01,
			setup: func(_ *testing.T, _ *acme.Client, name string, _ *acme.Challenge) {
				g.DNS.SetTXT("_acme-challenge."+name+".", "bm90IHRoZSByaWdodCBkaWdlc3Q")
			},
			wantType: "incorrectResponse",
		},
		{
			name: "tls-alpn-01 wrong key authorization",
			typ:  challTLSALPN01,
			setup: func(_ *testing.T, _ *acme.Client, name string, chal *acme.Challenge) {
				g.TLSALPN.Set(name, chal.Token+".not-the-account-thumbprint")
			},
			wantType: "incorrectResponse",
		},
		{
			name: "tls-alpn-01 certificate for another name",
			typ:  challTLSALPN01,
			setup: func(t *testing.T, client *acme.Client, name string, chal *acme.Challenge) {
				keyAuth, err := client.HTTP01ChallengeResponse(chal.Token)
				if err != nil {
					t.Fatalf("key authorization: %v", err)
				}
				g.TLSALPN.SetCertificate(name, challtest.NewALPNCertificate(t, challtest.CertSpec{
					Names:            []string{"other.test.internal"},
					KeyAuthorization: keyAuth,
				}))
			},
			wantType: "unauthorized",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
			defer cancel()
			name := "fail" + string(rune('a'+i)) + ".test.internal"
			pointAt(g, name)
			client := newXClient(t, ctx, g)
			_, chal, _ := failChallenge(t, ctx, g, client, name, tt.typ, func(chal *acme.Challenge) {
				tt.setup(t, client, name, chal)
			})
			wantChallengeError(t, chal, tt.wantType)
		})
	}
}

func TestNewOrderRejected(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	client := newXClient(t, t.Context(), g)

	tests := []struct {
		name         string
		ids          []acme.AuthzID
		wantType     string
		wantSubprobs int
	}{
		{name: "empty label", ids: []acme.AuthzID{{Type: "dns", Value: "bad..name"}},
			wantType: "rejectedIdentifier"},
		{name: "single label", ids: []acme.AuthzID{{Type: "dns", Value: "localhost"}},
			wantType: "rejectedIdentifier"},
		{name: "underscore", ids: []acme.AuthzID{{Type: "dns", Value: "under_score.test.internal"}},
			wantType: "rejectedIdentifier"},
		{name: "double wildcard", ids: []acme.AuthzID{{Type: "dns", Value: "*.*.test.internal"}},
			wantType: "rejectedIdentifier"},
		{name: "ip as dns", ids: []acme.AuthzID{{Type: "dns", Value: "127.0.0.1"}},
			wantType: "malformed"},
		{name: "bad ip", ids: []acme.AuthzID{{Type: "ip", Value: "127.0.0.256"}},
			wantType: "malformed"},
		{name: "unknown type", ids: []acme.AuthzID{{Type: "email", Value: "a@test.internal"}},
			wantType: "unsupportedIdentifier"},
		{name: "two bad names", ids: []acme.AuthzID{
			{Type: "dns", Value: "bad..name"}, {Type: "dns", Value: "ok.test.internal"},
			{Type: "dns", Value: "-bad.test.internal"}},
			wantType: "rejectedIdentifier", wantSubprobs: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
			defer cancel()
			_, err := client.AuthorizeOrder(ctx, tt.ids)
			ae := wantACMEError(t, err, tt.wantType, http.StatusBadRequest)
			if len(ae.Subproblems) != tt.wantSubprobs {
				t.Errorf("got %d subproblems, want %d: %+v", len(ae.Subproblems), tt.wantSubprobs, ae.Subproblems)
			}
			for _, sp := range ae.Subproblems {
				if sp.Type != problemURN+tt.wantType || sp.Identifier == nil {
					t.Errorf("subproblem: got type %q identifier %v, want %q with its identifier",
						sp.Type, sp.Identifier, problemURN+tt.wantType)
				}
			}
		})
	}
}

func TestUnknownProfile(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	names := []string{"profile.test.internal"}
	pointAt(g, names...)
	client, _ := newRegisteredLegoClient(t, g, challHTTP01)
	_, err := client.Certificate.Obtain(certificate.ObtainRequest{
		Domains: names,
		Profile: "no-such-profile",
	})
	wantProblem(t, err, "invalidProfile", http.StatusBadRequest)
}
