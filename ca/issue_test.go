package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/acmegate/acmegate/ca/catest"
)

// SECURITY-CATALOGUE G4, G5: the profile fields, and SANs from the order, not the CSR.
func TestIssueLeafContents(t *testing.T) {
	t.Parallel()
	p := sharedPKI
	key := newECKey(t)
	// The CSR asks for other names; only the requested ones may appear.
	csr := checkedCSR(t, key, "evil.example.org", "www.example.com")
	serial := newSerial(t)
	dnsNames := []string{"www.example.com", "api.example.com"}
	ips := []net.IP{net.ParseIP("8.8.8.8").To4(), net.ParseIP("2001:4860:4860::8888")}
	cert, der, err := p.issuer.Issue(IssueRequest{
		CSR:         csr,
		DNSNames:    dnsNames,
		IPAddresses: ips,
		Serial:      serial,
		Profile:     DefaultProfile(),
		Now:         testNow,
	})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if !bytes.Equal(cert.Raw, der) {
		t.Fatalf("DER: got a mismatch between returned certificate and DER, want equal")
	}

	checks := []struct {
		name string
		got  any
		want any
	}{
		{"DNS SANs", cert.DNSNames, dnsNames},
		{"IP SANs", ipStrings(cert.IPAddresses), []string{"8.8.8.8", "2001:4860:4860::8888"}},
		{"no email SANs", len(cert.EmailAddresses) + len(cert.URIs), 0},
		{"serial", cert.SerialNumber.Cmp(serial), 0},
		{"public key", key.Public().(publicKeyEqual).Equal(cert.PublicKey), true},
		{"key usage", cert.KeyUsage, x509.KeyUsageDigitalSignature},
		{"EKU", cert.ExtKeyUsage,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{"basic constraints present", cert.BasicConstraintsValid, true},
		{"not a CA", cert.IsCA, false},
		{"basic constraints critical", findExtension(cert, oidBasicConstraints).Critical, true},
		{"AKI is intermediate SKI", bytes.Equal(cert.AuthorityKeyId, p.issuer.KeyID()), true},
		{"no SKI", len(cert.SubjectKeyId), 0},
		{"empty subject", len(cert.RawSubject), 2},
		{"SAN critical with empty subject", findExtension(cert, oidSubjectAltName).Critical, true},
		{"issuer", cert.Issuer.String(), p.issuer.Certificate.Subject.String()},
		{"notBefore backdated", cert.NotBefore, testNow.Add(-time.Minute)},
		{"lifetime exact", span(cert), 24 * time.Hour},
		{"notAfter", cert.NotAfter, testNow.Add(-time.Minute + 24*time.Hour)},
		{"no CRL DP", len(cert.CRLDistributionPoints), 0},
		{"no OCSP", len(cert.OCSPServer), 0},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !equalish(c.got, c.want) {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
	if err := verifyChain(t, p, cert, testNow, "api.example.com"); err != nil {
		t.Errorf("Verify: got %v, want nil", err)
	}
	if err := verifyChain(t, p, cert, testNow, "evil.example.org"); err == nil {
		t.Errorf("Verify for the CSR's extra name: got nil, want a hostname error")
	}
	catest.LintExcept(t, der, leafExclusions())
}

func TestIssueProfileOptions(t *testing.T) {
	t.Parallel()
	p := sharedPKI
	profile := Profile{
		Name:                  "full",
		Lifetime:              7 * 24 * time.Hour,
		MaxLifetime:           30 * 24 * time.Hour,
		Backdate:              time.Hour,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IncludeCommonName:     true,
		CRLDistributionPoint:  "http://pki.example.com/int.crl",
		OCSPServer:            "http://ocsp.example.com",
		IssuingCertificateURL: "http://pki.example.com/int.crt",
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert, der, err := p.issuer.Issue(IssueRequest{
		CSR:      checkedCSR(t, rsaKey),
		DNSNames: []string{"www.example.com"},
		Serial:   newSerial(t),
		Profile:  profile,
		Now:      testNow,
	})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"CN", cert.Subject.CommonName, "www.example.com"},
		{"RSA key usage", cert.KeyUsage,
			x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
		{"EKU", cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		{"notBefore", cert.NotBefore, testNow.Add(-time.Hour)},
		{"lifetime", span(cert), 7 * 24 * time.Hour},
		{"CRL DP", cert.CRLDistributionPoints, []string{"http://pki.example.com/int.crl"}},
		{"OCSP", cert.OCSPServer, []string{"http://ocsp.example.com"}},
		{"caIssuers", cert.IssuingCertificateURL, []string{"http://pki.example.com/int.crt"}},
		{"SAN not critical with a subject", findExtension(cert, oidSubjectAltName).Critical, false},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !equalish(c.got, c.want) {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
	catest.LintExcept(t, der, pickExclusions("e_sub_cert_certificate_policies_missing",
		"e_sub_cert_cert_policy_empty", "w_ext_subject_key_identifier_missing_sub_cert",
		"w_subject_common_name_included"))
}

func TestIssueCommonName(t *testing.T) {
	t.Parallel()
	long := "a23456789012345678901234567890123456789012345678901234567890.example.com"
	tests := []struct {
		name string
		dns  []string
		ips  []net.IP
		want string
	}{
		{"first DNS name", []string{"b.example.com", "a.example.com"}, nil, "b.example.com"},
		{"IP only", nil, []net.IP{net.ParseIP("192.0.2.1")}, "192.0.2.1"},
		{"skip too long", []string{long, "short.example.com"}, nil, "short.example.com"},
		{"only too long", []string{long}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert, _, err := sharedPKI.issuer.Issue(IssueRequest{
				CSR:         checkedCSR(t, newECKey(t)),
				DNSNames:    tt.dns,
				IPAddresses: tt.ips,
				Serial:      newSerial(t),
				Profile:     Profile{IncludeCommonName: true},
				Now:         testNow,
			})
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if got := cert.Subject.CommonName; got != tt.want {
				t.Errorf("CN: got %q, want %q", got, tt.want)
			}
		})
	}
}

// SECURITY-CATALOGUE G3: validity exact to the second, never past the issuer.
func TestIssueValidity(t *testing.T) {
	t.Parallel()
	profile := Profile{Lifetime: 24 * time.Hour, MaxLifetime: 72 * time.Hour,
		Backdate: time.Minute}
	interEnd := sharedPKI.issuer.Certificate.NotAfter
	tests := []struct {
		name       string
		now        time.Time
		notBefore  time.Time
		notAfter   time.Time
		wantBefore time.Time
		wantAfter  time.Time
		wantErr    error
	}{
		{"defaults", testNow, time.Time{}, time.Time{},
			testNow.Add(-time.Minute), testNow.Add(-time.Minute + 24*time.Hour), nil},
		{"subsecond now truncated", testNow.Add(700 * time.Millisecond), time.Time{}, time.Time{},
			testNow.Add(-time.Minute), testNow.Add(-time.Minute + 24*time.Hour), nil},
		{"requested notAfter", testNow, time.Time{}, testNow.Add(48 * time.Hour),
			testNow.Add(-time.Minute), testNow.Add(48 * time.Hour), nil},
		{"subsecond notAfter truncated", testNow, time.Time{},
			testNow.Add(48*time.Hour + 999*time.Millisecond),
			testNow.Add(-time.Minute), testNow.Add(48 * time.Hour), nil},
		{"requested window", testNow, testNow.Add(time.Hour), testNow.Add(2 * time.Hour),
			testNow.Add(time.Hour), testNow.Add(2 * time.Hour), nil},
		{"requested notBefore only", testNow, testNow.Add(time.Hour), time.Time{},
			testNow.Add(time.Hour), testNow.Add(25 * time.Hour), nil},
		{"max from requested notBefore", testNow, testNow, testNow.Add(72 * time.Hour),
			testNow, testNow.Add(72 * time.Hour), nil},
		{"max from now shrinks backdate", testNow, time.Time{}, testNow.Add(72 * time.Hour),
			testNow, testNow.Add(72 * time.Hour), nil},
		{"backdate partly kept", testNow, time.Time{}, testNow.Add(72*time.Hour - 20*time.Second),
			testNow.Add(-20 * time.Second), testNow.Add(72*time.Hour - 20*time.Second), nil},
		{"early notBefore raised", testNow, testNow.Add(-time.Hour), testNow.Add(time.Hour),
			testNow.Add(-time.Minute), testNow.Add(time.Hour), nil},
		{"one second over max", testNow, testNow, testNow.Add(72*time.Hour + time.Second),
			time.Time{}, time.Time{}, ErrLifetime},
		{"over max from now", testNow, time.Time{}, testNow.Add(72*time.Hour + time.Second),
			time.Time{}, time.Time{}, ErrLifetime},
		{"far over max", testNow, time.Time{}, testNow.Add(90 * 24 * time.Hour),
			time.Time{}, time.Time{}, ErrLifetime},
		{"notAfter before notBefore", testNow, testNow.Add(2 * time.Hour),
			testNow.Add(time.Hour), time.Time{}, time.Time{}, ErrValidity},
		{"notAfter in the past", testNow, testNow.Add(-time.Hour), testNow.Add(-30 * time.Second),
			time.Time{}, time.Time{}, ErrValidity},
		{"past the intermediate", interEnd.Add(-time.Hour), time.Time{}, time.Time{},
			time.Time{}, time.Time{}, ErrOutlivesIssuer},
		{"intermediate expired", interEnd.Add(time.Hour), time.Time{}, time.Time{},
			time.Time{}, time.Time{}, ErrOutlivesIssuer},
		{"intermediate not yet valid", testNow.Add(-2 * time.Hour), time.Time{}, time.Time{},
			time.Time{}, time.Time{}, ErrOutlivesIssuer},
		{"no time", time.Time{}, time.Time{}, time.Time{},
			time.Time{}, time.Time{}, ErrMissingTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert, _, err := sharedPKI.issuer.Issue(IssueRequest{
				CSR:       checkedCSR(t, newECKey(t)),
				DNSNames:  []string{"www.example.com"},
				Serial:    newSerial(t),
				NotBefore: tt.notBefore,
				NotAfter:  tt.notAfter,
				Profile:   profile,
				Now:       tt.now,
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Issue: got %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !cert.NotBefore.Equal(tt.wantBefore) {
				t.Errorf("notBefore: got %v, want %v", cert.NotBefore, tt.wantBefore)
			}
			if !cert.NotAfter.Equal(tt.wantAfter) {
				t.Errorf("notAfter: got %v, want %v", cert.NotAfter, tt.wantAfter)
			}
		})
	}
}

func TestIssueRefusals(t *testing.T) {
	t.Parallel()
	good := checkedCSR(t, newECKey(t))
	smallRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		mutate func(*IssueRequest)
		want   error
	}{
		{"no CSR", func(r *IssueRequest) { r.CSR = nil }, ErrBadCSR},
		{"unchecked CSR", func(r *IssueRequest) { r.CSR = &CheckedCSR{} }, ErrBadCSR},
		{"RSA 1024", func(r *IssueRequest) { r.CSR = csrWithKey(t, smallRSA) }, ErrUnsupportedKey},
		{"P-224", func(r *IssueRequest) { r.CSR = csrWithKey(t, p224) }, ErrUnsupportedKey},
		{"no identifiers", func(r *IssueRequest) { r.DNSNames = nil }, ErrNoIdentifiers},
		{"empty DNS name", func(r *IssueRequest) { r.DNSNames = []string{""} }, ErrNoIdentifiers},
		{"malformed IP", func(r *IssueRequest) { r.IPAddresses = []net.IP{{1, 2, 3}} },
			ErrNoIdentifiers},
		{"no serial", func(r *IssueRequest) { r.Serial = nil }, ErrBadSerial},
		{"zero serial", func(r *IssueRequest) { r.Serial = big.NewInt(0) }, ErrBadSerial},
		{"negative serial", func(r *IssueRequest) { r.Serial = big.NewInt(-1) }, ErrBadSerial},
		{"bad profile", func(r *IssueRequest) {
			r.Profile = Profile{Lifetime: time.Hour, MaxLifetime: time.Minute}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := IssueRequest{
				CSR:      good,
				DNSNames: []string{"www.example.com"},
				Serial:   big.NewInt(42),
				Profile:  DefaultProfile(),
				Now:      testNow,
			}
			tt.mutate(&req)
			cert, _, err := sharedPKI.issuer.Issue(req)
			if err == nil {
				t.Fatalf("Issue: got certificate %x, want an error", cert.SerialNumber)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Issue: got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestIssueKeyTypes(t *testing.T) {
	t.Parallel()
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"ed25519", edKey}, {"p384", p384}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cert, _, err := sharedPKI.issuer.Issue(IssueRequest{
				CSR:      csrWithKey(t, tc.key),
				DNSNames: []string{"www.example.com"},
				Serial:   newSerial(t),
				Now:      testNow,
			})
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if got := cert.KeyUsage; got != x509.KeyUsageDigitalSignature {
				t.Errorf("key usage: got %v, want digitalSignature only", got)
			}
		})
	}
}

// TestIssueLintInternalNames checks that catest.Lint accepts what an
// internal CA normally issues.
func TestIssueLintInternalNames(t *testing.T) {
	t.Parallel()
	_, der, err := sharedPKI.issuer.Issue(IssueRequest{
		CSR:      checkedCSR(t, newECKey(t)),
		DNSNames: []string{"gateway.internal", "localhost", "db.corp"},
		IPAddresses: []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("127.0.0.1"),
			net.ParseIP("fd00::1")},
		Serial:  newSerial(t),
		Profile: Profile{IncludeCommonName: true},
		Now:     testNow,
	})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	catest.Lint(t, der)
	found, err := catest.Check(der, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(found, func(f catest.Finding) bool {
		return f.Lint == "e_dnsname_not_valid_tld"
	}) {
		t.Errorf("strict findings: got %v, want e_dnsname_not_valid_tld among them", found)
	}
}

func csrWithKey(t testing.TB, key crypto.Signer) *CheckedCSR {
	t.Helper()
	return checkedCSR(t, key)
}

func TestCheckCSR(t *testing.T) {
	t.Parallel()
	good := newCSR(t, newECKey(t), "www.example.com")
	checked, err := CheckCSR(good)
	if err != nil {
		t.Fatalf("CheckCSR: %v", err)
	}
	if checked.Request() != good || !checked.PublicKey().(*ecdsa.PublicKey).Equal(good.PublicKey) {
		t.Errorf("CheckCSR: the checked request is not the one given")
	}

	badSig := newCSR(t, newECKey(t))
	badSig.Signature = slices.Clone(badSig.Signature)
	badSig.Signature[len(badSig.Signature)-3] ^= 0x55
	otherKey := newCSR(t, newECKey(t))
	otherKey.PublicKey = newECKey(t).Public() // the signature no longer matches
	for _, tt := range []struct {
		name string
		csr  *x509.CertificateRequest
	}{{"no CSR", nil}, {"bad signature", badSig}, {"key swapped", otherKey}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := CheckCSR(tt.csr)
			if !errors.Is(err, ErrBadCSR) || got != nil {
				t.Errorf("CheckCSR: got %v, %v; want nil, ErrBadCSR", got, err)
			}
		})
	}
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}
