package ca

import (
	"crypto"
	"crypto/x509"
	"fmt"
)

// CheckedCSR is a certificate signing request whose self-signature
// [CheckCSR] has verified: whoever sent it holds the private key of the
// public key to certify (RFC 2986, Section 3). [Issuer.Issue] takes only
// checked requests, so the signature is verified exactly once, where the
// request comes in, and never skipped.
type CheckedCSR struct {
	csr *x509.CertificateRequest
}

// CheckCSR verifies csr's signature. Errors wrap [ErrBadCSR]. It does not
// judge the signature algorithm or the key: callers refuse weak algorithms
// themselves (Go still verifies SHA-1), and [Issuer.Issue] refuses keys it
// does not certify.
func CheckCSR(csr *x509.CertificateRequest) (*CheckedCSR, error) {
	if csr == nil {
		return nil, fmt.Errorf("%w: no CSR", ErrBadCSR)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCSR, err)
	}
	return &CheckedCSR{csr: csr}, nil
}

// Request returns the checked request.
func (c *CheckedCSR) Request() *x509.CertificateRequest { return c.csr }

// PublicKey returns the key to certify.
func (c *CheckedCSR) PublicKey() crypto.PublicKey { return c.csr.PublicKey }

// valid reports whether c came from [CheckCSR]: the zero value did not.
func (c *CheckedCSR) valid() bool { return c != nil && c.csr != nil }
