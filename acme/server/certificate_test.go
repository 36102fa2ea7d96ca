package server_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

// TestCertificateDownload checks RFC 8555, Section 7.4.2: the leaf and
// its chain as application/pem-certificate-chain, verifying to the root.
func TestCertificateDownload(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	is := c.Issue(t, "dl.corp.internal", "www.dl.corp.internal")

	r := c.PostAsGet(t, is.CertURL).Want(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/pem-certificate-chain" {
		t.Errorf("got Content-Type %q, want application/pem-certificate-chain", ct)
	}
	var certs []*x509.Certificate
	for rest := r.Body; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("parsing certificate %d: %v", len(certs), err)
		}
		certs = append(certs, cert)
	}
	if len(certs) != 2 {
		t.Fatalf("got %d certificates, want the leaf and the intermediate", len(certs))
	}
	roots := x509.NewCertPool()
	roots.AddCert(gw.Issuer.CA().Root)
	inter := x509.NewCertPool()
	inter.AddCert(certs[1])
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		CurrentTime: gw.Clock.Now(), DNSName: "www.dl.corp.internal"})
	if err != nil {
		t.Errorf("the chain does not verify: %v", err)
	}
	if pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(is.Key.Public()) {
		t.Errorf("the certificate does not carry the CSR's key")
	}
	// The body is the whole chain, so no rel="up" link: clients that follow
	// it (acmez) would append the intermediate twice.
	for _, l := range r.Header.Values("Link") {
		if strings.Contains(l, `rel="up"`) {
			t.Errorf("got Link %q, want no rel=\"up\" on a full chain", l)
		}
	}
}

// revoke returns a sender of a revocation of the fixture's certificate,
// signed by signer, with the given reason (nil leaves it out).
func revoke(signer who, reason any) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		p := map[string]any{"certificate": base64.RawURLEncoding.EncodeToString(e.issued.Cert.Raw)}
		if reason != nil {
			p["reason"] = reason
		}
		return signer(t, e).PostJSON(t, e.gw.URLFor("revoke-cert"), p)
	}
}

// revokePayload returns a sender posting payload to revoke-cert as A.
func revokePayload(payload func(e *env) string) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		return e.a.Post(t, e.gw.URLFor("revoke-cert"), []byte(payload(e)))
	}
}

// certKey signs with the fixture certificate's own key, by jwk.
func certKey(_ *testing.T, e *env) *acmetest.Client {
	return e.gw.ClientFor(e.issued.Key, jose.ES256)
}

// selfSigned returns a certificate this CA did not issue, with the serial
// of the fixture's certificate.
func selfSigned(t *testing.T, e *env) string {
	key := acmetest.NewKey(t, jose.ES256)
	tmpl := &x509.Certificate{SerialNumber: e.issued.Cert.SerialNumber,
		Subject: pkix.Name{CommonName: "issued.corp.internal"}, DNSNames: []string{"issued.corp.internal"},
		NotBefore: e.gw.Clock.Now(), NotAfter: e.gw.Clock.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("creating a certificate: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(der)
}

// TestRevocationRefusals covers catalogue rows H1 and H2 (RFC 8555,
// Section 7.6): no revocation is recorded for any of them.
func TestRevocationRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	// B validates one of the two names of a certificate of A.
	two := e.a.Issue(t, "one.corp.internal", "two.corp.internal")
	e.b.ReadyOrder(t, "one.corp.internal")
	revokeTwo := func(t *testing.T, e *env) *acmetest.Response {
		return e.b.PostJSON(t, e.gw.URLFor("revoke-cert"), map[string]any{
			"certificate": base64.RawURLEncoding.EncodeToString(two.Cert.Raw)})
	}
	strangerKey := func(t *testing.T, e *env) *acmetest.Client { return newcomer(t, e) }

	cases := []refusal{
		{name: "H1 another account without authorizations", send: revoke(acctB, nil),
			status: 403, typ: "unauthorized"},
		{name: "H1 another account holding one of two names", send: revokeTwo,
			status: 403, typ: "unauthorized", detail: "two.corp.internal"},
		{name: "H1 jwk of an unrelated key", send: revoke(strangerKey, nil),
			status: 403, typ: "unauthorized", detail: "certificate's key"},
		{name: "H1 jwk of another account's key",
			send: func(t *testing.T, e *env) *acmetest.Response {
				cl := e.gw.ClientFor(e.b.Key, e.b.Alg)
				return revoke(func(*testing.T, *env) *acmetest.Client { return cl }, nil)(t, e)
			}, status: 403, typ: "unauthorized"},
		{name: "H2 reason 2 cACompromise", send: revoke(acctA, 2), status: 400, typ: "badRevocationReason"},
		{name: "H2 reason 6 certificateHold", send: revoke(acctA, 6), status: 400,
			typ: "badRevocationReason"},
		{name: "H2 reason 7 unused", send: revoke(acctA, 7), status: 400, typ: "badRevocationReason"},
		{name: "H2 reason 10 aACompromise", send: revoke(acctA, 10), status: 400,
			typ: "badRevocationReason"},
		{name: "H2 reason 99", send: revoke(acctA, 99), status: 400, typ: "badRevocationReason"},
		{name: "H2 reason -1", send: revoke(acctA, -1), status: 400, typ: "badRevocationReason"},
		{name: "H2 keyCompromise by the account", send: revoke(acctA, 1), status: 400,
			typ: "badRevocationReason", detail: "certificate's key"},
		{name: "reason not a number", send: revoke(acctA, "keyCompromise"), status: 400, typ: "malformed"},
		{name: "certificate not base64url", send: revokePayload(func(*env) string {
			return `{"certificate":"!!!"}`
		}), status: 400, typ: "malformed"},
		{name: "certificate missing", send: revokePayload(func(*env) string { return `{}` }),
			status: 400, typ: "malformed"},
		{name: "certificate not DER", send: revokePayload(func(*env) string {
			return `{"certificate":"` + b64("not a certificate") + `"}`
		}), status: 400, typ: "malformed"},
		{name: "certificate we did not issue, with our serial",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return e.a.Post(t, e.gw.URLFor("revoke-cert"), []byte(`{"certificate":"`+selfSigned(t, e)+`"}`))
			}, status: 404, typ: "malformed"},
		{name: "certificate in PEM", send: revokePayload(func(e *env) string {
			p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.issued.Cert.Raw})
			return `{"certificate":"` + b64(string(p)) + `"}`
		}), status: 400, typ: "malformed"},
	}
	runRefusals(t, e, cases)
}

// certStatus reads a certificate's status and reason from the store.
func certStatus(t *testing.T, gw *acmetest.Gateway, cert *x509.Certificate) (string, int) {
	t.Helper()
	var row store.Certificate
	serial := fmt.Sprintf("%x", cert.SerialNumber.Bytes())
	if err := gw.Store.DB().Where("serial = ?", serial).Take(&row).Error; err != nil {
		t.Fatalf("loading certificate %s: %v", serial, err)
	}
	return row.Status, row.RevocationReason
}

// TestRevocation revokes by each allowed party (RFC 8555, Section 7.6): the
// issuing account, the certificate's key, and an account holding valid
// authorizations for every name. A second revocation is alreadyRevoked.
func TestRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	byKey := e.a.Issue(t, "key.corp.internal")
	byAuthz := e.a.Issue(t, "shared.corp.internal")
	e.b.ReadyOrder(t, "shared.corp.internal")

	tests := []struct {
		name   string
		signer *acmetest.Client
		cert   *x509.Certificate
		reason int
	}{
		{"issuing account", e.a, e.issued.Cert, 4},
		{"certificate key", e.gw.ClientFor(byKey.Key, jose.ES256), byKey.Cert, 0},
		{"account with authorizations", e.b, byAuthz.Cert, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.signer.PostJSON(t, e.gw.URLFor("revoke-cert"), map[string]any{
				"certificate": base64.RawURLEncoding.EncodeToString(tc.cert.Raw), "reason": tc.reason})
			r.Want(t, http.StatusOK)
			if status, reason := certStatus(t, e.gw, tc.cert); status != "revoked" || reason != tc.reason {
				t.Errorf("got %s with reason %d, want revoked with reason %d", status, reason, tc.reason)
			}
		})
	}
	runRefusals(t, e, []refusal{{name: "H2 second revocation", send: revoke(acctA, nil),
		status: 400, typ: "alreadyRevoked"}})
}

// TestRevocationKeyCompromise covers the keyCompromise half of H2: signed
// by the certificate's key it revokes, and the key may not be certified
// again.
func TestRevocationKeyCompromise(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	holder := e.gw.ClientFor(e.issued.Key, jose.ES256)
	holder.PostJSON(t, e.gw.URLFor("revoke-cert"), map[string]any{
		"certificate": base64.RawURLEncoding.EncodeToString(e.issued.Cert.Raw), "reason": 1,
	}).Want(t, http.StatusOK)
	if status, reason := certStatus(t, e.gw, e.issued.Cert); status != "revoked" || reason != 1 {
		t.Errorf("got %s with reason %d, want revoked for keyCompromise", status, reason)
	}
	runRefusals(t, e, []refusal{{name: "H2 compromised key in a CSR",
		send: csrFor(func(t *testing.T, e *env) []byte {
			return acmetest.CSR(t, e.issued.Key, readyNames, nil)
		}), status: 400, typ: "badCSR", detail: "blocked"}})
}

// renewalInfo returns a sender of a renewal-info GET for the ID that id
// makes.
func renewalInfo(id func(e *env) string) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		return e.gw.Get(t, e.gw.URLFor("renewal-info", id(e)))
	}
}

// TestRenewalInfo checks RFC 9773, Section 4.2: the window lies inside the
// certificate's validity, Retry-After is set, and bad or unknown IDs are
// refused.
func TestRenewalInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	cert := e.issued.Cert

	var info struct {
		SuggestedWindow struct{ Start, End time.Time } `json:"suggestedWindow"`
	}
	r := e.gw.Get(t, e.gw.URLFor("renewal-info", state.CertificateID(cert))).Want(t, http.StatusOK)
	r.JSON(t, &info)
	w := info.SuggestedWindow
	if w.Start.Before(cert.NotBefore) || !w.End.After(w.Start) || w.End.After(cert.NotAfter) {
		t.Errorf("got window %v to %v, want a window inside %v to %v", w.Start, w.End,
			cert.NotBefore, cert.NotAfter)
	}
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s <= 0 {
		t.Errorf("got Retry-After %q, want a positive number of seconds", r.Header.Get("Retry-After"))
	}

	aki := base64.RawURLEncoding.EncodeToString(cert.AuthorityKeyId)
	serial := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.Bytes()) }
	runRefusals(t, e, []refusal{
		{name: "ARI ID without a dot", send: renewalInfo(func(*env) string { return "nodot" }),
			status: 400, typ: "malformed"},
		{name: "ARI ID not base64url", send: renewalInfo(func(*env) string { return "!!.!!" }),
			status: 400, typ: "malformed"},
		{name: "ARI ID with an empty key identifier", send: renewalInfo(func(*env) string {
			return "." + serial(cert.SerialNumber)
		}), status: 400, typ: "malformed"},
		{name: "ARI ID with an empty serial", send: renewalInfo(func(*env) string { return aki + "." }),
			status: 400, typ: "malformed"},
		{name: "ARI unknown serial", send: renewalInfo(func(*env) string {
			return aki + "." + serial(big.NewInt(12345))
		}), status: 404, typ: "malformed"},
		{name: "ARI known serial under another issuer", send: renewalInfo(func(*env) string {
			return b64("another issuer key") + "." + serial(cert.SerialNumber)
		}), status: 404, typ: "malformed"},
	})

	// A revoked certificate should be renewed now.
	e.a.PostJSON(t, e.gw.URLFor("revoke-cert"), map[string]any{
		"certificate": base64.RawURLEncoding.EncodeToString(cert.Raw)}).Want(t, http.StatusOK)
	e.gw.Get(t, e.gw.URLFor("renewal-info", state.CertificateID(cert))).Want(t, http.StatusOK).
		JSON(t, &info)
	if now := e.gw.Clock.Now(); info.SuggestedWindow.Start.After(now) {
		t.Errorf("got window start %v for a revoked certificate, want at or before %v",
			info.SuggestedWindow.Start, now)
	}
}
