package deviceattest

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
)

// Extensions of Apple's managed device attestation certificates. Their
// values are the raw bytes, not DER-wrapped.
var (
	oidAppleSerialNumber = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 8, 9, 1}
	oidAppleUDID         = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 8, 9, 2}
	oidAppleNonce        = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 8, 11, 1}
)

// appleStatement is the attStmt of the apple format: the attestation
// certificate first, then Apple's intermediate.
type appleStatement struct {
	X5C [][]byte `cbor:"x5c"`
}

// verifyApple verifies an apple statement: the chain to the configured
// Apple roots, then the nonce extension, which must hold
// SHA-256(keyAuthorization), or SHA-256(token) when configured so. The
// attested key is the leaf's; its serial number and UDID are the device
// identifiers.
func verifyApple(in input) (*attested, error) {
	var stmt appleStatement
	if err := decodeStatement(FormatApple, in.stmt, &stmt); err != nil {
		return nil, err
	}
	leaf, err := verifyChain(FormatApple, stmt.X5C, in.roots, in.now, nil)
	if err != nil {
		return nil, err
	}

	exts, err := appleExtensions(leaf)
	if err != nil {
		return nil, err
	}
	// draft-ietf-acme-device-attest-09, Section 5, step 2. A missing nonce
	// never passes: without it an old attestation could be replayed.
	bound := in.keyAuth
	if in.tokenSum {
		bound = in.token
	}
	want := sha256.Sum256([]byte(bound))
	if subtle.ConstantTimeCompare(exts[0], want[:]) != 1 {
		return nil, badf("apple: the nonce does not match this challenge")
	}

	att := &attested{key: leaf.PublicKey}
	for _, id := range exts[1:] {
		if len(id) > 0 {
			att.deviceIDs = append(att.deviceIDs, string(id))
		}
	}
	return att, nil
}

// appleExtensions returns the values of the nonce, serial number and UDID
// extensions, in that order. It refuses a certificate without a nonce.
// x509.ParseCertificate already refused repeated extensions.
func appleExtensions(leaf *x509.Certificate) ([3][]byte, error) {
	var vals [3][]byte
	for _, ext := range leaf.Extensions {
		switch {
		case ext.Id.Equal(oidAppleNonce):
			vals[0] = ext.Value
		case ext.Id.Equal(oidAppleSerialNumber):
			vals[1] = ext.Value
		case ext.Id.Equal(oidAppleUDID):
			vals[2] = ext.Value
		}
	}
	if len(vals[0]) == 0 {
		return vals, badf("apple: the attestation certificate has no nonce")
	}
	return vals, nil
}
