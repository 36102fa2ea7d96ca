package server

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// CheckAlternateChain checks that chainPEM can stand in for issuer's own
// chain: its first certificate must name the same subject with the same
// public key as issuer (a cross-signed copy of the intermediate), and each
// further certificate must have signed the one before it. It returns the
// chain re-encoded, without anything but certificates.
func CheckAlternateChain(issuer *x509.Certificate, chainPEM []byte) ([]byte, error) {
	var certs []*x509.Certificate
	rest := chainPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("server: alternate chain certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("server: the alternate chain holds no certificate")
	}
	first := certs[0]
	if !bytes.Equal(first.RawSubject, issuer.RawSubject) ||
		!bytes.Equal(first.RawSubjectPublicKeyInfo, issuer.RawSubjectPublicKeyInfo) {
		return nil, errors.New("server: the alternate chain does not start with a certificate " +
			"of the intermediate's subject and key")
	}
	var out bytes.Buffer
	for i, cert := range certs {
		if i > 0 {
			if err := certs[i-1].CheckSignatureFrom(cert); err != nil {
				return nil, fmt.Errorf("server: alternate chain certificate %d did not sign %d: %w",
					i+1, i, err)
			}
		}
		if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}); err != nil {
			return nil, fmt.Errorf("server: encoding alternate chain: %w", err)
		}
	}
	return out.Bytes(), nil
}
