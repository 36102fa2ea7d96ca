package deviceattest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"slices"
)

// tpmStatement is the attStmt of the tpm format (WebAuthn Level 2,
// Section 8.3): the AK certificate chain, the TPMS_ATTEST produced by
// TPM2_Certify, the AK's signature over it, and the certified key's
// TPMT_PUBLIC.
type tpmStatement struct {
	Ver      string   `cbor:"ver"`
	Alg      int64    `cbor:"alg"`
	X5C      [][]byte `cbor:"x5c"`
	Sig      []byte   `cbor:"sig"`
	CertInfo []byte   `cbor:"certInfo"`
	PubArea  []byte   `cbor:"pubArea"`
}

// oidTCGKpAIKCertificate is the extended key usage that marks an AK
// certificate (WebAuthn Level 2, Section 8.3.1).
var oidTCGKpAIKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 3}

// requiredKeyAttributes are the TPMA_OBJECT bits the certified key must
// have: it never leaves this TPM (fixedTPM, fixedParent), it was generated
// inside it (sensitiveDataOrigin), and it signs.
const requiredKeyAttributes = tpmaFixedTPM | tpmaFixedParent | tpmaSensitiveOrigin | tpmaSign

// verifyTPM verifies a tpm statement, in order: the structures parse; the
// AK certificate chains to the configured TPM roots and is an AK
// certificate; the AK signed certInfo; certInfo certifies pubArea and
// carries SHA-256(keyAuthorization) as its qualifying data; pubArea is a
// non-exportable signing key generated in the TPM. The identities come
// from the AK certificate's subjectAltName.
func verifyTPM(in input) (*attested, error) {
	var stmt tpmStatement
	if err := decodeStatement(FormatTPM, in.stmt, &stmt); err != nil {
		return nil, err
	}
	if stmt.Ver != "2.0" {
		return nil, badf("tpm: ver must be \"2.0\"")
	}
	info, err := parseTPMSAttest(stmt.CertInfo)
	if err != nil {
		return nil, badf("tpm: certInfo is not a certify TPMS_ATTEST: %s", err)
	}
	pub, err := parseTPMTPublic(stmt.PubArea)
	if err != nil {
		return nil, badf("tpm: pubArea is not a usable TPMT_PUBLIC: %s", err)
	}

	// 1. The AK certificate chains to a TPM root and is fit for an AK.
	var names *akNames
	ak, err := verifyChain(FormatTPM, stmt.X5C, in.roots, in.now, func(c *x509.Certificate) error {
		var nameErr error
		names, nameErr = parseAKNames(c)
		return nameErr
	})
	if err != nil {
		return nil, err
	}
	if err := checkAKCertificate(ak); err != nil {
		return nil, err
	}

	// 2. The AK signed certInfo.
	if err := verifyAKSignature(ak.PublicKey, stmt.Alg, stmt.CertInfo, stmt.Sig); err != nil {
		return nil, err
	}

	// 3. certInfo binds this challenge: the qualifying data is
	// SHA-256(keyAuthorization) (draft-ietf-acme-device-attest-09,
	// Section 5, step 2).
	want := sha256.Sum256([]byte(in.keyAuth))
	if subtle.ConstantTimeCompare(info.extraData, want[:]) != 1 {
		return nil, badf("tpm: certInfo extraData does not match this challenge's key authorization")
	}

	// 4. certInfo certifies pubArea, and pubArea is a key that cannot
	// leave the TPM.
	if err := checkCertifiedName(pub.nameAlg, stmt.PubArea, info.name); err != nil {
		return nil, err
	}
	if pub.attributes&requiredKeyAttributes != requiredKeyAttributes {
		return nil, badf("tpm: the certified key lacks fixedTPM, fixedParent, " +
			"sensitiveDataOrigin or sign")
	}

	return &attested{
		key:             pub.key,
		permanentIDs:    names.permanent,
		hardwareModules: names.hardware,
	}, nil
}

// checkAKCertificate applies the AK certificate requirements of WebAuthn
// Level 2, Section 8.3.1 that we enforce: version 3, not a CA, and the
// tcg-kp-AIKCertificate extended key usage.
func checkAKCertificate(ak *x509.Certificate) error {
	if ak.Version != 3 {
		return badf("tpm: the AK certificate is not version 3")
	}
	if !slices.ContainsFunc(ak.UnknownExtKeyUsage, oidTCGKpAIKCertificate.Equal) {
		return badf("tpm: the AK certificate lacks the tcg-kp-AIKCertificate extended key usage")
	}
	return nil
}

// coseAlg describes a COSE signature algorithm (RFC 9053, RFC 8812).
type coseAlg struct {
	hash   crypto.Hash
	tpmSig uint16 // the matching TPMT_SIGNATURE sigAlg
	tpmAlg uint16 // the matching TPM hash algorithm
}

// coseAlgs are the AK signature algorithms accepted. RS1 (-65535) is not:
// SHA-1 signatures are refused.
var coseAlgs = map[int64]coseAlg{
	-7:   {crypto.SHA256, tpmAlgECDSA, tpmAlgSHA256},  // ES256
	-35:  {crypto.SHA384, tpmAlgECDSA, tpmAlgSHA384},  // ES384
	-36:  {crypto.SHA512, tpmAlgECDSA, tpmAlgSHA512},  // ES512
	-37:  {crypto.SHA256, tpmAlgRSAPSS, tpmAlgSHA256}, // PS256
	-38:  {crypto.SHA384, tpmAlgRSAPSS, tpmAlgSHA384}, // PS384
	-39:  {crypto.SHA512, tpmAlgRSAPSS, tpmAlgSHA512}, // PS512
	-257: {crypto.SHA256, tpmAlgRSASSA, tpmAlgSHA256}, // RS256
	-258: {crypto.SHA384, tpmAlgRSASSA, tpmAlgSHA384}, // RS384
	-259: {crypto.SHA512, tpmAlgRSASSA, tpmAlgSHA512}, // RS512
}

// verifyAKSignature checks sig over certInfo with the AK's key and the
// algorithm alg. sig is a TPMT_SIGNATURE, as TPM2_Certify returns it; a
// bare signature (PKCS #1 for RSA, ASN.1 for ECDSA), as some WebAuthn
// authenticators send, is accepted too.
func verifyAKSignature(key crypto.PublicKey, alg int64, certInfo, sig []byte) error {
	a, ok := coseAlgs[alg]
	if !ok {
		return badf("tpm: alg %d is not supported", alg)
	}
	h := a.hash.New()
	h.Write(certInfo)
	digest := h.Sum(nil)

	var valid bool
	tsig, err := parseTPMTSignature(sig)
	if err == nil && (tsig.alg != a.tpmSig || tsig.hash != a.tpmAlg) {
		return badf("tpm: sig does not use alg %d", alg)
	}
	switch key := key.(type) {
	case *rsa.PublicKey:
		raw := sig
		if tsig != nil {
			raw = tsig.rsa
		}
		switch a.tpmSig {
		case tpmAlgRSASSA:
			valid = rsa.VerifyPKCS1v15(key, a.hash, digest, raw) == nil
		case tpmAlgRSAPSS:
			opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}
			valid = rsa.VerifyPSS(key, a.hash, digest, raw, opts) == nil
		default:
			return badf("tpm: alg %d does not fit the AK's RSA key", alg)
		}
	case *ecdsa.PublicKey:
		if a.tpmSig != tpmAlgECDSA {
			return badf("tpm: alg %d does not fit the AK's ECDSA key", alg)
		}
		if tsig != nil {
			valid = ecdsa.Verify(key, digest, tsig.r, tsig.s)
		} else {
			valid = ecdsa.VerifyASN1(key, digest, sig)
		}
	default:
		return badf("tpm: the AK's key type %T is not supported", key)
	}
	if !valid {
		return badf("tpm: sig is not the AK's signature over certInfo")
	}
	return nil
}

// checkCertifiedName checks that name is the TPM Name of pubArea: nameAlg
// followed by the nameAlg digest of pubArea's bytes exactly as sent
// (Part 1, Section 16). SHA-1 names are refused.
func checkCertifiedName(nameAlg uint16, pubArea, name []byte) error {
	var hash crypto.Hash
	switch nameAlg {
	case tpmAlgSHA256:
		hash = crypto.SHA256
	case tpmAlgSHA384:
		hash = crypto.SHA384
	case tpmAlgSHA512:
		hash = crypto.SHA512
	default:
		return badf("tpm: pubArea nameAlg %#04x is not supported", nameAlg)
	}
	h := hash.New()
	h.Write(pubArea)
	want := binary.BigEndian.AppendUint16(nil, nameAlg)
	want = h.Sum(want)
	if !bytes.Equal(name, want) {
		return badf("tpm: certInfo does not certify pubArea")
	}
	return nil
}

// OIDs of subjectAltName otherName forms.
var (
	oidSubjectAltName     = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidPermanentID        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 3} // RFC 4043
	oidHardwareModuleName = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 4} // RFC 4108
)

// hardwareModuleName is RFC 4108, Section 5:
//
//	HardwareModuleName ::= SEQUENCE {
//	    hwType OBJECT IDENTIFIER,
//	    hwSerialNum OCTET STRING }
type hardwareModuleName struct {
	Type   asn1.ObjectIdentifier
	Serial []byte
}

// permanentIdentifierASN1 is RFC 4043, Section 2:
//
//	PermanentIdentifier ::= SEQUENCE {
//	    identifierValue UTF8String OPTIONAL,
//	    assigner OBJECT IDENTIFIER OPTIONAL }
type permanentIdentifierASN1 struct {
	Value    string                `asn1:"utf8,optional"`
	Assigner asn1.ObjectIdentifier `asn1:"optional"`
}

// akNames are the device identities in an AK certificate.
type akNames struct {
	permanent []PermanentIdentifier
	hardware  []hardwareModuleName
}

// parseAKNames reads the PermanentIdentifier and HardwareModuleName
// otherNames from the certificate's subjectAltName. An AK certificate has
// an empty subject, so its subjectAltName is critical and may hold only
// names that crypto/x509 does not parse, which leaves the extension listed
// as unhandled; once parsed here it is handled, and it is removed from that
// list so that chain verification accepts the certificate.
func parseAKNames(c *x509.Certificate) (*akNames, error) {
	names := &akNames{}
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		if err := names.parseSAN(ext.Value); err != nil {
			return nil, badf("tpm: the AK certificate's subjectAltName is malformed: %s", err)
		}
	}
	c.UnhandledCriticalExtensions = slices.DeleteFunc(
		c.UnhandledCriticalExtensions, oidSubjectAltName.Equal)
	return names, nil
}

// parseSAN parses GeneralNames (RFC 5280, Section 4.2.1.6) and keeps the
// otherName forms it knows. An otherName is
//
//	OtherName ::= SEQUENCE {
//	    type-id    OBJECT IDENTIFIER,
//	    value      [0] EXPLICIT ANY DEFINED BY type-id }
//
// carried as the [0] IMPLICIT choice of GeneralName.
func (n *akNames) parseSAN(der []byte) error {
	var general []asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &general); err != nil || len(rest) > 0 {
		return errors.New("not a sequence of GeneralName")
	}
	for _, g := range general {
		if g.Class != asn1.ClassContextSpecific || g.Tag != 0 || !g.IsCompound {
			continue // not an otherName
		}
		var typeID asn1.ObjectIdentifier
		rest, err := asn1.Unmarshal(g.Bytes, &typeID)
		if err != nil {
			return errors.New("otherName without a type")
		}
		var value asn1.RawValue
		rest, err = asn1.Unmarshal(rest, &value)
		if err != nil || len(rest) > 0 || value.Class != asn1.ClassContextSpecific ||
			value.Tag != 0 || !value.IsCompound {
			return errors.New("otherName without an explicit value")
		}
		if err := n.add(typeID, value.Bytes); err != nil {
			return err
		}
	}
	return nil
}

// add parses one otherName value of a known type.
func (n *akNames) add(typeID asn1.ObjectIdentifier, der []byte) error {
	switch {
	case typeID.Equal(oidPermanentID):
		var p permanentIdentifierASN1
		if rest, err := asn1.Unmarshal(der, &p); err != nil || len(rest) > 0 {
			return errors.New("invalid PermanentIdentifier")
		}
		n.permanent = append(n.permanent, PermanentIdentifier{Value: p.Value, Assigner: p.Assigner})
	case typeID.Equal(oidHardwareModuleName):
		var h hardwareModuleName
		if rest, err := asn1.Unmarshal(der, &h); err != nil || len(rest) > 0 {
			return errors.New("invalid HardwareModuleName")
		}
		n.hardware = append(n.hardware, h)
	}
	return nil
}
