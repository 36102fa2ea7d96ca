package integration

import (
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/lego"
)

// TestIntermediateRotation rotates a running deployment to a second
// intermediate signed by the same root: `acmegate init intermediate` makes
// it, and a restart with ca.intermediates and ca.active makes it sign. The
// same lego client, never restarted, then gets certificates chained
// through the new intermediate, while the certificate issued before still
// downloads with the old chain, is revoked into the old intermediate's CRL
// and is told by ARI to renew now.
//
// SECURITY-CATALOGUE J10: chains served per issuer across an intermediate rollover.
func TestIntermediateRotation(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	oldInter, err := readCertificate(filepath.Join(g.DataDir, "intermediate.pem"))
	if err != nil {
		t.Fatal(err)
	}

	// 1. A certificate from the first intermediate.
	oldNames := []string{"before-rotation.test.internal"}
	pointAt(g, oldNames...)
	client, _ := newRegisteredLegoClient(t, g, challHTTP01)
	oldStart := time.Now()
	first := obtain(t, client, certificate.ObtainRequest{Domains: oldNames})
	oldLeaf := checkLegoResource(t, g, first, oldStart, wantCert{identifiers: oldNames})
	wantIssuer(t, first.Certificate, oldInter)

	// 2. The offline ceremony: a second intermediate from the dev root.
	newInter := rotate(t, g)

	// 3. New certificates chain through the new intermediate.
	newNames := []string{"after-rotation.test.internal"}
	pointAt(g, newNames...)
	newStart := time.Now()
	second := obtain(t, client, certificate.ObtainRequest{Domains: newNames})
	newLeaf := checkLegoResource(t, g, second, newStart, wantCert{identifiers: newNames})
	wantIssuer(t, second.Certificate, newInter)

	// 4. The old certificate still downloads with the old chain.
	again, err := client.Certificate.Get(first.CertURL, true)
	if err != nil {
		t.Fatalf("downloading the first certificate after rotation: %v", err)
	}
	checkChainPEM(t, g, again.Certificate, oldStart, wantCert{identifiers: oldNames})
	wantIssuer(t, again.Certificate, oldInter)

	// 5. ARI: the old certificate should be renewed now, the new one later.
	wantRenewNow(t, client, oldLeaf, true)
	wantRenewNow(t, client, newLeaf, false)

	// 6. Revoking the old certificate lists it in the old intermediate's
	// CRL, not in the active one's.
	if err := client.Certificate.Revoke(first.Certificate); err != nil {
		t.Fatalf("revoking the first certificate: %v", err)
	}
	oldCRL := fetchCRL(t, g, "/acme/crl/"+hex.EncodeToString(oldInter.SubjectKeyId), oldInter)
	if !crlLists(oldCRL, oldLeaf.SerialNumber) {
		t.Errorf("the old intermediate's CRL does not list the revoked serial %x", oldLeaf.SerialNumber)
	}
	activeCRL := fetchCRL(t, g, "/acme/crl", newInter)
	if crlLists(activeCRL, oldLeaf.SerialNumber) {
		t.Errorf("the active intermediate's CRL lists serial %x of the old one", oldLeaf.SerialNumber)
	}
}

// rotate runs `acmegate init intermediate` with the development root of
// g's data folder, restarts g with the new intermediate active and the old
// one still loaded, and returns the new intermediate.
func rotate(t *testing.T, g *gateway) *x509.Certificate {
	t.Helper()
	dir := t.TempDir()
	certPath := filepath.Join(dir, "intermediate-b.pem")
	keyPath := filepath.Join(dir, "intermediate-b-key.pem")
	passPath := filepath.Join(dir, "intermediate-b.pass")
	writeFile(t, passPath, "passphrase of the second intermediate\n")
	rootDir := filepath.Join(g.DataDir, "dev-root")
	out := runGateway(t, "init", "intermediate",
		"--root-dir", rootDir, "--root-passphrase-file", filepath.Join(rootDir, "root.pass"),
		"--out-cert", certPath, "--out-key", keyPath, "--key-passphrase-file", passPath,
		"--common-name", "acmegate Intermediate CA B")
	t.Logf("acmegate init intermediate:\n%s", out)
	inter, err := readCertificate(certPath)
	if err != nil {
		t.Fatal(err)
	}

	g.setConfig(t, "ca:\n  active: "+certPath+"\n  intermediates:\n"+
		"    - cert: "+certPath+"\n      key: "+keyPath+"\n      passphrase_file: "+passPath+"\n")
	g.Restart()
	return inter
}

// setConfig makes the next start of g read yaml as its configuration file,
// in place of any given before.
func (g *gateway) setConfig(t *testing.T, yaml string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "acmegate.yaml")
	writeFile(t, path, yaml)
	for i, arg := range g.args {
		if arg == "--config" && i+1 < len(g.args) {
			g.args[i+1] = path
			return
		}
	}
	g.args = append(g.args, "--config", path)
}

// readCertificate parses a PEM file holding one certificate.
func readCertificate(path string) (*x509.Certificate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseOneCertificate(raw)
}

// wantIssuer fails unless the intermediate of a downloaded chain is inter.
func wantIssuer(t *testing.T, chainPEM []byte, inter *x509.Certificate) {
	t.Helper()
	certs, err := parsePEMCertificates(chainPEM)
	if err != nil {
		t.Fatalf("parsing the chain: %v", err)
	}
	if len(certs) < 2 || !certs[1].Equal(inter) {
		t.Errorf("chain of %q: got intermediate %q, want %q (key ID %x)", certs[0].DNSNames,
			certs[len(certs)-1].Subject, inter.Subject, inter.SubjectKeyId)
	}
}

// wantRenewNow checks the ARI window of leaf (RFC 9773, Section 4.2):
// with now, it must already be open; otherwise it must open later.
func wantRenewNow(t *testing.T, client *lego.Client, leaf *x509.Certificate, now bool) {
	t.Helper()
	info, err := client.Certificate.GetRenewalInfo(certificate.RenewalInfoRequest{Cert: leaf})
	if err != nil {
		t.Fatalf("GetRenewalInfo(%q): %v", leaf.DNSNames, err)
	}
	w := info.SuggestedWindow
	if !w.Start.Before(w.End) {
		t.Errorf("window of %q: got start %v not before end %v", leaf.DNSNames, w.Start, w.End)
	}
	open := !w.Start.After(time.Now())
	if open != now {
		t.Errorf("window of %q: got %v to %v, want it open now: %v", leaf.DNSNames,
			w.Start, w.End, now)
	}
}

// fetchCRL gets the DER CRL at path over the gateway's HTTPS listener and
// checks that issuer signed it.
func fetchCRL(t *testing.T, g *gateway, path string, issuer *x509.Certificate) *x509.RevocationList {
	t.Helper()
	status, der := getBody(t, g.HTTPClient(), "https://"+g.Addr+path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: got status %d, want 200: %s", path, status, der)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("parsing the CRL of %s: %v", path, err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Errorf("CRL of %s: signature by %q: %v", path, issuer.Subject, err)
	}
	return crl
}

// crlLists reports whether crl lists serial.
func crlLists(crl *x509.RevocationList, serial *big.Int) bool {
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}
