package deviceattest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/deviceattest"
	"github.com/acmegate/acmegate/challenges/deviceattest/attesttest"
)

var oidYubicoSerial = attesttest.OIDYubicoSerial

const yubikeySerial = 12345678

// yubikeyLeaf issues a YubiKey PIV slot attestation certificate for pub
// carrying the serial extension value serialDER (none if nil).
func yubikeyLeaf(
	t testing.TB,
	ca *testCA,
	pub crypto.PublicKey,
	serialDER []byte,
) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "YubiKey PIV Attestation 9a"}}
	if serialDER != nil {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidYubicoSerial, Value: serialDER}}
	}
	return ca.Issue(t, tmpl, pub)
}

// stepPayload builds a step statement; sig is wrapped in a CBOR byte
// string as step clients do.
func stepPayload(t testing.TB, x5c [][]byte, sig []byte) []byte {
	t.Helper()
	return payload(t, attObj(t, deviceattest.FormatStep, map[string]any{
		"alg": -7,
		"x5c": x5c,
		"sig": mustCBOR(t, sig),
	}))
}

// TestStep covers SECURITY-CATALOGUE E11 for the step (YubiKey) format.
func TestStep(t *testing.T) {
	t.Parallel()
	roots := newTestRoots(t)
	v := roots.validator(t)
	serialDER := mustASN1(t, yubikeySerial)

	p256 := newP256(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := func(key crypto.Signer) []byte {
		leaf := yubikeyLeaf(t, roots.step, key.Public(), serialDER)
		return stepPayload(t, roots.step.Chain(leaf), signKeyAuth(t, key, keyAuth))
	}
	leaf := yubikeyLeaf(t, roots.step, p256.Public(), serialDER)
	stranger := newTestCA(t, "Stranger")
	strangerLeaf := yubikeyLeaf(t, stranger, p256.Public(), serialDER)

	tests := []struct {
		name       string
		value      string
		body       []byte
		key        crypto.PublicKey
		wantKind   string
		wantDetail string
	}{
		{name: "P-256", body: good(p256), key: p256.Public()},
		{name: "P-384", body: good(p384), key: p384.Public()},
		{name: "RSA", body: good(rsaKey), key: rsaKey.Public()},
		{name: "Ed25519", body: good(edKey), key: edKey.Public()},
		{
			name:       "P-224 not supported",
			body:       good(p224),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "P-224 is not supported",
		},
		{
			name:       "signature over another key authorization",
			body:       stepPayload(t, roots.step.Chain(leaf), signKeyAuth(t, p256, otherKeyAuth)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "sig is not a signature of this challenge's key authorization",
		},
		{
			name:       "signature by another key",
			body:       stepPayload(t, roots.step.Chain(leaf), signKeyAuth(t, newP256(t), keyAuth)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "sig is not a signature",
		},
		{
			name: "sig bytes not CBOR",
			body: payload(t, attObj(t, deviceattest.FormatStep, map[string]any{
				"x5c": roots.step.Chain(leaf), "sig": signKeyAuth(t, p256, keyAuth),
			})),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "sig is not a CBOR byte string",
		},
		{
			name:       "untrusted root",
			body:       stepPayload(t, stranger.Chain(strangerLeaf), signKeyAuth(t, p256, keyAuth)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "does not chain to a trusted root",
		},
		{
			name: "no serial extension",
			body: stepPayload(t,
				roots.step.Chain(yubikeyLeaf(t, roots.step, p256.Public(), nil)),
				signKeyAuth(t, p256, keyAuth)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "no YubiKey serial number",
		},
		{
			name: "serial extension not an integer",
			body: stepPayload(t,
				roots.step.Chain(yubikeyLeaf(t, roots.step, p256.Public(), mustASN1(t, "12345678"))),
				signKeyAuth(t, p256, keyAuth)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "serial number extension is malformed",
		},
		{
			name: "negative serial",
			body: stepPayload(t,
				roots.step.Chain(yubikeyLeaf(t, roots.step, p256.Public(), mustASN1(t, -5))),
				signKeyAuth(t, p256, keyAuth)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "serial number extension is malformed",
		},
		{
			name:       "another YubiKey",
			value:      "87654321",
			body:       good(p256),
			wantKind:   challenges.KindRejectedIdentifier,
			wantDetail: `permanent-identifier "87654321"`,
		},
		{
			name:       "serial with leading zero",
			value:      "012345678",
			body:       good(p256),
			wantKind:   challenges.KindRejectedIdentifier,
			wantDetail: "does not name the device",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			value := tt.value
			if value == "" {
				value = "12345678"
			}
			res, err := v.Verify(ctx, request(deviceattest.IdentifierPermanent, value, tt.body))
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			if tt.wantKind == "" {
				wantResult(t, res, err, deviceattest.FormatStep, tt.key)
			}
		})
	}
}
