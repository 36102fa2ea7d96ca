package acmetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/acmegate/acmegate/ca"
)

var (
	pkiOnce    sync.Once
	sharedRoot *testRoot
	sharedCA   *ca.Issuer
	sharedErr  error
)

// testRoot is the process-wide test root with its key, kept to sign
// further intermediates for rotation tests.
type testRoot struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// testCA returns the process-wide test issuer, made on first use. Issuers
// hold no mutable state, so gateways may share one.
func testCA() (*ca.Issuer, error) {
	pkiOnce.Do(func() {
		sharedRoot, sharedErr = newTestRoot()
		if sharedErr == nil {
			sharedCA, sharedErr = sharedRoot.newIntermediate("acmetest Intermediate CA")
		}
	})
	return sharedCA, sharedErr
}

// rotatedCA returns a fresh intermediate under the shared test root, as
// an offline ceremony makes one for rotation.
func rotatedCA(commonName string) (*ca.Issuer, error) {
	if _, err := testCA(); err != nil {
		return nil, err
	}
	return sharedRoot.newIntermediate(commonName)
}

// newTestRoot makes a P-256 root valid from a day before Epoch for three
// years.
func newTestRoot() (*testRoot, error) {
	start := Epoch.Add(-24 * time.Hour)
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("acmetest: generating root key: %w", err)
	}
	rootTmpl := caTemplate("acmetest Root CA", start, 1, rootKey.Public())
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("acmetest: signing root: %w", err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, fmt.Errorf("acmetest: parsing root: %w", err)
	}
	return &testRoot{cert: root, key: rootKey}, nil
}

// newIntermediate makes a P-256 intermediate under r, valid as long as
// r, and checks it with ca.NewIssuer.
func (r *testRoot) newIntermediate(commonName string) (*ca.Issuer, error) {
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("acmetest: generating intermediate key: %w", err)
	}
	interTmpl := caTemplate(commonName, r.cert.NotBefore, 0, interKey.Public())
	interTmpl.MaxPathLenZero = true
	interTmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	interDER, err := x509.CreateCertificate(rand.Reader, interTmpl, r.cert, interKey.Public(), r.key)
	if err != nil {
		return nil, fmt.Errorf("acmetest: signing intermediate: %w", err)
	}
	inter, err := x509.ParseCertificate(interDER)
	if err != nil {
		return nil, fmt.Errorf("acmetest: parsing intermediate: %w", err)
	}
	return ca.NewIssuer(inter, r.cert, interKey)
}

func caTemplate(cn string, start time.Time, pathLen int, pub crypto.PublicKey) *x509.Certificate {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	ski := sha256.Sum256(der)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"acmetest"}, CommonName: cn},
		NotBefore:             start,
		NotAfter:              start.Add(3 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            pathLen,
		SubjectKeyId:          ski[:20],
	}
}
