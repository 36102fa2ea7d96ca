package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"testing"
)

// faultySigner signs with the intermediate key, then corrupts the
// signature, as a failing HSM or an RSA-CRT fault would.
type faultySigner struct {
	crypto.Signer
}

func (f faultySigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := f.Signer.Sign(r, digest, opts)
	if err != nil {
		return nil, err
	}
	sig[len(sig)/2] ^= 0x40
	return sig, nil
}

// TestIssueRefusesFaultySignature covers SECURITY-CATALOGUE G6: a
// certificate whose signature does not verify with the intermediate is
// never returned, whether the signer corrupts its signature (a failing HSM,
// an RSA-CRT fault) or signs with another key. x509.CreateCertificate is
// the check that refuses both; this test keeps it from being lost.
func TestIssueRefusesFaultySignature(t *testing.T) {
	t.Parallel()
	p := sharedPKI
	for _, tc := range []struct {
		name   string
		signer crypto.Signer
	}{
		{"corrupt signature", faultySigner{p.issuer.Signer}},
		{"other key", newECKey(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			faulty := &Issuer{Certificate: p.issuer.Certificate, Root: p.issuer.Root,
				Signer: tc.signer}
			cert, der, err := faulty.Issue(IssueRequest{
				CSR:      checkedCSR(t, newECKey(t), "www.example.com"),
				DNSNames: []string{"www.example.com"},
				Serial:   newSerial(t),
				Profile:  DefaultProfile(),
				Now:      testNow,
				Rand:     rand.Reader,
			})
			if err == nil || cert != nil || der != nil {
				t.Fatalf("got a certificate (err %v), want a refusal of the signature", err)
			}
		})
	}
}

// TestCheckIssued covers SECURITY-CATALOGUE G5: what the signer returns is
// compared with what was checked before signing.
func TestCheckIssued(t *testing.T) {
	t.Parallel()
	p := sharedPKI
	cert, _ := issueFor(t, p, "www.example.com")
	other := newECKey(t)
	tests := []struct {
		name string
		tmpl *x509.Certificate
		pub  crypto.PublicKey
		ok   bool
	}{
		{"as requested", &x509.Certificate{SerialNumber: cert.SerialNumber, DNSNames: cert.DNSNames},
			cert.PublicKey, true},
		{"other serial", &x509.Certificate{SerialNumber: big.NewInt(42), DNSNames: cert.DNSNames},
			cert.PublicKey, false},
		{"other names", &x509.Certificate{SerialNumber: cert.SerialNumber,
			DNSNames: []string{"evil.example.com"}}, cert.PublicKey, false},
		{"other key", &x509.Certificate{SerialNumber: cert.SerialNumber, DNSNames: cert.DNSNames},
			other.Public(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkIssued(cert, tc.tmpl, tc.pub)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadSignature)) {
				t.Fatalf("got %v, want ok=%v (ErrBadSignature on refusal)", err, tc.ok)
			}
		})
	}
}
