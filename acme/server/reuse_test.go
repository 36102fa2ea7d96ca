package server_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/ca/catest"
)

// twoProfiles configures a second, shorter profile beside the default.
var twoProfiles = state.Config{Profiles: map[string]ca.Profile{
	"default": ca.DefaultProfile(),
	"short": {Name: "short", Description: "six hours", Lifetime: 6 * time.Hour,
		MaxLifetime: 6 * time.Hour, Backdate: time.Minute},
}}

// TestAuthorizationReuse covers catalogue row D2: a valid authorization is
// reused only for the same account, the same profile and the same kind of
// name (a wildcard never reuses a plain name's authorization, nor the
// reverse).
func TestAuthorizationReuse(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{Config: twoProfiles})
	a, b := gw.NewClient(t, jose.ES256), gw.NewClient(t, jose.ES256)
	a.Register(t)
	b.Register(t)
	_, first := a.ReadyOrder(t, "x.corp.internal")
	validated := first.Authorizations[0]
	_, wild := a.ReadyOrder(t, "*.w.corp.internal")

	order := func(c *acmetest.Client, payload map[string]any) *acmetest.Order {
		var o acmetest.Order
		c.PostJSON(t, gw.URLFor("new-order"), payload).Want(t, http.StatusCreated).JSON(t, &o)
		return &o
	}
	names := func(n string) map[string]any { return map[string]any{"identifiers": acmetest.DNS(n)} }

	t.Run("same account and profile reuses", func(t *testing.T) {
		o := order(a, names("x.corp.internal"))
		if o.Status != "ready" || o.Authorizations[0] != validated {
			t.Errorf("got %s with %v, want ready with %s", o.Status, o.Authorizations, validated)
		}
	})
	tests := []struct {
		name    string
		c       *acmetest.Client
		payload map[string]any
		not     string
	}{
		{"D2 another account", b, names("x.corp.internal"), validated},
		{"D2 another profile", a, map[string]any{"identifiers": acmetest.DNS("x.corp.internal"),
			"profile": "short"}, validated},
		{"D2 wildcard of a name validated by http-01", a, names("*.x.corp.internal"), validated},
		{"D2 plain name of a validated wildcard", a, names("w.corp.internal"), wild.Authorizations[0]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := gw.Validator.Calls()
			o := order(tc.c, tc.payload)
			if o.Status != "pending" || slices.Contains(o.Authorizations, tc.not) {
				t.Errorf("got %s with %v, want pending with a new authorization", o.Status, o.Authorizations)
			}
			if az := tc.c.FetchAuthz(t, o.Authorizations[0]); az.Status != "pending" {
				t.Errorf("got authorization status %q, want pending", az.Status)
			}
			if gw.Validator.Calls() != calls {
				t.Errorf("ordering started a validation")
			}
		})
	}
}

// TestAuthorizationReuseKeepsTimes covers catalogue row D3: reusing an
// authorization does not refresh its expiry or validation time, and one
// about to expire is not reused.
func TestAuthorizationReuseKeepsTimes(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	_, o := c.ReadyOrder(t, "y.corp.internal")
	before := c.FetchAuthz(t, o.Authorizations[0])

	gw.Clock.Add(20 * time.Hour)
	c.ForgetNonces()
	_, again := c.NewOrder(t, "y.corp.internal")
	if again.Status != "ready" || again.Authorizations[0] != o.Authorizations[0] {
		t.Fatalf("got %s with %v, want ready reusing %s", again.Status, again.Authorizations,
			o.Authorizations[0])
	}
	after := c.FetchAuthz(t, o.Authorizations[0])
	if after.Expires != before.Expires || after.Challenges[0].Validated != before.Challenges[0].Validated {
		t.Errorf("got expires %s validated %s, want %s and %s as before", after.Expires,
			after.Challenges[0].Validated, before.Expires, before.Challenges[0].Validated)
	}

	gw.Clock.Add(3*time.Hour + 30*time.Minute)
	c.ForgetNonces()
	_, late := c.NewOrder(t, "y.corp.internal")
	if late.Status != "pending" || late.Authorizations[0] == o.Authorizations[0] {
		t.Errorf("got %s with %v, want a new pending authorization half an hour before expiry",
			late.Status, late.Authorizations)
	}
}

// TestCSRExtensionsIgnored covers catalogue row D8: a CSR asking for CA
// powers, other key usages, extra extensions and a subject crafted for
// template injection gets either badCSR or a certificate built from the
// profile alone, which zlint accepts.
func TestCSRExtensionsIgnored(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	_, o := c.ReadyOrder(t, "d8.corp.internal")

	mustDER := func(v any) []byte {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatalf("encoding an extension: %v", err)
		}
		return b
	}
	custom := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 1}
	csr := acmetest.CSR(t, acmetest.NewKey(t, jose.ES256), []string{"d8.corp.internal"},
		func(r *x509.CertificateRequest) {
			r.Subject = pkix.Name{CommonName: "d8.corp.internal",
				Organization: []string{`"},"isCA":true,{"`}}
			r.ExtraExtensions = []pkix.Extension{
				{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true,
					Value: mustDER(struct{ IsCA bool }{true})},
				{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true,
					Value: mustDER(asn1.BitString{Bytes: []byte{0x06}, BitLength: 7})},
				{Id: asn1.ObjectIdentifier{2, 5, 29, 37},
					Value: mustDER([]asn1.ObjectIdentifier{{2, 5, 29, 37, 0}})},
				{Id: custom, Value: mustDER("copied?")},
			}
		})

	r := c.Finalize(t, o, csr)
	if r.Status == http.StatusBadRequest {
		wantProblem(t, r, http.StatusBadRequest, "badCSR")
		return
	}
	var done acmetest.Order
	r.Want(t, http.StatusOK).JSON(t, &done)
	chain := c.PostAsGet(t, done.Certificate).Want(t, http.StatusOK).Body
	cert := firstCert(t, chain)
	if cert.IsCA || cert.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0 {
		t.Errorf("got IsCA %v and key usage %b, want an end-entity certificate", cert.IsCA, cert.KeyUsage)
	}
	wantEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	if !slices.Equal(cert.ExtKeyUsage, wantEKU) || len(cert.UnknownExtKeyUsage) != 0 {
		t.Errorf("got EKU %v %v, want the profile's %v only", cert.ExtKeyUsage,
			cert.UnknownExtKeyUsage, wantEKU)
	}
	if len(cert.Subject.Organization) != 0 {
		t.Errorf("got subject %q, want nothing from the CSR's subject", cert.Subject)
	}
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(custom) {
			t.Errorf("the CSR's extension %v was copied into the certificate", custom)
		}
	}
	catest.Lint(t, cert.Raw)
}
