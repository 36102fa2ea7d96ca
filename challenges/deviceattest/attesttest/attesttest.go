package attesttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
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

	"github.com/acmegate/acmegate/challenges/deviceattest"
)

// Extensions of vendor attestation certificates.
var (
	// OIDAppleSerial holds the device serial number as raw bytes.
	OIDAppleSerial = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 8, 9, 1}
	// OIDAppleUDID holds the device UDID as raw bytes.
	OIDAppleUDID = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 8, 9, 2}
	// OIDAppleNonce holds SHA-256 of the key authorization.
	OIDAppleNonce = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 8, 11, 1}
	// OIDYubicoSerial holds the YubiKey serial number, a DER INTEGER.
	OIDYubicoSerial = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
)

// CA is a root and an intermediate that issues attestation certificates,
// like a vendor's attestation PKI. Its certificates are valid from an hour
// before to a year after the time given to [NewCA].
type CA struct {
	Root  *x509.Certificate
	Inter *x509.Certificate
	// Pool holds Root only, as [deviceattest.Roots] expects.
	Pool *x509.CertPool

	interKey crypto.Signer
	now      time.Time
}

// NewCA returns a CA with fresh P-256 keys whose certificates are valid
// around now; name goes into the subjects.
func NewCA(t testing.TB, name string, now time.Time) *CA {
	t.Helper()
	return NewCAWithKeys(t, name, now, NewP256(t), NewP256(t))
}

// NewCAWithKeys is [NewCA] with given root and intermediate keys, for tests
// that need the same roots in every process, such as fuzzing.
func NewCAWithKeys(t testing.TB, name string, now time.Time, rootKey, interKey crypto.Signer) *CA {
	t.Helper()
	ca := &CA{interKey: interKey, now: now, Pool: x509.NewCertPool()}
	ca.Root = ca.create(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " Root CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, nil, rootKey.Public(), rootKey)
	ca.Inter = ca.create(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " Attestation CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, ca.Root, interKey.Public(), rootKey)
	ca.Pool.AddCert(ca.Root)
	return ca
}

// Issue signs an end-entity certificate for pub with the intermediate.
// A zero NotBefore in tmpl gets the CA's validity period; the serial
// number is always set.
func (ca *CA) Issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	return ca.create(t, tmpl, ca.Inter, pub, ca.interKey)
}

// Chain returns the x5c array for leaf: the leaf, then the intermediate.
func (ca *CA) Chain(leaf *x509.Certificate) [][]byte {
	return [][]byte{leaf.Raw, ca.Inter.Raw}
}

// serial numbers the test certificates; tests run in parallel.
var serial atomic.Int64

func (ca *CA) create(
	t testing.TB,
	tmpl, parent *x509.Certificate,
	pub crypto.PublicKey,
	key crypto.Signer,
) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(serial.Add(1))
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = ca.now.Add(-time.Hour)
		tmpl.NotAfter = ca.now.Add(365 * 24 * time.Hour)
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

// NewP256 returns a fresh P-256 key.
func NewP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	return key
}

// AttObj CBOR-encodes an attestation object with the given format and
// statement.
func AttObj(t testing.TB, format string, stmt any) []byte {
	t.Helper()
	return MustCBOR(t, map[string]any{"fmt": format, "attStmt": stmt})
}

// Payload wraps an attestation object as the challenge response
// {"attObj": base64url(raw)}.
func Payload(t testing.TB, raw []byte) []byte {
	t.Helper()
	p, err := json.Marshal(map[string]string{"attObj": base64.RawURLEncoding.EncodeToString(raw)})
	if err != nil {
		t.Fatalf("encoding payload: %v", err)
	}
	return p
}

// MustCBOR CBOR-encodes v.
func MustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	raw, err := cbor.Marshal(v)
	if err != nil {
		t.Fatalf("encoding CBOR: %v", err)
	}
	return raw
}

// AppleLeaf issues an Apple-style attestation certificate for pub naming
// the device serial, with the nonce extension set to nonce (left out when
// nil).
func AppleLeaf(t testing.TB, ca *CA, serial string, pub crypto.PublicKey, nonce []byte) *x509.Certificate {
	t.Helper()
	exts := []pkix.Extension{{Id: OIDAppleSerial, Value: []byte(serial)}}
	if nonce != nil {
		exts = append(exts, pkix.Extension{Id: OIDAppleNonce, Value: nonce})
	}
	return ca.Issue(t, &x509.Certificate{
		Subject:         pkix.Name{CommonName: "device attestation"},
		ExtraExtensions: exts,
	}, pub)
}

// AppleStatement returns the challenge response payload of an apple
// statement by ca attesting key for the device serial, bound to keyAuth:
// the nonce extension is SHA-256(keyAuth).
func AppleStatement(t testing.TB, ca *CA, serial, keyAuth string, key crypto.PublicKey) []byte {
	t.Helper()
	nonce := sha256.Sum256([]byte(keyAuth))
	leaf := AppleLeaf(t, ca, serial, key, nonce[:])
	return Payload(t, AttObj(t, deviceattest.FormatApple, map[string]any{"x5c": ca.Chain(leaf)}))
}

// YubiKeyLeaf issues a YubiKey PIV slot attestation certificate for pub
// carrying the serial number extension.
func YubiKeyLeaf(t testing.TB, ca *CA, serial int64, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	der, err := asn1.Marshal(big.NewInt(serial))
	if err != nil {
		t.Fatalf("encoding serial: %v", err)
	}
	return ca.Issue(t, &x509.Certificate{
		Subject:         pkix.Name{CommonName: "YubiKey PIV Attestation 9a"},
		ExtraExtensions: []pkix.Extension{{Id: OIDYubicoSerial, Value: der}},
	}, pub)
}

// StepStatement returns the challenge response payload of a step statement
// by ca attesting key on the YubiKey serial, with key's signature of
// keyAuth. The permanent identifier it names is serial in decimal.
func StepStatement(t testing.TB, ca *CA, serial int64, keyAuth string, key crypto.Signer) []byte {
	t.Helper()
	leaf := YubiKeyLeaf(t, ca, serial, key.Public())
	return Payload(t, AttObj(t, deviceattest.FormatStep, map[string]any{
		"alg": -7,
		"x5c": ca.Chain(leaf),
		"sig": MustCBOR(t, SignKeyAuth(t, key, keyAuth)),
	}))
}

// SignKeyAuth signs msg the way a step client does with the attested key:
// ECDSA with SHA-256 (SHA-384 on P-384), RSA PKCS #1 v1.5 with SHA-256,
// Ed25519 over the message itself.
func SignKeyAuth(t testing.TB, key crypto.Signer, msg string) []byte {
	t.Helper()
	var (
		digest []byte
		opts   crypto.SignerOpts
	)
	switch pub := key.Public().(type) {
	case ed25519.PublicKey:
		digest, opts = []byte(msg), crypto.Hash(0)
	case *ecdsa.PublicKey:
		if pub.Curve == elliptic.P384() {
			sum := sha512.Sum384([]byte(msg))
			digest, opts = sum[:], crypto.SHA384
			break
		}
		sum := sha256.Sum256([]byte(msg))
		digest, opts = sum[:], crypto.SHA256
	default:
		sum := sha256.Sum256([]byte(msg))
		digest, opts = sum[:], crypto.SHA256
	}
	sig, err := key.Sign(rand.Reader, digest, opts)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return sig
}
