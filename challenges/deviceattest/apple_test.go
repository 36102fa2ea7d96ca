package deviceattest_test

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/deviceattest"
	"github.com/acmegate/acmegate/challenges/deviceattest/attesttest"
)

var (
	oidAppleSerial = attesttest.OIDAppleSerial
	oidAppleUDID   = attesttest.OIDAppleUDID
	oidAppleNonce  = attesttest.OIDAppleNonce
)

const (
	appleSerial = "C02XK0ABJG5J"
	appleUDID   = "00008030-001A2D3C0E38802E"
)

// appleLeaf issues an Apple-style attestation certificate for pub. A nil
// nonce leaves the nonce extension out.
func appleLeaf(t testing.TB, ca *testCA, pub crypto.PublicKey, nonce []byte) *x509.Certificate {
	t.Helper()
	exts := []pkix.Extension{
		{Id: oidAppleSerial, Value: []byte(appleSerial)},
		{Id: oidAppleUDID, Value: []byte(appleUDID)},
	}
	if nonce != nil {
		exts = append(exts, pkix.Extension{Id: oidAppleNonce, Value: nonce})
	}
	return ca.Issue(t, &x509.Certificate{
		Subject:         pkix.Name{CommonName: "device attestation"},
		ExtraExtensions: exts,
	}, pub)
}

// applePayload builds an apple statement; x5c is normally [][]byte.
func applePayload(t testing.TB, x5c any) []byte {
	t.Helper()
	return payload(t, attObj(t, deviceattest.FormatApple, map[string]any{"x5c": x5c}))
}

// TestApple covers SECURITY-CATALOGUE E11 for the apple format: replayed
// or nonce-less attestations, another device, and untrusted roots fail.
func TestApple(t *testing.T) {
	t.Parallel()
	roots := newTestRoots(t)
	v := roots.validator(t)
	key := newP256(t)
	body := func(ca *testCA, nonce []byte) []byte {
		return applePayload(t, ca.Chain(appleLeaf(t, ca, key.Public(), nonce)))
	}
	good := body(roots.apple, sum256(keyAuth))
	leafOnly := [][]byte{appleLeaf(t, roots.apple, key.Public(), sum256(keyAuth)).Raw}

	expired := roots.apple.Issue(t, &x509.Certificate{
		NotBefore:       now.Add(-48 * time.Hour),
		NotAfter:        now.Add(-24 * time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: oidAppleNonce, Value: sum256(keyAuth)}},
	}, key.Public())
	caLeaf := roots.apple.Issue(t, &x509.Certificate{
		IsCA:                  true,
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: oidAppleNonce, Value: sum256(keyAuth)}},
	}, key.Public())
	stranger := newTestCA(t, "Stranger")

	tests := []struct {
		name       string
		typ, value string
		body       []byte
		wantKind   string
		wantDetail string
	}{
		{name: "serial number", value: appleSerial, body: good},
		{name: "UDID", value: appleUDID, body: good},
		{
			name:       "nonce for another key authorization",
			value:      appleSerial,
			body:       body(roots.apple, sum256(otherKeyAuth)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "nonce does not match",
		},
		{
			name:       "nonce of the token without the option",
			value:      appleSerial,
			body:       body(roots.apple, sum256(token)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "nonce does not match",
		},
		{
			name:       "no nonce",
			value:      appleSerial,
			body:       body(roots.apple, nil),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "no nonce",
		},
		{
			name:       "untrusted root",
			value:      appleSerial,
			body:       body(stranger, sum256(keyAuth)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "does not chain to a trusted root",
		},
		{
			name:       "chain of another format",
			value:      appleSerial,
			body:       body(roots.step, sum256(keyAuth)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "does not chain to a trusted root",
		},
		{
			name:       "intermediate missing",
			value:      appleSerial,
			body:       applePayload(t, leafOnly),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "does not chain to a trusted root",
		},
		{
			name:       "expired",
			value:      appleSerial,
			body:       applePayload(t, roots.apple.Chain(expired)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "expired",
		},
		{
			name:       "leaf is a CA",
			value:      appleSerial,
			body:       applePayload(t, roots.apple.Chain(caLeaf)),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "is a CA certificate",
		},
		{
			name:       "x5c missing",
			value:      appleSerial,
			body:       payload(t, attObj(t, deviceattest.FormatApple, map[string]any{"sig": []byte{1}})),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "x5c is missing",
		},
		{
			name:       "x5c not certificates",
			value:      appleSerial,
			body:       applePayload(t, [][]byte{[]byte("not DER")}),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "x5c[0] is not a valid certificate",
		},
		{
			name:       "x5c of text strings",
			value:      appleSerial,
			body:       applePayload(t, []string{"a"}),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "wrong type",
		},
		{
			name:  "x5c too long",
			value: appleSerial,
			body: applePayload(t, [][]byte{
				roots.apple.Inter.Raw, roots.apple.Inter.Raw, roots.apple.Inter.Raw,
				roots.apple.Inter.Raw, roots.apple.Inter.Raw,
			}),
			wantKind:   deviceattest.KindBadAttestationStatement,
			wantDetail: "at most 4",
		},
		{
			name:       "another device",
			value:      "C02OTHERDEVICE",
			body:       good,
			wantKind:   challenges.KindRejectedIdentifier,
			wantDetail: "does not name the device",
		},
		{
			name:       "serial in another case",
			value:      "c02xk0abjg5j",
			body:       good,
			wantKind:   challenges.KindRejectedIdentifier,
			wantDetail: "does not name the device",
		},
		{
			name:       "assigner not attested",
			value:      appleSerial + "/1.2.840.113635",
			body:       good,
			wantKind:   challenges.KindRejectedIdentifier,
			wantDetail: "does not name the device",
		},
		{
			name:       "hardware-module not attested",
			typ:        deviceattest.IdentifierHardwareModule,
			value:      appleSerial + "/1.2.840.113635",
			body:       good,
			wantKind:   challenges.KindRejectedIdentifier,
			wantDetail: "does not name the device",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			typ := tt.typ
			if typ == "" {
				typ = deviceattest.IdentifierPermanent
			}
			res, err := v.Verify(ctx, request(typ, tt.value, tt.body))
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			if tt.wantKind == "" {
				wantResult(t, res, err, deviceattest.FormatApple, key.Public())
				if res.PermanentIdentifier != tt.value {
					t.Errorf("got permanent identifier %q, want %q", res.PermanentIdentifier, tt.value)
				}
			}
		})
	}
}

// TestAppleTokenNonce checks the option for devices that hash the token:
// the token's digest passes, the key authorization's and another token's
// do not.
func TestAppleTokenNonce(t *testing.T) {
	t.Parallel()
	roots := newTestRoots(t)
	v, err := deviceattest.New(deviceattest.Options{
		Roots:           deviceattest.Roots{Apple: roots.apple.Pool},
		Formats:         []string{deviceattest.FormatApple},
		Now:             func() time.Time { return now },
		AppleTokenNonce: true,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	key := newP256(t)
	tests := []struct {
		name     string
		nonce    []byte
		wantKind string
	}{
		{"token", sum256(token), ""},
		{"key authorization", sum256(keyAuth), deviceattest.KindBadAttestationStatement},
		{"other token", sum256(otherToken), deviceattest.KindBadAttestationStatement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := applePayload(t, roots.apple.Chain(appleLeaf(t, roots.apple, key.Public(), tt.nonce)))
			res, err := v.Verify(ctx, request(deviceattest.IdentifierPermanent, appleUDID, body))
			challtest.WantError(t, err, tt.wantKind, "")
			if tt.wantKind == "" {
				wantResult(t, res, err, deviceattest.FormatApple, key.Public())
			}
		})
	}
}
