package pkcs11

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/ca/catest"
)

// testNow is the fixed "current time" of the issuance tests.
var testNow = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

// testLeafName is the DNS name certified by the issuance tests.
const testLeafName = "host.internal"

func TestIssueWithTokenKey(t *testing.T) {
	tok := openToken(t, newSoftHSM(t))
	for _, alg := range []ca.KeyAlgorithm{ca.ECDSAP256, ca.RSA3072} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			key := generateKey(t, tok, "intermediate-"+string(alg), alg)
			root, rootKey := newTestRoot(t)
			inter := newTestIntermediate(t, root, rootKey, key.Public())

			issuer, err := ca.NewIssuer(inter, root, key)
			if err != nil {
				t.Fatalf("NewIssuer: %v", err)
			}
			der := issueAndVerify(t, issuer)
			catest.Lint(t, der)
		})
	}
}

func TestLoadIssuer(t *testing.T) {
	tok := openToken(t, newSoftHSM(t))
	key := generateKey(t, tok, testKeyLabel, ca.ECDSAP256)
	generateKey(t, tok, "other", ca.ECDSAP256)
	root, rootKey := newTestRoot(t)
	dataDir := t.TempDir()
	writeCertFile(t, filepath.Join(dataDir, ca.RootCertFile), root)
	writeCertFile(t, filepath.Join(dataDir, ca.IntermediateCertFile),
		newTestIntermediate(t, root, rootKey, key.Public()))

	tests := []struct {
		name    string
		dataDir string
		label   string
		wantErr error
	}{
		{"token key", dataDir, testKeyLabel, nil},
		{"key of another certificate", dataDir, "other", ca.ErrKeyMismatch},
		{"absent key", dataDir, "absent", ErrKeyNotFound},
		{"no certificates", t.TempDir(), testKeyLabel, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			issuer, err := tok.LoadIssuer(tt.dataDir, tt.label)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LoadIssuer: got %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				issueAndVerify(t, issuer)
			}
		})
	}
}

func TestIssuerAfterClose(t *testing.T) {
	cfg := newSoftHSM(t)
	tok, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	key := generateKey(t, tok, cfg.KeyLabel, ca.ECDSAP256)
	root, rootKey := newTestRoot(t)
	issuer, err := ca.NewIssuer(newTestIntermediate(t, root, rootKey, key.Public()), root, key)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	if err := tok.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, _, err := issuer.Issue(newIssueRequest(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Issue after Close: got %v, want ErrClosed", err)
	}
}

// newTestRoot returns a self-signed root with a software key, valid
// around testNow.
func newTestRoot(t *testing.T) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyID := testKeyID(t, key.Public())
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"acmegate"}, CommonName: "Root"},
		NotBefore:             testNow.Add(-time.Hour),
		NotAfter:              testNow.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          keyID,
		AuthorityKeyId:        keyID,
	}
	return signTestCert(t, tmpl, tmpl, key.Public(), key), key
}

// newTestIntermediate certifies pub as an intermediate CA under root.
func newTestIntermediate(
	t *testing.T,
	root *x509.Certificate,
	rootKey crypto.Signer,
	pub crypto.PublicKey,
) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject: pkix.Name{Organization: []string{"acmegate"},
			CommonName: "Test Intermediate in Token"},
		NotBefore: testNow.Add(-time.Hour),
		NotAfter:  testNow.Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign |
			x509.KeyUsageCRLSign,
		ExtKeyUsage: []x509.ExtKeyUsage{
			x509.ExtKeyUsageServerAuth,
			x509.ExtKeyUsageClientAuth,
		},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          testKeyID(t, pub),
	}
	return signTestCert(t, tmpl, root, pub, rootKey)
}

// testKeyID derives a key identifier from the whole SubjectPublicKeyInfo;
// any stable value will do in tests.
func testKeyID(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return sum[:20]
}

// signTestCert signs tmpl by parent and parses it.
func signTestCert(
	t *testing.T,
	tmpl, parent *x509.Certificate,
	pub crypto.PublicKey,
	parentKey crypto.Signer,
) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatalf("signing %q: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// writeCertFile stores cert in PEM at path.
func writeCertFile(t *testing.T, path string, cert *x509.Certificate) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// newIssueRequest asks for a leaf for testLeafName with a fresh software
// key at testNow.
func newIssueRequest(t *testing.T) ca.IssueRequest {
	t.Helper()
	parsed, _ := catest.NewCSR(t, testLeafName)
	csr, err := ca.CheckCSR(parsed)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := ca.NewSerial(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return ca.IssueRequest{
		CSR:      csr,
		DNSNames: []string{testLeafName},
		Serial:   serial,
		Now:      testNow,
	}
}

// issueAndVerify issues a leaf with issuer, checks that it chains to the
// issuer's root and returns its DER.
func issueAndVerify(t *testing.T, issuer *ca.Issuer) []byte {
	t.Helper()
	leaf, der, err := issuer.Issue(newIssueRequest(t))
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(issuer.Root)
	intermediates.AddCert(issuer.Certificate)
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		DNSName:       testLeafName,
		CurrentTime:   testNow,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		t.Fatalf("verifying the leaf: %v", err)
	}
	if got := len(chains[0]); got != 3 {
		t.Errorf("chain length: got %d, want 3 (leaf, intermediate, root)", got)
	}
	if err := leaf.CheckSignatureFrom(issuer.Certificate); err != nil {
		t.Errorf("leaf signature by the token key: %v", err)
	}
	return der
}
