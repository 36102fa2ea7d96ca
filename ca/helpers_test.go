package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/acmegate/acmegate/ca/catest"
)

// testNow is the fixed "current time" of every test.
var testNow = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

var (
	testRootPass  = []byte("root passphrase for tests")
	testInterPass = []byte("intermediate passphrase for tests")
)

// testPKI is a ceremony's output plus the issuer loaded from it.
type testPKI struct {
	opts    CeremonyOptions
	result  *CeremonyResult
	issuer  *Issuer
	rootDir string
	dataDir string
}

// sharedPKI is one default PKI, made by TestMain, for tests that only
// issue: the slow key derivation then runs once per test binary.
var sharedPKI *testPKI

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// 600,000 PBKDF2 rounds take over a second under the race detector,
	// and the tests derive keys dozens of times. The format and code path
	// stay the same; TestPBKDF2ProductionCount covers the real count.
	keyFileIterations = 1000

	dir, err := os.MkdirTemp("", "acmegate-ca-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	sharedPKI, err = buildPKI(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// buildPKI runs a ceremony under dir. mutate, if not nil, adjusts the
// options first.
func buildPKI(dir string, mutate func(*CeremonyOptions)) (*testPKI, error) {
	opts := CeremonyOptions{
		RootDir:                filepath.Join(dir, "root"),
		DataDir:                filepath.Join(dir, "data"),
		RootPassphrase:         testRootPass,
		IntermediatePassphrase: testInterPass,
		Now:                    testNow,
	}
	if mutate != nil {
		mutate(&opts)
	}
	res, err := RunCeremony(opts)
	if err != nil {
		return nil, fmt.Errorf("RunCeremony: %w", err)
	}
	issuer, err := LoadIssuer(opts.DataDir, opts.IntermediatePassphrase)
	if err != nil {
		return nil, fmt.Errorf("LoadIssuer: %w", err)
	}
	return &testPKI{opts: opts, result: res, issuer: issuer, rootDir: opts.RootDir,
		dataDir: opts.DataDir}, nil
}

// newTestPKI runs a ceremony in a fresh temporary directory.
func newTestPKI(t testing.TB, mutate func(*CeremonyOptions)) *testPKI {
	t.Helper()
	p, err := buildPKI(t.TempDir(), mutate)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoadKey(t testing.TB, path string, pass []byte) crypto.Signer {
	t.Helper()
	key, err := LoadEncryptedKey(path, pass)
	if err != nil {
		t.Fatalf("LoadEncryptedKey(%s): %v", path, err)
	}
	return key
}

// newCSR makes a CSR signed by key that asks for names (which Issue must
// ignore).
func newCSR(t testing.TB, key crypto.Signer, names ...string) *x509.CertificateRequest {
	t.Helper()
	tmpl := &x509.CertificateRequest{DNSNames: names}
	if len(names) > 0 {
		tmpl.Subject.CommonName = names[0]
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatalf("CreateCertificateRequest: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatalf("ParseCertificateRequest: %v", err)
	}
	return csr
}

// checkedCSR returns a CSR for key and names that has passed CheckCSR.
func checkedCSR(t testing.TB, key crypto.Signer, names ...string) *CheckedCSR {
	t.Helper()
	checked, err := CheckCSR(newCSR(t, key, names...))
	if err != nil {
		t.Fatalf("CheckCSR: %v", err)
	}
	return checked
}

func newECKey(t testing.TB) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return key
}

func newSerial(t testing.TB) *big.Int {
	t.Helper()
	serial, err := NewSerial(rand.Reader)
	if err != nil {
		t.Fatalf("NewSerial: %v", err)
	}
	return serial
}

// verifyChain checks that cert chains to the PKI's root through its
// intermediate at time at, for serverAuth and dnsName.
func verifyChain(
	t testing.TB,
	p *testPKI,
	cert *x509.Certificate,
	at time.Time,
	dnsName string,
) error {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(p.issuer.Root)
	inters := x509.NewCertPool()
	inters.AddCert(p.issuer.Certificate)
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inters,
		CurrentTime:   at,
		DNSName:       dnsName,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

func mustParseCIDR(t testing.TB, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatalf("ParseCIDR(%s): %v", s, err)
	}
	return n
}

// issueFor issues a default-profile leaf for names at testNow.
func issueFor(t testing.TB, p *testPKI, names ...string) (*x509.Certificate, []byte) {
	t.Helper()
	return issueAt(t, p, testNow, names...)
}

// issueAt issues a default-profile leaf for names at now.
func issueAt(t testing.TB, p *testPKI, now time.Time, names ...string) (*x509.Certificate, []byte) {
	t.Helper()
	cert, der, err := p.issuer.Issue(IssueRequest{
		CSR:      checkedCSR(t, newECKey(t)),
		DNSNames: names,
		Serial:   newSerial(t),
		Profile:  DefaultProfile(),
		Now:      now,
	})
	if err != nil {
		t.Fatalf("Issue(%v): %v", names, err)
	}
	return cert, der
}

// publicKeyAlgorithm names the key of cert as a KeyAlgorithm.
func publicKeyAlgorithm(cert *x509.Certificate) KeyAlgorithm {
	switch k := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return KeyAlgorithm("ecdsa-p" + k.Curve.Params().Name[2:])
	case *rsa.PublicKey:
		return KeyAlgorithm(fmt.Sprintf("rsa-%d", k.N.BitLen()))
	}
	return KeyAlgorithm(fmt.Sprintf("%T", cert.PublicKey))
}

// oidNameConstraints is id-ce-nameConstraints, RFC 5280, Section 4.2.1.10.
var oidNameConstraints = asn1.ObjectIdentifier{2, 5, 29, 30}

func findExtension(cert *x509.Certificate, oid asn1.ObjectIdentifier) *pkix.Extension {
	for i := range cert.Extensions {
		if cert.Extensions[i].Id.Equal(oid) {
			return &cert.Extensions[i]
		}
	}
	return nil
}

func hasExtension(cert *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	return findExtension(cert, oid) != nil
}

// equalish compares test values, times by instant.
func equalish(got, want any) bool {
	if g, ok := got.(time.Time); ok {
		w, ok := want.(time.Time)
		return ok && g.Equal(w)
	}
	return reflect.DeepEqual(got, want)
}

// pickExclusions takes named entries, with their reasons, from the
// catest list, so that a test excludes only what it must.
func pickExclusions(names ...string) map[string]string {
	all := catest.InternalCAExclusions()
	out := make(map[string]string, len(names))
	for _, n := range names {
		reason, ok := all[n]
		if !ok {
			panic("unknown exclusion " + n)
		}
		out[n] = reason
	}
	return out
}

// offlineRootExclusions are the lints a default ceremony trips: no country
// and no published root CRL or certificate URL.
func offlineRootExclusions() map[string]string {
	return pickExclusions("e_ca_country_name_missing",
		"e_sub_ca_crl_distribution_points_missing", "w_sub_ca_aia_missing")
}

// leafExclusions are the lints a default-profile leaf for a public-looking
// name trips: no policy OIDs, no SKI, no AIA URL.
func leafExclusions() map[string]string {
	return pickExclusions("e_sub_cert_certificate_policies_missing",
		"e_sub_cert_cert_policy_empty", "w_ext_subject_key_identifier_missing_sub_cert",
		"e_sub_cert_aia_missing", "w_sub_cert_aia_does_not_contain_issuing_ca_url")
}

// Extension OIDs, RFC 5280, Section 4.2.1.
var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// span is notAfter - notBefore.
func span(cert *x509.Certificate) time.Duration {
	return cert.NotAfter.Sub(cert.NotBefore)
}
