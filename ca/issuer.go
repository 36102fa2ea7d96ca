package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// File names inside the root directory and the data directory.
const (
	// RootCertFile holds the root certificate, in the root directory and,
	// as the trust anchor for clients, in the data directory.
	RootCertFile = "root.pem"
	// RootKeyFile holds the encrypted root key; only the root directory
	// has it.
	RootKeyFile = "root-key.pem"
	// IntermediateCertFile holds the online intermediate certificate.
	IntermediateCertFile = "intermediate.pem"
	// IntermediateKeyFile holds the encrypted intermediate key.
	IntermediateKeyFile = "intermediate-key.pem"
)

// pemTypeCertificate is the PEM label for a certificate, RFC 7468,
// Section 5.
const pemTypeCertificate = "CERTIFICATE"

// Issuer is the online intermediate CA: its certificate, its signer, and
// the root it chains to. It signs leaf certificates ([Issuer.Issue],
// [Issuer.IssueServerCertificate]) and CRLs ([Issuer.CreateCRL]).
//
// An Issuer is immutable after construction and safe for concurrent use as
// long as its Signer is (the standard library's keys are). Do not change
// the exported fields after [NewIssuer].
type Issuer struct {
	// Certificate is the intermediate certificate that signs.
	Certificate *x509.Certificate
	// Root is the trust anchor that Certificate chains to.
	Root *x509.Certificate
	// Signer holds the private key of Certificate. It may be a file key,
	// a PKCS #11 key or anything else implementing crypto.Signer.
	Signer crypto.Signer

	chainPEM []byte
}

// NewIssuer checks that cert is a CA certificate with a subject key
// identifier and the certSign key usage ([ErrNotCA]), that signer holds the
// key of cert ([ErrKeyMismatch]), and that root signed cert. It does not
// check validity dates: an expired issuer is refused at issuance time.
func NewIssuer(cert, root *x509.Certificate, signer crypto.Signer) (*Issuer, error) {
	if cert == nil || root == nil || signer == nil {
		return nil, fmt.Errorf("creating issuer: certificate, root and signer are all required")
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("creating issuer %q: %w", cert.Subject, ErrNotCA)
	}
	if len(cert.SubjectKeyId) == 0 {
		return nil, fmt.Errorf("creating issuer %q: %w: no subject key identifier",
			cert.Subject, ErrNotCA)
	}
	if err := checkKeyMatches(cert, signer); err != nil {
		return nil, fmt.Errorf("creating issuer %q: %w", cert.Subject, err)
	}
	if err := cert.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("creating issuer %q: checking signature by root %q: %w",
			cert.Subject, root.Subject, err)
	}
	return &Issuer{Certificate: cert, Root: root, Signer: signer, chainPEM: certPEM(cert)}, nil
}

// LoadIssuer loads the online CA from dataDir: [IntermediateCertFile],
// [IntermediateKeyFile] (decrypted with passphrase) and [RootCertFile]. It
// reads nothing else, and in particular never the offline root directory
// or root key. Errors from [LoadEncryptedKey] and [NewIssuer] are wrapped.
func LoadIssuer(dataDir string, passphrase []byte) (*Issuer, error) {
	cert, err := ReadCertificateFile(filepath.Join(dataDir, IntermediateCertFile))
	if err != nil {
		return nil, fmt.Errorf("loading issuer: %w", err)
	}
	root, err := ReadCertificateFile(filepath.Join(dataDir, RootCertFile))
	if err != nil {
		return nil, fmt.Errorf("loading issuer: %w", err)
	}
	key, err := LoadEncryptedKey(filepath.Join(dataDir, IntermediateKeyFile), passphrase)
	if err != nil {
		return nil, fmt.Errorf("loading issuer: %w", err)
	}
	issuer, err := NewIssuer(cert, root, key)
	if err != nil {
		return nil, fmt.Errorf("loading issuer: %w", err)
	}
	return issuer, nil
}

// ChainPEM returns the PEM of the intermediate certificate: the chain a
// caller appends after the leaf when serving a certificate (RFC 8555,
// Section 7.4.2). The root is not included; clients must already trust
// it. The returned slice is a copy.
func (i *Issuer) ChainPEM() []byte {
	return bytes.Clone(i.chainPEM)
}

// KeyID returns a copy of the intermediate's subject key identifier, which
// is also the authority key identifier of every certificate it issues.
func (i *Issuer) KeyID() []byte {
	return bytes.Clone(i.Certificate.SubjectKeyId)
}

// LogValue describes the issuer for logs by subject and key identifier,
// never by key material.
func (i *Issuer) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("subject", i.Certificate.Subject.String()),
		slog.String("key_id", hex.EncodeToString(i.Certificate.SubjectKeyId)),
		slog.Time("not_after", i.Certificate.NotAfter),
	)
}

// ReadCertificateFile reads the first PEM certificate in path.
func ReadCertificateFile(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != pemTypeCertificate {
		return nil, fmt.Errorf("reading certificate %s: no %q PEM block", path,
			pemTypeCertificate)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate %s: %w", path, err)
	}
	return cert, nil
}

// certPEM encodes cert as a PEM "CERTIFICATE" block.
func certPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificate, Bytes: cert.Raw})
}

// publicKeyEqual is implemented by every public key type of the standard
// library.
type publicKeyEqual interface {
	Equal(crypto.PublicKey) bool
}

// checkKeyMatches reports [ErrKeyMismatch] unless signer's public key is
// the one certified by cert.
func checkKeyMatches(cert *x509.Certificate, signer crypto.Signer) error {
	pub, ok := signer.Public().(publicKeyEqual)
	if !ok || !pub.Equal(cert.PublicKey) {
		return ErrKeyMismatch
	}
	return nil
}
