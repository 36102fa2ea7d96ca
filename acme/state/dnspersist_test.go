package state_test

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/server"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/dnspersist"
	"github.com/acmegate/acmegate/challenges/resolver"
)

const (
	persistIssuer = "ca.corp.internal"
	persistPrefix = "https://ca.corp.internal/acme/account-hash/"
)

// persistEnv is a gateway offering dns-persist-01 with a real validator
// that reads records from an in-process DNS server.
type persistEnv struct {
	gw  *acmetest.Gateway
	dns *challtest.DNSServer
	c   *acmetest.Client
}

func newPersistEnv(t *testing.T) *persistEnv {
	t.Helper()
	dns := challtest.NewDNSServer(t)
	var clock *acmetest.Clock // set below, before any validation
	v, err := dnspersist.New(resolver.New([]string{dns.Addr()}, time.Second), dnspersist.Options{
		IssuerDomainNames: []string{persistIssuer},
		AccountHashPrefix: persistPrefix,
		Now:               func() time.Time { return clock.Now() },
	})
	if err != nil {
		t.Fatalf("dnspersist.New: %v", err)
	}
	gw := acmetest.New(t, acmetest.Options{
		// Without reuse, every order is validated again from the same
		// standing record.
		Config:     state.Config{DisableAuthzReuse: true},
		Meta:       server.Meta{IssuerDomainNames: []string{persistIssuer}, AccountHashPrefix: persistPrefix},
		Validators: map[string]challenges.Validator{dnspersist.Type: v},
	})
	clock = gw.Clock
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	return &persistEnv{gw: gw, dns: dns, c: c}
}

// record returns a validation record naming the client's account for
// domain, followed by extra parameters.
func (e *persistEnv) record(t *testing.T, c *acmetest.Client, domain, extra string) string {
	t.Helper()
	thumb, err := c.JWK().Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatalf("thumbprint: %v", err)
	}
	uri := dnspersist.HashedAccountURI(persistPrefix, domain,
		base64.RawURLEncoding.EncodeToString(thumb), c.KID)
	return persistIssuer + "; accounturi=" + uri + extra
}

// persistChallenge is a dns-persist-01 challenge as the wire carries it.
type persistChallenge struct {
	Type              string   `json:"type"`
	URL               string   `json:"url"`
	Token             *string  `json:"token"`
	Status            string   `json:"status"`
	IssuerDomainNames []string `json:"issuerDomainNames"`
}

// challengesOf reads the challenges of an authorization.
func challengesOf(t *testing.T, c *acmetest.Client, authzURL string) []persistChallenge {
	t.Helper()
	var a struct {
		Challenges []persistChallenge `json:"challenges"`
	}
	c.PostAsGet(t, authzURL).Want(t, http.StatusOK).JSON(t, &a)
	return a.Challenges
}

func TestDNSPersistOffered(t *testing.T) {
	t.Parallel()
	e := newPersistEnv(t)
	tests := []struct {
		name  string
		id    acmetest.Identifier
		types []string
	}{
		{"name", acmetest.Identifier{Type: "dns", Value: "a.corp.internal"},
			[]string{"http-01", "dns-01", "dns-persist-01"}},
		{"wildcard", acmetest.Identifier{Type: "dns", Value: "*.w.corp.internal"},
			[]string{"dns-01", "dns-persist-01"}},
		{"ip address", acmetest.Identifier{Type: "ip", Value: "10.0.0.1"}, []string{"http-01"}},
	}
	for _, tt := range tests {
		var o acmetest.Order
		e.c.PostJSON(t, e.gw.URLFor("new-order"), map[string]any{
			"identifiers": []acmetest.Identifier{tt.id}}).Want(t, http.StatusCreated).JSON(t, &o)
		chals := challengesOf(t, e.c, o.Authorizations[0])
		var types []string
		for _, ch := range chals {
			types = append(types, ch.Type)
			if ch.Type != dnspersist.Type {
				continue
			}
			// draft-ietf-acme-dns-persist-02, Section 3.1: no token, and
			// the issuer domain names.
			if ch.Token != nil || !slices.Equal(ch.IssuerDomainNames, []string{persistIssuer}) {
				t.Errorf("%s: got token %v and issuerDomainNames %v, want none and [%s]",
					tt.name, ch.Token, ch.IssuerDomainNames, persistIssuer)
			}
		}
		if !slices.Equal(types, tt.types) {
			t.Errorf("%s: got challenge types %v, want %v", tt.name, types, tt.types)
		}
	}

	var dir struct {
		Meta struct {
			AccountHashPrefix string   `json:"accountHashPrefix"`
			IssuerDomainNames []string `json:"issuerDomainNames"`
		} `json:"meta"`
	}
	e.gw.Get(t, e.gw.URLFor("directory")).Want(t, http.StatusOK).JSON(t, &dir)
	if dir.Meta.AccountHashPrefix != persistPrefix ||
		!slices.Equal(dir.Meta.IssuerDomainNames, []string{persistIssuer}) {
		t.Errorf("got directory meta %+v, want the prefix and the issuer domain names", dir.Meta)
	}
}

func TestDNSPersistValidation(t *testing.T) {
	t.Parallel()
	e := newPersistEnv(t)
	until := e.gw.Clock.Now().Add(2 * time.Hour).Truncate(time.Second)
	e.dns.SetTXT("_validation-persist.p.corp.internal",
		e.record(t, e.c, "p.corp.internal", fmt.Sprintf("; policy=wildcard; persistUntil=%d",
			until.Unix())))
	other := e.gw.NewClient(t, jose.ES256)
	other.Register(t)

	// respond answers the dns-persist-01 challenge of the order's only
	// authorization and returns the authorization afterwards.
	respond := func(c *acmetest.Client, name string) (*acmetest.Order, *acmetest.Authz) {
		t.Helper()
		url, o := c.NewOrder(t, name)
		ch := acmetest.ChallengeOf(t, c.FetchAuthz(t, o.Authorizations[0]), dnspersist.Type)
		c.Respond(t, ch.URL).Want(t, http.StatusOK)
		return c.FetchOrder(t, url), c.FetchAuthz(t, o.Authorizations[0])
	}

	for _, name := range []string{"p.corp.internal", "*.p.corp.internal", "p.corp.internal"} {
		o, a := respond(e.c, name)
		if o.Status != "ready" || a.Status != "valid" {
			t.Fatalf("%s: got order %s and authorization %s, want ready and valid",
				name, o.Status, a.Status)
		}
		// draft-ietf-acme-dns-persist-02, Section 4.1: the authorization
		// does not outlive persistUntil.
		if a.Expires != until.Format(time.RFC3339) {
			t.Errorf("%s: got authorization expiry %s, want persistUntil %s", name, a.Expires,
				until.Format(time.RFC3339))
		}
	}

	o, a := respond(other, "p.corp.internal")
	ch := acmetest.ChallengeOf(t, a, dnspersist.Type)
	if o.Status != "invalid" || ch.Error == nil || ch.Error.Type != "urn:ietf:params:acme:error:unauthorized" {
		t.Errorf("another account: got order %s and challenge error %+v, want invalid and unauthorized",
			o.Status, ch.Error)
	}

	// After persistUntil the record no longer validates.
	e.gw.Clock.Add(3 * time.Hour)
	e.c.ForgetNonces()
	o, a = respond(e.c, "p.corp.internal")
	ch = acmetest.ChallengeOf(t, a, dnspersist.Type)
	if o.Status != "invalid" || ch.Error == nil || ch.Error.Type != "urn:ietf:params:acme:error:unauthorized" {
		t.Errorf("after persistUntil: got order %s and challenge error %+v, want invalid and unauthorized",
			o.Status, ch.Error)
	}
}

// TestDNSPersistAfterKeyChange checks that a standing record made with the
// account's key before a key change still validates, as the draft asks
// (draft-ietf-acme-dns-persist-02, Section 4.2), and that a record made
// with a key the account never had does not.
func TestDNSPersistAfterKeyChange(t *testing.T) {
	t.Parallel()
	e := newPersistEnv(t)
	e.dns.SetTXT("_validation-persist.k.corp.internal", e.record(t, e.c, "k.corp.internal", ""))
	never := e.gw.ClientFor(acmetest.NewKey(t, jose.ES256), jose.ES256)
	never.KID = e.c.KID
	e.dns.SetTXT("_validation-persist.n.corp.internal", e.record(t, never, "n.corp.internal", ""))

	// Roll the account over to a new key (RFC 8555, Section 7.3.5).
	newKey := acmetest.NewKey(t, jose.ES256)
	rolled := e.gw.ClientFor(newKey, jose.ES256)
	header, err := json.Marshal(map[string]any{"alg": "ES256", "jwk": rolled.JWKJSON(t),
		"url": e.gw.URLFor("key-change")})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(map[string]any{"account": e.c.KID, "oldKey": e.c.JWKJSON(t)})
	if err != nil {
		t.Fatal(err)
	}
	e.c.Post(t, e.gw.URLFor("key-change"), acmetest.SignRaw(t, newKey, "ES256", header, payload)).
		Want(t, http.StatusOK)
	rolled.KID = e.c.KID

	for _, tt := range []struct {
		name, want string
	}{{"k.corp.internal", "valid"}, {"n.corp.internal", "invalid"}} {
		_, o := rolled.NewOrder(t, tt.name)
		ch := acmetest.ChallengeOf(t, rolled.FetchAuthz(t, o.Authorizations[0]), dnspersist.Type)
		rolled.Respond(t, ch.URL).Want(t, http.StatusOK)
		if got := rolled.FetchAuthz(t, o.Authorizations[0]).Status; got != tt.want {
			t.Errorf("%s: got authorization %s, want %s", tt.name, got, tt.want)
		}
	}
}
