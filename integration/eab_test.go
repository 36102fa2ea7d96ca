package integration

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/registration"
	"golang.org/x/crypto/acme"
)

// requireEABConfig turns on acme.require_eab: new accounts need an
// external account binding (RFC 8555, Section 7.3.4).
const requireEABConfig = "acme:\n  require_eab: true\n"

// eabKey is an external account binding key made with `acmegate eab
// create`, as the operator hands it out.
type eabKey struct {
	kid  string
	hmac string // base64url without padding, as the CLI prints it
}

// macKey returns the decoded HMAC key.
func (k eabKey) macKey(t *testing.T) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(k.hmac)
	if err != nil {
		t.Fatalf("decoding the HMAC key of %s: %v", k.kid, err)
	}
	return raw
}

// createEABKey runs `acmegate eab create` against the data folder of the
// running gateway (the CLI opens the same SQLite database) and returns the
// key it printed.
func createEABKey(t *testing.T, g *gateway, label string) eabKey {
	t.Helper()
	out := runGateway(t, "eab", "create", "--label", label, "--data", g.DataDir)
	var k eabKey
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(line, "key id:"); ok {
			k.kid = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "hmac key:"); ok {
			k.hmac = strings.TrimSpace(v)
		}
	}
	if k.kid == "" || k.hmac == "" {
		t.Fatalf("acmegate eab create: got output %q, want \"key id:\" and \"hmac key:\" lines", out)
	}
	if n := len(k.macKey(t)); n != 64 {
		t.Errorf("HMAC key of %s: got %d bytes, want 64", k.kid, n)
	}
	return k
}

// revokeEABKey runs `acmegate eab revoke` against the running gateway's
// data folder.
func revokeEABKey(t *testing.T, g *gateway, kid string) {
	t.Helper()
	runGateway(t, "eab", "revoke", kid, "--data", g.DataDir)
}

// eabBindings returns the BOUND ACCOUNTS column of `acmegate eab list` for
// kid.
func eabBindings(t *testing.T, g *gateway, kid string) string {
	t.Helper()
	out := runGateway(t, "eab", "list", "--data", g.DataDir)
	for line := range strings.Lines(string(out)) {
		// KEY ID, LABEL, REUSABLE, BOUND ACCOUNTS, CREATED, REVOKED; the
		// labels of this file have no spaces.
		if f := strings.Fields(line); len(f) == 6 && f[0] == kid {
			return f[3]
		}
	}
	t.Fatalf("acmegate eab list: got %q, want a row for %s", out, kid)
	return ""
}

// registerLegoEAB registers the account of a lego client's registrar with
// key.
func registerLegoEAB(r *registration.Registrar, key eabKey) (*registration.Resource, error) {
	return r.RegisterWithExternalAccountBinding(registration.RegisterEABOptions{
		TermsOfServiceAgreed: true,
		Kid:                  key.kid,
		HmacEncoded:          key.hmac,
	})
}

func TestEAB(t *testing.T) {
	t.Parallel()
	g := startGateway(t, withConfig(requireEABConfig))

	t.Run("lego", func(t *testing.T) {
		t.Parallel()
		names := []string{"eab-lego.test.internal"}
		pointAt(g, names...)
		client, user := newLegoClient(t, g, newKey(t), challHTTP01)
		if !client.GetExternalAccountRequired() {
			t.Errorf("directory meta externalAccountRequired: got false, want true")
		}
		_, err := client.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true})
		wantProblem(t, err, "externalAccountRequired", http.StatusUnauthorized)

		key := createEABKey(t, g, "lego")
		reg, err := registerLegoEAB(client.Registration, key)
		if err != nil {
			t.Fatalf("RegisterWithExternalAccountBinding: %v", err)
		}
		if reg.Body.Status != "valid" {
			t.Errorf("account status: got %q, want valid", reg.Body.Status)
		}
		user.reg = reg
		start := time.Now()
		res := obtain(t, client, certificate.ObtainRequest{Domains: names})
		checkLegoResource(t, g, res, start, wantCert{identifiers: names})
		if got := eabBindings(t, g, key.kid); got != "1" {
			t.Errorf("bound accounts of %s: got %s, want 1", key.kid, got)
		}

		// The key is single-use: another account key cannot bind it.
		other, _ := newLegoClient(t, g, newKey(t))
		_, err = registerLegoEAB(other.Registration, key)
		wantProblem(t, err, "unauthorized", http.StatusForbidden)
	})

	t.Run("x/crypto/acme", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
		defer cancel()
		names := []string{"eab-xacme.test.internal"}
		pointAt(g, names...)
		client := &acme.Client{Key: newKey(t), DirectoryURL: g.DirectoryURL,
			HTTPClient: g.HTTPClient(), UserAgent: "acmegate-integration"}
		_, err := client.Register(ctx, &acme.Account{}, acme.AcceptTOS)
		wantACMEError(t, err, "externalAccountRequired", http.StatusUnauthorized)

		key := createEABKey(t, g, "x-crypto-acme")
		acct, err := client.Register(ctx, &acme.Account{ExternalAccountBinding: &acme.ExternalAccountBinding{
			KID: key.kid, Key: key.macKey(t),
		}}, acme.AcceptTOS)
		if err != nil {
			t.Fatalf("Register with an external account binding: %v", err)
		}
		if acct.Status != acme.StatusValid || acct.URI == "" {
			t.Errorf("account: got status %q URI %q, want %q and the account URL",
				acct.Status, acct.URI, acme.StatusValid)
		}
		start := time.Now()
		chain := xacmeObtainHTTP01(t, ctx, g, client, names)
		checkChain(t, g, parseDERChain(t, chain), start, wantCert{identifiers: names})
	})

	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		revoked := createEABKey(t, g, "revoked")
		revokeEABKey(t, g, revoked.kid)
		unused := createEABKey(t, g, "unused")
		otherMAC := createEABKey(t, g, "other-mac")
		tests := []struct {
			name string
			key  eabKey
		}{
			{name: "revoked key", key: revoked},
			{name: "unknown key id", key: eabKey{kid: "eab_000000000000000000000000", hmac: unused.hmac}},
			{name: "wrong MAC key", key: eabKey{kid: unused.kid, hmac: otherMAC.hmac}},
		}
		t.Run("cases", func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					client, _ := newLegoClient(t, g, newKey(t))
					_, err := registerLegoEAB(client.Registration, tt.key)
					wantProblem(t, err, "unauthorized", http.StatusForbidden)
				})
			}
		})
		// A binding refused for its MAC does not use the key up.
		client, _ := newLegoClient(t, g, newKey(t))
		if _, err := registerLegoEAB(client.Registration, unused); err != nil {
			t.Errorf("registering with %s after a refused attempt: %v", unused.kid, err)
		}
	})
}

func TestAccountKeyRollover(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	names := []string{"rollover.test.internal"}
	pointAt(g, names...)

	client := newXClient(t, ctx, g)
	acct, err := client.GetReg(ctx, "")
	if err != nil {
		t.Fatalf("GetReg: %v", err)
	}
	other := newXClient(t, ctx, g)
	otherAcct, err := other.GetReg(ctx, "")
	if err != nil {
		t.Fatalf("GetReg of the other account: %v", err)
	}

	oldKey, rolledKey := client.Key, newKey(t)
	if err := client.AccountKeyRollover(ctx, rolledKey); err != nil {
		t.Fatalf("AccountKeyRollover: %v", err)
	}

	t.Run("old key by lookup", func(t *testing.T) {
		// newAccount with onlyReturnExisting, signed by the old key.
		lc, _ := newLegoClient(t, g, oldKey)
		_, err := lc.Registration.ResolveAccountByKey()
		wantProblem(t, err, "accountDoesNotExist", http.StatusBadRequest)
	})

	t.Run("old key with kid", func(t *testing.T) {
		// The account URL as kid, signed by the old key: the signature no
		// longer verifies against the account's key.
		old := &acme.Client{Key: oldKey, KID: acme.KeyID(acct.URI),
			DirectoryURL: g.DirectoryURL, HTTPClient: g.HTTPClient()}
		_, err := old.AuthorizeOrder(ctx, acme.DomainIDs(names...))
		ae := wantACMEError(t, err, "malformed", http.StatusBadRequest)
		t.Logf("old key with kid: %s", ae.Detail)
	})

	t.Run("conflict", func(t *testing.T) {
		err := client.AccountKeyRollover(ctx, other.Key)
		ae := wantACMEError(t, err, "conflict", http.StatusConflict)
		if got := ae.Header.Get("Location"); got != otherAcct.URI {
			t.Errorf("conflict Location: got %q, want the other account %q", got, otherAcct.URI)
		}
		if client.Key != rolledKey {
			t.Errorf("after the refused rollover the client key changed, want the rolled key kept")
		}
	})

	t.Run("new key obtains", func(t *testing.T) {
		lc, user := newLegoClient(t, g, rolledKey, challHTTP01)
		reg, err := lc.Registration.ResolveAccountByKey()
		if err != nil {
			t.Fatalf("ResolveAccountByKey with the new key: %v", err)
		}
		if reg.URI != acct.URI {
			t.Errorf("account of the new key: got %q, want %q", reg.URI, acct.URI)
		}
		user.reg = reg
		start := time.Now()
		res := obtain(t, lc, certificate.ObtainRequest{Domains: names})
		checkLegoResource(t, g, res, start, wantCert{identifiers: names})
	})
}

// xacmeObtainHTTP01 orders names with client, answers every pending
// authorization's http-01 challenge on the gateway's responder, finalizes
// with a fresh P-256 key and returns the DER chain. Authorizations the
// server reused (already valid) are skipped.
func xacmeObtainHTTP01(t *testing.T, ctx context.Context, g *gateway, client *acme.Client, names []string) [][]byte {
	t.Helper()
	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(names...))
	if err != nil {
		t.Fatalf("AuthorizeOrder(%q): %v", names, err)
	}
	for _, u := range order.AuthzURLs {
		z, err := client.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatalf("GetAuthorization: %v", err)
		}
		if z.Status == acme.StatusValid {
			continue
		}
		chal := findChallenge(t, z, challHTTP01)
		keyAuth, err := client.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			t.Fatalf("HTTP01ChallengeResponse: %v", err)
		}
		g.HTTP01.Set(chal.Token, keyAuth)
		if _, err := client.Accept(ctx, chal); err != nil {
			t.Fatalf("Accept: %v", err)
		}
		if _, err := client.WaitAuthorization(ctx, z.URI); err != nil {
			t.Fatalf("WaitAuthorization(%q): %v", z.Identifier.Value, err)
		}
	}
	order, err = client.WaitOrder(ctx, order.URI)
	if err != nil {
		t.Fatalf("WaitOrder: %v", err)
	}
	chain, _, err := client.CreateOrderCert(ctx, order.FinalizeURL, newCSR(t, newKey(t), names), true)
	if err != nil {
		t.Fatalf("CreateOrderCert: %v", err)
	}
	return chain
}
