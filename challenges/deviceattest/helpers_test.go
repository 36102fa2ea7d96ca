package deviceattest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/deviceattest"
	"github.com/acmegate/acmegate/challenges/deviceattest/attesttest"
)

const (
	token      = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
	thumbprint = "nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ"
	// otherToken belongs to another challenge, for replay cases.
	otherToken = "Rg5dV14Gh1QxWQDHwXoYCxkCEWtNXi7gwT3Ff6mR8vc"
)

var (
	keyAuth      = challenges.KeyAuthorization(token, thumbprint)
	otherKeyAuth = challenges.KeyAuthorization(otherToken, thumbprint)
	// now is the validators' clock; test certificates are valid around it.
	now = time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
)

// testCA is a root and an intermediate that issue attestation
// certificates, like a vendor's attestation PKI.
type testCA = attesttest.CA

// newTestCA returns a CA whose keys derive from name, so that every
// process of a fuzzing run trusts the same roots.
func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	return attesttest.NewCAWithKeys(t, name, now,
		fixedP256(t, name+" root"), fixedP256(t, name+" intermediate"))
}

// fixedP256 returns the P-256 key whose scalar is SHA-256(label).
func fixedP256(t testing.TB, label string) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), sum256(label))
	if err != nil {
		t.Fatalf("deriving key %q: %v", label, err)
	}
	return key
}

// Statement helpers shared with other packages' tests.
var (
	newP256     = attesttest.NewP256
	attObj      = attesttest.AttObj
	payload     = attesttest.Payload
	mustCBOR    = attesttest.MustCBOR
	signKeyAuth = attesttest.SignKeyAuth
)

func request(typ, value string, body []byte) challenges.Request {
	return challenges.Request{
		Identifier:       challenges.Identifier{Type: typ, Value: value},
		Token:            token,
		KeyAuthorization: keyAuth,
		Payload:          body,
	}
}

// testRoots holds one test CA per format; validator builds a Validator
// trusting them.
type testRoots struct {
	apple, tpm, step *testCA
}

func newTestRoots(t testing.TB) *testRoots {
	t.Helper()
	return &testRoots{
		apple: newTestCA(t, "Apple"),
		tpm:   newTestCA(t, "TPM"),
		step:  newTestCA(t, "Yubico"),
	}
}

func (r *testRoots) validator(t testing.TB, formats ...string) *deviceattest.Validator {
	t.Helper()
	if len(formats) == 0 {
		formats = []string{deviceattest.FormatApple, deviceattest.FormatTPM, deviceattest.FormatStep}
	}
	v, err := deviceattest.New(deviceattest.Options{
		Roots:   deviceattest.Roots{Apple: r.apple.Pool, TPM: r.tpm.Pool, Step: r.step.Pool},
		Formats: formats,
		Now:     func() time.Time { return now },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// wantResult checks a successful verification against the expected key.
func wantResult(
	t testing.TB,
	res *deviceattest.Result,
	err error,
	format string,
	key crypto.PublicKey,
) {
	t.Helper()
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if res.Format != format {
		t.Errorf("got format %q, want %q", res.Format, format)
	}
	want, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatalf("encoding key: %v", err)
	}
	if string(res.SPKI) != string(want) {
		t.Errorf("got SPKI %x, want the attested key's %x", res.SPKI, want)
	}
	got, err := x509.MarshalPKIXPublicKey(res.PublicKey)
	if err != nil || string(got) != string(want) {
		t.Errorf("got public key %v, want the attested key", res.PublicKey)
	}
}

// ctx is the context for tests that need no deadline.
var ctx = context.Background()

// sum256 returns SHA-256(s).
func sum256(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// mustASN1 DER-encodes v.
func mustASN1(t testing.TB, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatalf("encoding ASN.1: %v", err)
	}
	return der
}
