//go:build cgo

package deviceattest_test

import (
	"crypto"
	"testing"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/deviceattest"
)

// simTPM drives the Microsoft TPM 2.0 reference simulator. The simulator
// holds at most three transient objects, so callers flush what they load.
type simTPM struct {
	t   testing.TB
	tpm transport.TPM
}

// openSimulator starts the simulator for the test; it is a process-wide
// resource, so tests using it must not run in parallel with each other.
func openSimulator(t testing.TB) *simTPM {
	t.Helper()
	sim, err := simulator.Get()
	if err != nil {
		t.Fatalf("starting the TPM simulator: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return &simTPM{t: t, tpm: transport.FromReadWriter(sim)}
}

// loaded is a transient object in the simulator.
type loaded struct {
	handle  tpm2.TPMHandle
	name    tpm2.TPM2BName
	pubArea []byte // the TPMT_PUBLIC exactly as the TPM returned it
	public  crypto.PublicKey
}

// auth names the object with its empty password.
func (o *loaded) auth() tpm2.AuthHandle {
	return tpm2.AuthHandle{Handle: o.handle, Name: o.name, Auth: tpm2.PasswordAuth(nil)}
}

func (s *simTPM) primary(hierarchy tpm2.TPMHandle, tmpl tpm2.TPMTPublic) *loaded {
	s.t.Helper()
	rsp, err := tpm2.CreatePrimary{PrimaryHandle: hierarchy, InPublic: tpm2.New2B(tmpl)}.Execute(s.tpm)
	if err != nil {
		s.t.Fatalf("TPM2_CreatePrimary: %v", err)
	}
	return s.object(rsp.ObjectHandle, rsp.Name, rsp.OutPublic)
}

// child creates and loads a key under parent.
func (s *simTPM) child(parent *loaded, tmpl tpm2.TPMTPublic) *loaded {
	s.t.Helper()
	parentHandle := parent.auth()
	created, err := tpm2.Create{ParentHandle: parentHandle, InPublic: tpm2.New2B(tmpl)}.Execute(s.tpm)
	if err != nil {
		s.t.Fatalf("TPM2_Create: %v", err)
	}
	rsp, err := tpm2.Load{
		ParentHandle: parentHandle,
		InPrivate:    created.OutPrivate,
		InPublic:     created.OutPublic,
	}.Execute(s.tpm)
	if err != nil {
		s.t.Fatalf("TPM2_Load: %v", err)
	}
	return s.object(rsp.ObjectHandle, rsp.Name, created.OutPublic)
}

func (s *simTPM) object(h tpm2.TPMHandle, name tpm2.TPM2BName, pub tpm2.TPM2BPublic) *loaded {
	s.t.Helper()
	contents, err := pub.Contents()
	if err != nil {
		s.t.Fatalf("decoding the public area: %v", err)
	}
	key, err := tpm2.Pub(*contents)
	if err != nil {
		s.t.Fatalf("converting the public key: %v", err)
	}
	return &loaded{handle: h, name: name, pubArea: pub.Bytes(), public: key}
}

func (s *simTPM) flush(objs ...*loaded) {
	s.t.Helper()
	for _, o := range objs {
		if _, err := (tpm2.FlushContext{FlushHandle: o.handle}).Execute(s.tpm); err != nil {
			s.t.Fatalf("TPM2_FlushContext: %v", err)
		}
	}
}

// certify runs TPM2_Certify of obj by ak with the qualifying data and
// returns certInfo and the TPMT_SIGNATURE, as a client puts them in attStmt.
func (s *simTPM) certify(obj, ak *loaded, qualifying []byte) ([]byte, []byte) {
	s.t.Helper()
	rsp, err := tpm2.Certify{
		ObjectHandle:   obj.auth(),
		SignHandle:     ak.auth(),
		QualifyingData: tpm2.TPM2BData{Buffer: qualifying},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}.Execute(s.tpm)
	if err != nil {
		s.t.Fatalf("TPM2_Certify: %v", err)
	}
	return rsp.CertifyInfo.Bytes(), tpm2.Marshal(rsp.Signature)
}

// akTemplate is a restricted signing key, as attestation keys are.
func akTemplate(rsaKey bool) tpm2.TPMTPublic {
	attrs := tpm2.TPMAObject{
		FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
		UserWithAuth: true, NoDA: true, Restricted: true, SignEncrypt: true,
	}
	if rsaKey {
		return tpm2.TPMTPublic{
			Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
				Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
				Scheme: tpm2.TPMTRSAScheme{
					Scheme: tpm2.TPMAlgRSASSA,
					Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA,
						&tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
				},
				KeyBits: 2048,
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{}),
		}
	}
	return tpm2.TPMTPublic{
		Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTECCScheme{
				Scheme: tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA,
					&tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
			KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
	}
}

// keyTemplate is an unrestricted signing key for a certificate; the TPM
// generates it and keeps it, unless exportable.
func keyTemplate(rsaKey, exportable bool) tpm2.TPMTPublic {
	tmpl := akTemplate(rsaKey)
	tmpl.ObjectAttributes.Restricted = false
	tmpl.ObjectAttributes.FixedTPM = !exportable
	tmpl.ObjectAttributes.FixedParent = !exportable
	if rsaKey {
		tmpl.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
			KeyBits:   2048,
		})
		return tmpl
	}
	tmpl.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme:    tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
		CurveID:   tpm2.TPMECCNistP256,
		KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	})
	return tmpl
}

// TestTPMSimulator runs TPM2_Certify in the reference TPM simulator with
// qualifying data SHA-256(keyAuthorization) and verifies the real outputs
// (SECURITY-CATALOGUE E11 and item 12 of its recommendations).
func TestTPMSimulator(t *testing.T) {
	roots := newTestRoots(t)
	v := roots.validator(t)
	stranger := newTestCA(t, "Stranger")
	sim := openSimulator(t)
	srk := sim.primary(tpm2.TPMRHOwner, tpm2.ECCSRKTemplate)

	// ECDSA attestation key, P-256 key, certified for this challenge and
	// for another one.
	eccAK := sim.primary(tpm2.TPMRHEndorsement, akTemplate(false))
	eccAKCert := akCertificate(t, roots.tpm, eccAK.public)
	eccKey := sim.child(srk, keyTemplate(false, false))
	eccInfo, eccSig := sim.certify(eccKey, eccAK, sum256(keyAuth))
	replayInfo, replaySig := sim.certify(eccKey, eccAK, sum256(otherKeyAuth))
	sim.flush(eccKey)
	exportable := sim.child(srk, keyTemplate(false, true))
	exportInfo, exportSig := sim.certify(exportable, eccAK, sum256(keyAuth))
	sim.flush(exportable, eccAK)

	// RSA attestation key and RSA key.
	rsaAK := sim.primary(tpm2.TPMRHEndorsement, akTemplate(true))
	rsaKey := sim.child(srk, keyTemplate(true, false))
	rsaInfo, rsaSig := sim.certify(rsaKey, rsaAK, sum256(keyAuth))
	sim.flush(rsaKey, rsaAK, srk)

	eccStmt := tpmStatement{
		Ver: "2.0", Alg: -7, X5C: roots.tpm.Chain(eccAKCert),
		Sig: eccSig, CertInfo: eccInfo, PubArea: eccKey.pubArea,
	}
	strangerChain := stranger.Chain(akCertificate(t, stranger, eccAK.public))
	otherAKChain := roots.tpm.Chain(akCertificate(t, roots.tpm, newP256(t).Public()))
	with := func(edit func(s *tpmStatement)) tpmStatement {
		s := eccStmt
		edit(&s)
		return s
	}
	tests := []struct {
		name       string
		value      string
		stmt       tpmStatement
		key        crypto.PublicKey
		wantKind   string
		wantDetail string
	}{
		{name: "ECDSA AK, P-256 key", stmt: eccStmt, key: eccKey.public},
		{
			name: "RSA AK, RSA key",
			stmt: tpmStatement{
				Ver: "2.0", Alg: -257, X5C: roots.tpm.Chain(akCertificate(t, roots.tpm, rsaAK.public)),
				Sig: rsaSig, CertInfo: rsaInfo, PubArea: rsaKey.pubArea,
			},
			key: rsaKey.public,
		},
		{
			name:       "certified for another key authorization",
			stmt:       with(func(s *tpmStatement) { s.CertInfo, s.Sig = replayInfo, replaySig }),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "extraData does not match",
		},
		{
			name:       "AK certificate from an unknown CA",
			stmt:       with(func(s *tpmStatement) { s.X5C = strangerChain }),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "does not chain to a trusted root",
		},
		{
			name:       "AK certificate for another AK",
			stmt:       with(func(s *tpmStatement) { s.X5C = otherAKChain }),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "sig is not the AK's signature",
		},
		{
			name:       "pubArea of another key",
			stmt:       with(func(s *tpmStatement) { s.PubArea = rsaKey.pubArea }),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "does not certify pubArea",
		},
		{
			name: "exportable key",
			stmt: with(func(s *tpmStatement) {
				s.CertInfo, s.Sig, s.PubArea = exportInfo, exportSig, exportable.pubArea
			}),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "lacks fixedTPM",
		},
		{
			name:       "another device",
			value:      "TPM-9999",
			stmt:       eccStmt,
			wantKind:   challenges.KindRejectedIdentifier,
			wantDetail: "does not name the device",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value := tt.value
			if value == "" {
				value = tpmSerial
			}
			res, err := v.Verify(ctx, request(deviceattest.IdentifierPermanent, value, tt.stmt.payload(t)))
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			if tt.wantKind == "" {
				wantResult(t, res, err, deviceattest.FormatTPM, tt.key)
			}
		})
	}
}
