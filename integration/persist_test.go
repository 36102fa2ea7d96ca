package integration

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/client"
	"github.com/acmegate/acmegate/challenges/dnspersist"
)

// persistConfig enables dns-persist-01 with subdomains, and turns
// authorization reuse off so that every order is validated again from the
// same standing record. lego v4 does not implement dns-persist-01, so
// these tests drive the gateway with acmegate's own client.
const persistConfig = `acme:
  disable_authz_reuse: true
challenges:
  dns_persist:
    enabled: true
    issuer_domain_names: [ca.acmegate.test]
    allow_subdomains: true
`

// persistZone is the domain whose _validation-persist record the tests
// publish.
const persistZone = "persist.test"

// newPersistClient returns an acmegate client of g with a fresh key and a
// registered account.
func newPersistClient(t *testing.T, ctx context.Context, g *gateway) *client.Client {
	t.Helper()
	c, err := client.New(g.DirectoryURL, newKey(t), client.Options{HTTPClient: g.HTTPClient(),
		PollInterval: 100 * time.Millisecond, PollTimeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	if _, err := c.Register(ctx, client.AccountRequest{TermsOfServiceAgreed: true}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return c
}

// persistOrder orders name and answers the dns-persist-01 challenge of its
// authorization with {}, returning the order once it is ready or the
// error of the authorization.
func persistOrder(t *testing.T, ctx context.Context, c *client.Client, name string,
	issuers []string) (*client.Order, error) {
	t.Helper()
	o, err := c.NewOrder(ctx, client.OrderRequest{Identifiers: []client.Identifier{
		client.NewIdentifier(name)}})
	if err != nil {
		t.Fatalf("NewOrder(%s): %v", name, err)
	}
	a, err := c.Authorization(ctx, o.Authorizations[0])
	if err != nil {
		t.Fatalf("Authorization(%s): %v", name, err)
	}
	ch := a.Challenge(client.ChallengeDNSPersist01)
	if ch == nil {
		t.Fatalf("%s: the authorization offers no %s challenge", name, client.ChallengeDNSPersist01)
	}
	// draft-ietf-acme-dns-persist-02, Section 3.1: the challenge carries
	// the issuer domain names and no token.
	if ch.Token != "" || !slices.Equal(ch.IssuerDomainNames, issuers) {
		t.Errorf("%s: got token %q and issuerDomainNames %q, want none and %q", name, ch.Token,
			ch.IssuerDomainNames, issuers)
	}
	if _, err := c.Respond(ctx, ch.URL, nil); err != nil {
		t.Fatalf("Respond(%s): %v", name, err)
	}
	if _, err := c.WaitAuthorization(ctx, o.Authorizations[0]); err != nil {
		return nil, err
	}
	return c.WaitOrder(ctx, o.URL)
}

// TestDNSPersist publishes one _validation-persist record with
// policy=wildcard and obtains certificates for the zone's name, its
// wildcard and a name below it, one order after another, without touching
// DNS again; the record does not serve another account.
func TestDNSPersist(t *testing.T) {
	t.Parallel()
	g := startGateway(t, withConfig(persistConfig))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := newPersistClient(t, ctx, g)

	// The directory tells a client everything it needs to publish the
	// record before ordering (draft-ietf-acme-dns-persist-02, Section 4.5).
	dir, err := c.Directory(ctx)
	if err != nil {
		t.Fatalf("Directory: %v", err)
	}
	issuers := []string{"ca.acmegate.test"}
	if want := g.DirectoryURL[:len(g.DirectoryURL)-len("directory")] + "account-hash/"; dir.Meta.AccountHashPrefix != want ||
		!slices.Equal(dir.Meta.IssuerDomainNames, issuers) {
		t.Fatalf("got directory meta %+v, want accountHashPrefix %s and issuerDomainNames %q",
			dir.Meta, want, issuers)
	}
	uri := dnspersist.HashedAccountURI(dir.Meta.AccountHashPrefix, persistZone, c.Thumbprint(),
		c.AccountURL())
	record := "_validation-persist." + persistZone
	g.DNS.SetTXT(record, issuers[0]+"; accounturi="+uri+"; policy=wildcard")

	for _, name := range []string{persistZone, "*." + persistZone, "api." + persistZone, persistZone} {
		start := time.Now()
		o, err := persistOrder(t, ctx, c, name, issuers)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		key := newKey(t)
		o, err = c.Finalize(ctx, o, newCSR(t, key, []string{name}))
		if err != nil {
			t.Fatalf("Finalize(%s): %v", name, err)
		}
		chain, err := c.Certificate(ctx, o.Certificate)
		if err != nil {
			t.Fatalf("Certificate(%s): %v", name, err)
		}
		checkChainPEM(t, g, chain, start, wantCert{identifiers: []string{name}})
	}
	// Every order was validated against the record, not reused.
	if n := g.DNS.Queries(record); n < 4 {
		t.Errorf("got %d queries for %s, want at least one per order", n, record)
	}

	other := newPersistClient(t, ctx, g)
	_, err = persistOrder(t, ctx, other, persistZone, issuers)
	if !client.IsProblem(err, "unauthorized") {
		t.Errorf("another account: got %v, want an unauthorized problem", err)
	}
}
