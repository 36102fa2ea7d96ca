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
// certificate whose signature does not verify is never returned.
func TestIssueRefusesFaultySignature(t *testing.T) {
	t.Parallel()
	p := sharedPKI
	faulty := &Issuer{Certificate: p.issuer.Certificate, Root: p.issuer.Root,
		Signer: faultySigner{p.issuer.Signer}}
	cert, der, err := faulty.Issue(IssueRequest{
		CSR:      newCSR(t, newECKey(t), "www.example.com"),
		DNSNames: []string{"www.example.com"},
		Serial:   newSerial(t),
		Profile:  DefaultProfile(),
		Now:      testNow,
		Rand:     rand.Reader,
	})
	if err == nil || cert != nil || der != nil {
		t.Fatalf("got a certificate (err %v), want a refusal of the corrupt signature", err)
	}
	// Go's CreateCertificate checks the signature too; either check may
	// be the one that refuses.
	t.Logf("refused with: %v", err)
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
			err := checkIssued(cert, tc.tmpl, tc.pub, p.issuer.Certificate)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadSignature)) {
				t.Fatalf("got %v, want ok=%v (ErrBadSignature on refusal)", err, tc.ok)
			}
		})
	}
}
