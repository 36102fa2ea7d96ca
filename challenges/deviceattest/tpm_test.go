package deviceattest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/deviceattest"
)

var (
	oidSAN            = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidEKU            = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidPermanentID    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 3}
	oidHardwareModule = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 4}
	oidAIKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 3}
	// oidTPMType is a made-up hardware type for hardware-module cases.
	oidTPMType = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
)

const (
	tpmSerial   = "TPM-0042-A7"
	tpmAssigner = "1.3.6.1.4.1.99999"
	hwSerial    = "EK-9F3A"
	hwValue     = hwSerial + "/1.3.6.1.4.1.99999.1"
)

// permanentIDASN1 is RFC 4043's PermanentIdentifier.
type permanentIDASN1 struct {
	Value    string                `asn1:"utf8,optional"`
	Assigner asn1.ObjectIdentifier `asn1:"optional"`
}

// hardwareModuleASN1 is RFC 4108's HardwareModuleName.
type hardwareModuleASN1 struct {
	Type   asn1.ObjectIdentifier
	Serial []byte
}

// otherName encodes an otherName GeneralName ([0] IMPLICIT) holding value.
func otherName(t testing.TB, typeID asn1.ObjectIdentifier, value any) asn1.RawValue {
	t.Helper()
	explicit := mustASN1(t, asn1.RawValue{
		Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustASN1(t, value),
	})
	return asn1.RawValue{
		Class:      asn1.ClassContextSpecific,
		Tag:        0,
		IsCompound: true,
		Bytes:      append(mustASN1(t, typeID), explicit...),
	}
}

// akSAN is the subjectAltName of the test AK certificates: a
// PermanentIdentifier with assigner, a HardwareModuleName, then extra.
// With only otherNames, crypto/x509 leaves a critical subjectAltName
// unhandled.
func akSAN(t testing.TB, extra ...asn1.RawValue) []byte {
	t.Helper()
	assigner := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999}
	hw := hardwareModuleASN1{Type: oidTPMType, Serial: []byte(hwSerial)}
	names := []asn1.RawValue{
		otherName(t, oidPermanentID, permanentIDASN1{Value: tpmSerial, Assigner: assigner}),
		otherName(t, oidHardwareModule, hw),
	}
	return mustASN1(t, append(names, extra...))
}

// akCertificateWithSAN issues an AK certificate with the given
// subjectAltName and the AK extended key usage.
func akCertificateWithSAN(
	t testing.TB,
	ca *testCA,
	pub crypto.PublicKey,
	san []byte,
) *x509.Certificate {
	t.Helper()
	return akCertificate(t, ca, pub,
		pkix.Extension{Id: oidSAN, Critical: true, Value: san},
		pkix.Extension{Id: oidEKU, Value: mustASN1(t, []asn1.ObjectIdentifier{oidAIKCertificate})})
}

// akCertificate issues an AK certificate the way an attestation CA does:
// empty subject, critical subjectAltName, tcg-kp-AIKCertificate EKU. exts
// replace the defaults when given.
func akCertificate(
	t testing.TB,
	ca *testCA,
	pub crypto.PublicKey,
	exts ...pkix.Extension,
) *x509.Certificate {
	t.Helper()
	if exts == nil {
		exts = []pkix.Extension{
			{Id: oidSAN, Critical: true, Value: akSAN(t)},
			{Id: oidEKU, Value: mustASN1(t, []asn1.ObjectIdentifier{oidAIKCertificate})},
		}
	}
	return ca.Issue(t, &x509.Certificate{ExtraExtensions: exts}, pub)
}

// tpmStatement is a tpm attStmt under construction.
type tpmStatement struct {
	Ver      string   `cbor:"ver"`
	Alg      int64    `cbor:"alg"`
	X5C      [][]byte `cbor:"x5c"`
	Sig      []byte   `cbor:"sig"`
	CertInfo []byte   `cbor:"certInfo"`
	PubArea  []byte   `cbor:"pubArea"`
}

func (s tpmStatement) payload(t testing.TB) []byte {
	t.Helper()
	return payload(t, attObj(t, deviceattest.FormatTPM, s))
}

// signingAttributes are those of a TPM-generated, non-exportable signing
// key.
var signingAttributes = tpm2.TPMAObject{
	FixedTPM:            true,
	FixedParent:         true,
	SensitiveDataOrigin: true,
	UserWithAuth:        true,
	SignEncrypt:         true,
}

// eccPublic is the TPMT_PUBLIC of an unrestricted P-256 signing key.
func eccPublic(key *ecdsa.PublicKey, attrs tpm2.TPMAObject) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgECC,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
			CurveID:   tpm2.TPMECCNistP256,
			KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: key.X.FillBytes(make([]byte, 32))},
			Y: tpm2.TPM2BECCParameter{Buffer: key.Y.FillBytes(make([]byte, 32))},
		}),
	}
}

// rsaPublic is the TPMT_PUBLIC of an unrestricted RSASSA signing key.
func rsaPublic(key *rsa.PublicKey) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgRSA,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: signingAttributes,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTRSAScheme{
				Scheme: tpm2.TPMAlgRSASSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA,
					&tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			KeyBits: 2048,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: key.N.Bytes()}),
	}
}

// certifyInfo is the TPMS_ATTEST that TPM2_Certify would produce for pub
// with qualifying data extra.
func certifyInfo(t testing.TB, pub tpm2.TPMTPublic, extra []byte) []byte {
	t.Helper()
	name, err := tpm2.ObjectName(&pub)
	if err != nil {
		t.Fatalf("computing name: %v", err)
	}
	return tpm2.Marshal(tpm2.TPMSAttest{
		Magic:           tpm2.TPMGeneratedValue,
		Type:            tpm2.TPMSTAttestCertify,
		QualifiedSigner: tpm2.TPM2BName{Buffer: []byte{0, 0x0b, 1, 2, 3}},
		ExtraData:       tpm2.TPM2BData{Buffer: extra},
		ClockInfo:       tpm2.TPMSClockInfo{Clock: 1000, Safe: true},
		FirmwareVersion: 0x2000100000000,
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestCertify, &tpm2.TPMSCertifyInfo{
			Name:          *name,
			QualifiedName: *name,
		}),
	})
}

// akSign signs certInfo with the AK and returns a TPMT_SIGNATURE: ECDSA or
// RSASSA with hash, or RSAPSS when pss is set.
func akSign(t testing.TB, ak crypto.Signer, hash crypto.Hash, pss bool, certInfo []byte) []byte {
	t.Helper()
	h := hash.New()
	h.Write(certInfo)
	digest := h.Sum(nil)
	hashAlg := map[crypto.Hash]tpm2.TPMIAlgHash{
		crypto.SHA256: tpm2.TPMAlgSHA256, crypto.SHA384: tpm2.TPMAlgSHA384,
	}[hash]
	switch key := ak.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, key, digest)
		if err != nil {
			t.Fatal(err)
		}
		return tpm2.Marshal(tpm2.TPMTSignature{
			SigAlg: tpm2.TPMAlgECDSA,
			Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
				Hash:       hashAlg,
				SignatureR: tpm2.TPM2BECCParameter{Buffer: r.Bytes()},
				SignatureS: tpm2.TPM2BECCParameter{Buffer: s.Bytes()},
			}),
		})
	case *rsa.PrivateKey:
		alg := tpm2.TPMAlgRSASSA
		var sig []byte
		var err error
		if pss {
			alg = tpm2.TPMAlgRSAPSS
			opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
			sig, err = rsa.SignPSS(rand.Reader, key, hash, digest, opts)
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, key, hash, digest)
		}
		if err != nil {
			t.Fatal(err)
		}
		return tpm2.Marshal(tpm2.TPMTSignature{
			SigAlg: alg,
			Signature: tpm2.NewTPMUSignature(alg, &tpm2.TPMSSignatureRSA{
				Hash: hashAlg,
				Sig:  tpm2.TPM2BPublicKeyRSA{Buffer: sig},
			}),
		})
	}
	t.Fatalf("unsupported AK %T", ak)
	return nil
}

// craftedTPM builds tpm statements in Go, signed by a software AK.
type craftedTPM struct {
	ca     *testCA
	ak     *ecdsa.PrivateKey
	akCert *x509.Certificate
	key    *ecdsa.PrivateKey // the attested key
	pub    tpm2.TPMTPublic
}

func newCraftedTPM(t testing.TB, ca *testCA) *craftedTPM {
	t.Helper()
	c := &craftedTPM{ca: ca, ak: newP256(t), key: newP256(t)}
	c.akCert = akCertificate(t, ca, c.ak.Public())
	c.pub = eccPublic(&c.key.PublicKey, signingAttributes)
	return c
}

// statement returns a valid ES256 statement for keyAuth.
func (c *craftedTPM) statement(t testing.TB) tpmStatement {
	t.Helper()
	pubArea := tpm2.Marshal(c.pub)
	certInfo := certifyInfo(t, c.pub, sum256(keyAuth))
	return tpmStatement{
		Ver:      "2.0",
		Alg:      -7,
		X5C:      c.ca.Chain(c.akCert),
		Sig:      akSign(t, c.ak, crypto.SHA256, false, certInfo),
		CertInfo: certInfo,
		PubArea:  pubArea,
	}
}

// resign replaces certInfo and signs it again with the AK.
func (c *craftedTPM) resign(t testing.TB, s tpmStatement, certInfo []byte) tpmStatement {
	t.Helper()
	s.CertInfo = certInfo
	s.Sig = akSign(t, c.ak, crypto.SHA256, false, certInfo)
	return s
}

// TestTPMCrafted covers the tpm format with statements built in Go and
// signed by a software AK, including SECURITY-CATALOGUE E10 (an empty EKU
// in the AK certificate) and E11 (replay, other device, unknown root).
func TestTPMCrafted(t *testing.T) {
	t.Parallel()
	roots := newTestRoots(t)
	v := roots.validator(t)
	c := newCraftedTPM(t, roots.tpm)
	good := c.statement(t)

	rsaAK, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub := rsaPublic(&rsaKey.PublicKey)
	rsaCertInfo := certifyInfo(t, rsaPub, sum256(keyAuth))
	rsaStmt := func(alg int64, pss bool) tpmStatement {
		return tpmStatement{
			Ver:      "2.0",
			Alg:      alg,
			X5C:      roots.tpm.Chain(akCertificate(t, roots.tpm, rsaAK.Public())),
			Sig:      akSign(t, rsaAK, crypto.SHA256, pss, rsaCertInfo),
			CertInfo: rsaCertInfo,
			PubArea:  tpm2.Marshal(rsaPub),
		}
	}

	// Variants of the good statement.
	with := func(edit func(s *tpmStatement)) tpmStatement {
		s := good
		edit(&s)
		return s
	}
	rawSig := with(func(s *tpmStatement) {
		digest := sha256.Sum256(s.CertInfo)
		sig, err := ecdsa.SignASN1(rand.Reader, c.ak, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		s.Sig = sig
	})
	patched := func(offset int, b ...byte) tpmStatement {
		info := append([]byte(nil), good.CertInfo...)
		copy(info[offset:], b)
		return c.resign(t, good, info)
	}
	otherKey := newP256(t)
	otherPub := eccPublic(&otherKey.PublicKey, signingAttributes)
	exportable := signingAttributes
	exportable.FixedTPM, exportable.FixedParent = false, false
	exportablePub := eccPublic(&c.key.PublicKey, exportable)
	h384 := sha512.Sum384(good.CertInfo)
	stranger := newTestCA(t, "Stranger")
	strangerChain := stranger.Chain(akCertificate(t, stranger, c.ak.Public()))
	signedBy := func(ak crypto.Signer, hash crypto.Hash) tpmStatement {
		return with(func(s *tpmStatement) { s.Sig = akSign(t, ak, hash, false, s.CertInfo) })
	}

	tests := []struct {
		name       string
		typ, value string
		stmt       tpmStatement
		key        crypto.PublicKey
		wantKind   string
		wantDetail string
	}{
		{name: "ES256", stmt: good},
		{name: "ES256 bare signature", stmt: rawSig},
		{name: "RS256 with RSA key", stmt: rsaStmt(-257, false), key: &rsaKey.PublicKey},
		{name: "PS256 with RSA key", stmt: rsaStmt(-37, true), key: &rsaKey.PublicKey},
		{name: "permanent identifier with assigner", value: tpmSerial + "/" + tpmAssigner, stmt: good},
		{name: "hardware module", typ: deviceattest.IdentifierHardwareModule, value: hwValue, stmt: good},
		{
			name: "AK certificate with a DNS name too",
			stmt: with(func(s *tpmStatement) {
				dns := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("ak.test")}
				s.X5C = roots.tpm.Chain(akCertificateWithSAN(t, roots.tpm, c.ak.Public(), akSAN(t, dns)))
			}),
		},
		{
			name: "AK certificate with a malformed PermanentIdentifier",
			stmt: with(func(s *tpmStatement) {
				broken := otherName(t, oidPermanentID, 42)
				s.X5C = roots.tpm.Chain(akCertificateWithSAN(t, roots.tpm, c.ak.Public(), akSAN(t, broken)))
			}),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "invalid PermanentIdentifier",
		},
		{
			name: "AK certificate with a malformed HardwareModuleName",
			stmt: with(func(s *tpmStatement) {
				broken := otherName(t, oidHardwareModule, "serial")
				s.X5C = roots.tpm.Chain(akCertificateWithSAN(t, roots.tpm, c.ak.Public(), akSAN(t, broken)))
			}),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "invalid HardwareModuleName",
		},
		{
			name:       "extraData for another key authorization",
			stmt:       c.resign(t, good, certifyInfo(t, c.pub, sum256(otherKeyAuth))),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "extraData does not match",
		},
		{
			name:       "empty extraData",
			stmt:       c.resign(t, good, certifyInfo(t, c.pub, nil)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "extraData does not match",
		},
		{
			name:       "certInfo for another key",
			stmt:       c.resign(t, good, certifyInfo(t, otherPub, sum256(keyAuth))),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "does not certify pubArea",
		},
		{
			name:       "pubArea swapped for another key",
			stmt:       with(func(s *tpmStatement) { s.PubArea = tpm2.Marshal(otherPub) }),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "does not certify pubArea",
		},
		{
			name: "exportable key",
			stmt: func() tpmStatement {
				s := c.resign(t, good, certifyInfo(t, exportablePub, sum256(keyAuth)))
				s.PubArea = tpm2.Marshal(exportablePub)
				return s
			}(),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "lacks fixedTPM",
		},
		{
			name:       "wrong magic",
			stmt:       patched(0, 0xde, 0xad, 0xbe, 0xef),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "magic is not TPM_GENERATED_VALUE",
		},
		{
			name:       "quote instead of certify",
			stmt:       patched(4, 0x80, 0x18),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "type is not TPM_ST_ATTEST_CERTIFY",
		},
		{
			name:       "certInfo truncated",
			stmt:       with(func(s *tpmStatement) { s.CertInfo = s.CertInfo[:len(s.CertInfo)-1] }),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "truncated",
		},
		{
			name:       "certInfo with trailing bytes",
			stmt:       with(func(s *tpmStatement) { s.CertInfo = appendZero(s.CertInfo) }),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "trailing bytes",
		},
		{
			name:       "pubArea with trailing bytes",
			stmt:       with(func(s *tpmStatement) { s.PubArea = appendZero(s.PubArea) }),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "trailing bytes",
		},
		{
			name:       "signature by another key",
			stmt:       signedBy(otherKey, crypto.SHA256),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "sig is not the AK's signature",
		},
		{
			name:       "signature hash differs from alg",
			stmt:       signedBy(c.ak, crypto.SHA384),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "does not use alg -7",
		},
		{
			name: "ES384 with a P-256 signature over SHA-384",
			stmt: with(func(s *tpmStatement) {
				s.Alg = -35
				r, ss, err := ecdsa.Sign(rand.Reader, c.ak, h384[:])
				if err != nil {
					t.Fatal(err)
				}
				s.Sig = tpm2.Marshal(tpm2.TPMTSignature{
					SigAlg: tpm2.TPMAlgECDSA,
					Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
						Hash:       tpm2.TPMAlgSHA384,
						SignatureR: tpm2.TPM2BECCParameter{Buffer: r.Bytes()},
						SignatureS: tpm2.TPM2BECCParameter{Buffer: ss.Bytes()},
					}),
				})
			}),
		},
		{
			name:       "SHA-1 alg",
			stmt:       with(func(s *tpmStatement) { s.Alg = -65535 }),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "alg -65535 is not supported",
		},
		{
			name:       "RSA alg with an ECDSA AK",
			stmt:       with(func(s *tpmStatement) { s.Alg = -257; s.Sig = rawSig.Sig }),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "does not fit the AK's ECDSA key",
		},
		{
			name:       "ver 1.2",
			stmt:       with(func(s *tpmStatement) { s.Ver = "1.2" }),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: `ver must be "2.0"`,
		},
		{
			name:       "untrusted root",
			stmt:       with(func(s *tpmStatement) { s.X5C = strangerChain }),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "does not chain to a trusted root",
		},
		{
			name: "AK certificate without the AK EKU",
			stmt: with(func(s *tpmStatement) {
				s.X5C = roots.tpm.Chain(akCertificate(t, roots.tpm, c.ak.Public(),
					pkix.Extension{Id: oidSAN, Critical: true, Value: akSAN(t)}))
			}),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "tcg-kp-AIKCertificate",
		},
		{
			name: "AK certificate with an empty EKU",
			stmt: with(func(s *tpmStatement) {
				s.X5C = roots.tpm.Chain(akCertificate(t, roots.tpm, c.ak.Public(),
					pkix.Extension{Id: oidSAN, Critical: true, Value: akSAN(t)},
					pkix.Extension{Id: oidEKU, Value: []byte{0x30, 0x00}}))
			}),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "tcg-kp-AIKCertificate",
		},
		{
			name: "AK certificate without names",
			stmt: with(func(s *tpmStatement) {
				s.X5C = roots.tpm.Chain(akCertificate(t, roots.tpm, c.ak.Public(),
					pkix.Extension{Id: oidEKU, Value: mustASN1(t, []asn1.ObjectIdentifier{oidAIKCertificate})}))
			}),
			wantKind:   challenges.KindRejectedIdentifier,
			wantDetail: "does not name the device",
		},
		{
			name:       "another device",
			value:      "TPM-0043-A7",
			stmt:       good,
			wantKind:   challenges.KindRejectedIdentifier,
			wantDetail: "does not name the device",
		},
		{
			name:       "another assigner",
			value:      tpmSerial + "/1.3.6.1.4.1.1",
			stmt:       good,
			wantKind:   challenges.KindRejectedIdentifier,
			wantDetail: "does not name the device",
		},
		{
			name:       "hardware module of another type",
			typ:        deviceattest.IdentifierHardwareModule,
			value:      hwSerial + "/1.3.6.1.4.1.99999.2",
			stmt:       good,
			wantKind:   challenges.KindRejectedIdentifier,
			wantDetail: "does not name the device",
		},
		{
			name:       "hardware module serial as permanent identifier",
			value:      hwSerial,
			stmt:       good,
			wantKind:   challenges.KindRejectedIdentifier,
			wantDetail: "does not name the device",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			typ, value, key := tt.typ, tt.value, tt.key
			if typ == "" {
				typ = deviceattest.IdentifierPermanent
			}
			if value == "" {
				value = tpmSerial
			}
			if key == nil {
				key = c.key.Public()
			}
			res, err := v.Verify(ctx, request(typ, value, tt.stmt.payload(t)))
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			if tt.wantKind == "" {
				wantResult(t, res, err, deviceattest.FormatTPM, key)
			}
		})
	}
}

// TestTPMPublicAreas checks which certified objects are accepted: only
// RSA and ECC signing keys whose point or modulus is sound.
func TestTPMPublicAreas(t *testing.T) {
	t.Parallel()
	roots := newTestRoots(t)
	v := roots.validator(t)
	c := newCraftedTPM(t, roots.tpm)

	offCurve := eccPublic(&c.key.PublicKey, signingAttributes)
	offCurve.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: big.NewInt(1).FillBytes(make([]byte, 32))},
		Y: tpm2.TPM2BECCParameter{Buffer: big.NewInt(1).FillBytes(make([]byte, 32))},
	})
	sha1Name := eccPublic(&c.key.PublicKey, signingAttributes)
	sha1Name.NameAlg = tpm2.TPMAlgSHA1
	storage := tpm2.ECCSRKTemplate
	decrypt := eccPublic(&c.key.PublicKey, signingAttributes)
	decrypt.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme: tpm2.TPMTECCScheme{
			Scheme: tpm2.TPMAlgECDH,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDH,
				&tpm2.TPMSKeySchemeECDH{HashAlg: tpm2.TPMAlgSHA256}),
		},
		CurveID: tpm2.TPMECCNistP256,
		KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	})
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaWith := func(keyBits tpm2.TPMKeyBits, exp uint32, modulus []byte) tpm2.TPMTPublic {
		pub := rsaPublic(&rsaKey.PublicKey)
		pub.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
			KeyBits:   keyBits,
			Exponent:  exp,
		})
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: modulus})
		return pub
	}
	modulus := rsaKey.N.Bytes()
	eccWith := func(curve tpm2.TPMECCCurve, x, y []byte) tpm2.TPMTPublic {
		pub := eccPublic(&c.key.PublicKey, signingAttributes)
		params, err := pub.Parameters.ECCDetail()
		if err != nil {
			t.Fatal(err)
		}
		params.CurveID = curve
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: x},
			Y: tpm2.TPM2BECCParameter{Buffer: y},
		})
		return pub
	}
	x, y := c.key.X.FillBytes(make([]byte, 32)), c.key.Y.FillBytes(make([]byte, 32))
	keyedHash := tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgKeyedHash,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: signingAttributes,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
			Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BDigest{Buffer: make([]byte, 32)}),
	}

	tests := []struct {
		name       string
		pub        tpm2.TPMTPublic
		wantDetail string
	}{
		{"point off the curve", offCurve, "not on the curve"},
		{"SHA-1 name", sha1Name, "nameAlg 0x0004 is not supported"},
		{"storage key", storage, "symmetric algorithm"},
		{"ECDH key", decrypt, "not an ECDSA key"},
		{"keyed hash", keyedHash, "neither an RSA nor an ECC key"},
		{"RSA-1024", rsaWith(1024, 0, modulus[:128]), "unsupported RSA key size"},
		{"RSA modulus shorter than keyBits", rsaWith(2048, 0, modulus[1:]), "does not match keyBits"},
		{"RSA even exponent", rsaWith(2048, 4, modulus), "invalid RSA exponent"},
		{"RSA modulus truncated", rsaWith(2048, 0, nil), "does not match keyBits"},
		{"BN-256 curve", eccWith(tpm2.TPMECCBNP256, x, y), "unsupported ECC curve"},
		{"ECC coordinate too long", eccWith(tpm2.TPMECCNistP256, append([]byte{1}, x...), y), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := c.resign(t, c.statement(t), certifyInfo(t, tt.pub, sum256(keyAuth)))
			s.PubArea = tpm2.Marshal(tt.pub)
			_, err := v.Verify(ctx, request(deviceattest.IdentifierPermanent, tpmSerial, s.payload(t)))
			challtest.WantError(t, err, deviceattest.KindBadAttestationStatement, tt.wantDetail)
		})
	}
}

// appendZero returns a copy of b with a zero byte appended.
func appendZero(b []byte) []byte {
	return append(append([]byte(nil), b...), 0)
}
