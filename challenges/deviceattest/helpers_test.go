package deviceattest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/deviceattest"
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

// testCA is a root and an intermediate that issues attestation
// certificates, like a vendor's attestation PKI.
type testCA struct {
	root     *x509.Certificate
	inter    *x509.Certificate
	interKey crypto.Signer
	pool     *x509.CertPool
}

// newTestCA returns a CA whose keys derive from name, so that every
// process of a fuzzing run trusts the same roots.
func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	rootKey := fixedP256(t, name+" root")
	root := createCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " Root CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, nil, rootKey.Public(), rootKey)
	interKey := fixedP256(t, name+" intermediate")
	inter := createCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " Attestation CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, root, interKey.Public(), rootKey)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &testCA{root: root, inter: inter, interKey: interKey, pool: pool}
}

// issue signs an end-entity certificate for pub with the intermediate.
func (ca *testCA) issue(
	t testing.TB,
	tmpl *x509.Certificate,
	pub crypto.PublicKey,
) *x509.Certificate {
	t.Helper()
	return createCert(t, tmpl, ca.inter, pub, ca.interKey)
}

// chain returns the x5c array for leaf: the leaf, then the intermediate.
func (ca *testCA) chain(leaf *x509.Certificate) [][]byte {
	return [][]byte{leaf.Raw, ca.inter.Raw}
}

// serial numbers the test certificates; tests run in parallel.
var serial atomic.Int64

func createCert(
	t testing.TB,
	tmpl, parent *x509.Certificate,
	pub crypto.PublicKey,
	key crypto.Signer,
) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(serial.Add(1))
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
		tmpl.NotAfter = now.Add(365 * 24 * time.Hour)
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatalf("creating certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing certificate: %v", err)
	}
	return cert
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

func newP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	return key
}

// attObj encodes an attestation object with the given format and
// statement.
func attObj(t testing.TB, format string, stmt any) []byte {
	t.Helper()
	return mustCBOR(t, map[string]any{"fmt": format, "attStmt": stmt})
}

// payload wraps CBOR bytes as the challenge response {"attObj": ...}.
func payload(t testing.TB, raw []byte) []byte {
	t.Helper()
	p, err := json.Marshal(map[string]string{"attObj": base64.RawURLEncoding.EncodeToString(raw)})
	if err != nil {
		t.Fatalf("encoding payload: %v", err)
	}
	return p
}

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
		Roots:   deviceattest.Roots{Apple: r.apple.pool, TPM: r.tpm.pool, Step: r.step.pool},
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

// mustCBOR CBOR-encodes v.
func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	raw, err := cbor.Marshal(v)
	if err != nil {
		t.Fatalf("encoding CBOR: %v", err)
	}
	return raw
}
