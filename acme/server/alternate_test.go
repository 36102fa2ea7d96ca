package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/server"
	"github.com/acmegate/acmegate/ca"
)

// crossSign certifies the intermediate's subject and key with a second
// root, as a cross-signing ceremony would, and returns that root and the
// cross-signed certificate.
func crossSign(t testing.TB, inter *x509.Certificate) (*x509.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Other Root"},
		NotBefore: inter.NotBefore.Add(-time.Hour), NotAfter: inter.NotAfter.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	crossTmpl := &x509.Certificate{SerialNumber: big.NewInt(8), RawSubject: inter.RawSubject,
		NotBefore: inter.NotBefore, NotAfter: inter.NotAfter, IsCA: true, BasicConstraintsValid: true,
		MaxPathLenZero: true, KeyUsage: inter.KeyUsage, SubjectKeyId: inter.SubjectKeyId}
	crossDER, err := x509.CreateCertificate(rand.Reader, crossTmpl, root, inter.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cross, _ := x509.ParseCertificate(crossDER)
	return root, cross
}

func pemOf(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// TestAlternateChain checks that a configured cross-signed chain is offered
// with Link rel="alternate" and downloads as leaf plus the cross-signed
// intermediate, verifying to the other root (RFC 8555, Section 7.4.2).
func TestAlternateChain(t *testing.T) {
	t.Parallel()
	var otherRoot *x509.Certificate
	gw := acmetest.New(t, acmetest.Options{AlternateChains: func(is *ca.Issuer) [][]byte {
		root, cross := crossSign(t, is.Certificate)
		otherRoot = root
		chain, err := server.CheckAlternateChain(is.Certificate, pemOf(cross))
		if err != nil {
			t.Fatalf("checking the cross-signed chain: %v", err)
		}
		return [][]byte{chain}
	}})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	is := c.Issue(t, "alt.corp.internal")

	r := c.PostAsGet(t, is.CertURL).Want(t, http.StatusOK)
	alt := is.CertURL + "/1"
	if want := fmt.Sprintf("<%s>;rel=%q", alt, "alternate"); !r.HasLink(want) {
		t.Fatalf("got Link %q, want %s", r.Header.Values("Link"), want)
	}
	r = c.PostAsGet(t, alt).Want(t, http.StatusOK)
	var certs []*x509.Certificate
	for rest := r.Body; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, cert)
	}
	if len(certs) != 2 {
		t.Fatalf("got %d certificates in the alternate chain, want leaf and cross-signed intermediate", len(certs))
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(otherRoot)
	inters.AddCert(certs[1])
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters,
		CurrentTime: gw.Clock.Now(), DNSName: "alt.corp.internal"})
	if err != nil {
		t.Fatalf("the alternate chain does not verify to the other root: %v", err)
	}
	c.PostAsGet(t, is.CertURL+"/2").Want(t, http.StatusNotFound)
}

// TestCheckAlternateChainRefuses refuses a chain that is not a copy of the
// intermediate.
func TestCheckAlternateChainRefuses(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Inter"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	inter, _ := x509.ParseCertificate(der)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der2, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, otherKey.Public(), otherKey)
	other, _ := x509.ParseCertificate(der2)
	tests := []struct {
		name  string
		chain []byte
	}{
		{"empty", nil},
		{"another key", pemOf(other)},
		{"not PEM", []byte("hello")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := server.CheckAlternateChain(inter, tc.chain); err == nil {
				t.Fatal("got nil error, want a refusal")
			}
		})
	}
}
