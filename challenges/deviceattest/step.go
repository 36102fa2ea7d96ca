package deviceattest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
)

// oidYubicoSerial is the YubiKey serial number extension of Yubico PIV
// attestation certificates, a DER INTEGER.
var oidYubicoSerial = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}

// stepStatement is the attStmt of the step format, as step clients send it
// for YubiKey PIV keys: the slot's attestation certificate, then the
// device's attestation (f9) certificate; and a signature by the attested
// key, whose bytes are themselves CBOR-encoded as a byte string. The alg
// member, if any, is ignored: the key type decides the algorithm.
type stepStatement struct {
	X5C [][]byte `cbor:"x5c"`
	Sig []byte   `cbor:"sig"`
}

// verifyStep verifies a step statement: the chain to the configured Yubico
// roots; then proof that the attested key signed the key authorization,
// which binds the statement to this challenge and account; then the
// YubiKey serial number, which is the device identifier.
func verifyStep(in input) (*attested, error) {
	var stmt stepStatement
	if err := decodeStatement(FormatStep, in.stmt, &stmt); err != nil {
		return nil, err
	}
	leaf, err := verifyChain(FormatStep, stmt.X5C, in.roots, in.now, nil)
	if err != nil {
		return nil, err
	}

	// draft-ietf-acme-device-attest-09, Section 5, step 2: the key
	// authorization is attToBeSigned.
	var sig []byte
	if err := decMode.Unmarshal(stmt.Sig, &sig); err != nil || len(sig) == 0 {
		return nil, badf("step: sig is not a CBOR byte string")
	}
	if err := verifyKeyAuthSignature(leaf.PublicKey, in.keyAuth, sig); err != nil {
		return nil, err
	}

	serial, err := yubicoSerial(leaf)
	if err != nil {
		return nil, err
	}
	return &attested{key: leaf.PublicKey, deviceIDs: []string{serial}}, nil
}

// verifyKeyAuthSignature checks sig over the key authorization with the
// attested key: ECDSA P-256 with SHA-256 or P-384 with SHA-384 (ASN.1
// signatures), RSA PKCS #1 v1.5 with SHA-256, or Ed25519 over the message.
func verifyKeyAuthSignature(pub crypto.PublicKey, keyAuth string, sig []byte) error {
	ok := false
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			sum := sha256.Sum256([]byte(keyAuth))
			ok = ecdsa.VerifyASN1(pub, sum[:], sig)
		case elliptic.P384():
			sum := sha512.Sum384([]byte(keyAuth))
			ok = ecdsa.VerifyASN1(pub, sum[:], sig)
		default:
			return badf("step: attested ECDSA curve %s is not supported", pub.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		sum := sha256.Sum256([]byte(keyAuth))
		ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
	case ed25519.PublicKey:
		ok = ed25519.Verify(pub, []byte(keyAuth), sig)
	default:
		return badf("step: attested key of type %T is not supported", pub)
	}
	if !ok {
		return badf("step: sig is not a signature of this challenge's key authorization " +
			"by the attested key")
	}
	return nil
}

// yubicoSerial returns the YubiKey serial number in decimal.
func yubicoSerial(leaf *x509.Certificate) (string, error) {
	for _, ext := range leaf.Extensions {
		if !ext.Id.Equal(oidYubicoSerial) {
			continue
		}
		n := new(big.Int)
		rest, err := asn1.Unmarshal(ext.Value, &n)
		if err != nil || len(rest) > 0 || n.Sign() < 0 {
			return "", badf("step: the YubiKey serial number extension is malformed")
		}
		return n.String(), nil
	}
	return "", badf("step: the attestation certificate has no YubiKey serial number")
}
