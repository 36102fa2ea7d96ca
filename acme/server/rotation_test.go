package server_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/state"
)

// rotated is a gateway that issued one certificate with its first
// intermediate, then rotated to a second one and issued another.
type rotated struct {
	gw       *acmetest.Gateway
	client   *acmetest.Client
	old, new *acmetest.Issuer
	// before and after were issued before and after the rotation.
	before, after *acmetest.Issued
}

func newRotated(t *testing.T) *rotated {
	t.Helper()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	r := &rotated{gw: gw, client: c}
	r.before = c.Issue(t, "before.corp.internal")
	r.old = gw.Rotate(t)
	r.new = gw.Issuer
	r.after = c.Issue(t, "after.corp.internal")
	return r
}

// keyIDOf is the hex key ID that names an issuer in URLs.
func keyIDOf(i *acmetest.Issuer) string { return hex.EncodeToString(i.KeyID()) }

// TestRotationChains checks that every certificate is served with the chain
// of the intermediate that signed it (RFC 8555, Section 7.4.2), before and
// after a rotation, and that each intermediate can be downloaded.
func TestRotationChains(t *testing.T) {
	t.Parallel()
	r := newRotated(t)
	tests := []struct {
		name   string
		issued *acmetest.Issued
		issuer *acmetest.Issuer
		// download are the URLs that serve the issuer's certificate.
		download []string
	}{
		{name: "issued before rotation", issued: r.before, issuer: r.old,
			download: []string{r.gw.URLFor("intermediate", keyIDOf(r.old))}},
		{name: "issued after rotation", issued: r.after, issuer: r.new,
			download: []string{r.gw.URLFor("intermediate", keyIDOf(r.new)),
				r.gw.URLFor("intermediate.pem")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := r.client.PostAsGet(t, tt.issued.CertURL).Want(t, http.StatusOK)
			certs := parseChain(t, resp.Body)
			if len(certs) != 2 {
				t.Fatalf("got %d certificates, want the leaf and its intermediate", len(certs))
			}
			if want := tt.issuer.CA().Certificate; !certs[1].Equal(want) {
				t.Errorf("got intermediate %q, want %q", certs[1].Subject, want.Subject)
			}
			verifyTo(t, r.gw, certs)
			for _, url := range tt.download {
				got := parseChain(t, r.gw.Get(t, url).Want(t, http.StatusOK).Body)
				if len(got) != 1 || !got[0].Equal(certs[1]) {
					t.Errorf("GET %s: got %d certificates, want the intermediate of the chain",
						url, len(got))
				}
			}
		})
	}

	t.Run("unknown intermediate", func(t *testing.T) {
		resp := r.gw.Get(t, r.gw.URLFor("intermediate", "00ff"))
		wantProblem(t, resp, http.StatusNotFound, "malformed")
	})
}

// TestRotationCRL checks that each intermediate publishes its own CRL
// (RFC 5280, Section 5) at /crl/<key ID>, listing only its revoked
// certificates, and that /crl is the active intermediate's.
func TestRotationCRL(t *testing.T) {
	t.Parallel()
	r := newRotated(t)
	for _, is := range []*acmetest.Issued{r.before, r.after} {
		r.client.PostJSON(t, r.gw.URLFor("revoke-cert"), map[string]any{
			"certificate": base64.RawURLEncoding.EncodeToString(is.Cert.Raw),
		}).Want(t, http.StatusOK)
	}

	tests := []struct {
		name   string
		path   []string
		issuer *acmetest.Issuer
		lists  *acmetest.Issued
	}{
		{name: "old by key ID", path: []string{"crl", keyIDOf(r.old)}, issuer: r.old,
			lists: r.before},
		{name: "new by key ID", path: []string{"crl", keyIDOf(r.new)}, issuer: r.new,
			lists: r.after},
		{name: "active", path: []string{"crl"}, issuer: r.new, lists: r.after},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := r.gw.Get(t, r.gw.URLFor(tt.path...)).Want(t, http.StatusOK)
			crl, err := x509.ParseRevocationList(resp.Body)
			if err != nil {
				t.Fatalf("parsing the CRL: %v", err)
			}
			if err := crl.CheckSignatureFrom(tt.issuer.CA().Certificate); err != nil {
				t.Errorf("CRL signature by %q: %v", tt.issuer.CA().Certificate.Subject, err)
			}
			if len(crl.RevokedCertificateEntries) != 1 {
				t.Fatalf("got %d CRL entries, want 1", len(crl.RevokedCertificateEntries))
			}
			got := crl.RevokedCertificateEntries[0].SerialNumber
			if want := tt.lists.Cert.SerialNumber; got.Cmp(want) != 0 {
				t.Errorf("got serial %x listed, want %x", got, want)
			}
		})
	}

	t.Run("unknown key ID", func(t *testing.T) {
		resp := r.gw.Get(t, r.gw.URLFor("crl", "00ff"))
		wantProblem(t, resp, http.StatusNotFound, "malformed")
	})
}

// TestRotationRenewalInfo checks the renewal window of a certificate whose
// intermediate was rotated out: it opens now, so that its client renews
// onto the new intermediate (RFC 9773, Section 4.2), while a certificate of
// the active intermediate keeps its usual window.
func TestRotationRenewalInfo(t *testing.T) {
	t.Parallel()
	r := newRotated(t)
	now := r.gw.Clock.Now()
	window := func(t *testing.T, cert *x509.Certificate) (time.Time, time.Time) {
		t.Helper()
		var info struct {
			SuggestedWindow struct{ Start, End time.Time } `json:"suggestedWindow"`
		}
		r.gw.Get(t, r.gw.URLFor("renewal-info", state.CertificateID(cert))).
			Want(t, http.StatusOK).JSON(t, &info)
		return info.SuggestedWindow.Start, info.SuggestedWindow.End
	}

	t.Run("rotated out", func(t *testing.T) {
		cert := r.before.Cert
		start, end := window(t, cert)
		lifetime := cert.NotAfter.Sub(cert.NotBefore)
		if start.After(now) {
			t.Errorf("got window start %v, want at or before now (%v)", start, now)
		}
		if !end.After(now) || end.After(now.Add(lifetime/6)) {
			t.Errorf("got window end %v, want after now and by %v", end, now.Add(lifetime/6))
		}
	})
	t.Run("active", func(t *testing.T) {
		cert := r.after.Cert
		start, end := window(t, cert)
		lifetime := cert.NotAfter.Sub(cert.NotBefore)
		if want := cert.NotBefore.Add(lifetime * 2 / 3); !start.Equal(want) {
			t.Errorf("got window start %v, want two thirds into the lifetime, %v", start, want)
		}
		if !end.After(start) || end.After(cert.NotAfter) {
			t.Errorf("got window end %v, want after %v and by %v", end, start, cert.NotAfter)
		}
	})
}

// parseChain parses every PEM certificate of body.
func parseChain(t *testing.T, body []byte) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	for rest := body; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return certs
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("parsing certificate %d: %v", len(certs), err)
		}
		certs = append(certs, cert)
	}
}

// verifyTo checks that chain (leaf first) verifies to the gateway's root.
func verifyTo(t *testing.T, gw *acmetest.Gateway, chain []*x509.Certificate) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(gw.Issuer.CA().Root)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		CurrentTime: gw.Clock.Now()})
	if err != nil {
		t.Errorf("the chain of %v does not verify to the root: %v", chain[0].DNSNames, err)
	}
}
