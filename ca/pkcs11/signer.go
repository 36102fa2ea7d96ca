package pkcs11

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"

	"github.com/ThalesGroup/crypto11"

	"github.com/acmegate/acmegate/ca"
)

var _ crypto.Signer = (*Signer)(nil)

var _ slog.LogValuer = (*Signer)(nil)

// Signer is a private key held in a [Token]. It implements crypto.Signer,
// so it can be given to [ca.NewIssuer] like a file key. Obtain one with
// [Token.GenerateKey] or [Token.Signer].
//
// A Signer is safe for concurrent use. It stops working when its Token is
// closed: Sign then returns [ErrClosed].
type Signer struct {
	token *Token
	key   crypto11.Signer
	label string
	alg   ca.KeyAlgorithm
}

// Public returns the public key: *ecdsa.PublicKey or *rsa.PublicKey. It is
// cached and keeps working after the token is closed.
func (s *Signer) Public() crypto.PublicKey {
	return s.key.Public()
}

// Sign signs digest inside the token. rand is ignored: the token supplies
// its own randomness. ECDSA signatures are ASN.1 DER, as crypto/ecdsa
// makes them. For RSA, opts may be *rsa.PSSOptions with
// rsa.PSSSaltLengthEqualsHash or an explicit salt length (not
// rsa.PSSSaltLengthAuto); any other opts means PKCS #1 v1.5.
func (s *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.token.mu.RLock()
	defer s.token.mu.RUnlock()
	if s.token.closed {
		return nil, fmt.Errorf("signing with key %q: %w", s.label, ErrClosed)
	}
	sig, err := s.key.Sign(rand, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("signing with key %q: %w", s.label, err)
	}
	return sig, nil
}

// Delete removes the key pair from the token. It is for undoing a key
// that was generated for a ceremony that then failed; a key that signed
// anything must stay, so that what it signed can be accounted for.
func (s *Signer) Delete() error {
	s.token.mu.RLock()
	defer s.token.mu.RUnlock()
	if s.token.closed {
		return fmt.Errorf("deleting key %q: %w", s.label, ErrClosed)
	}
	if err := s.key.Delete(); err != nil {
		return fmt.Errorf("deleting key %q: %w", s.label, err)
	}
	return nil
}

// Label returns the key's CKA_LABEL.
func (s *Signer) Label() string {
	return s.label
}

// Algorithm returns the key's type and size.
func (s *Signer) Algorithm() ca.KeyAlgorithm {
	return s.alg
}

// LogValue describes the key by token, label and algorithm.
func (s *Signer) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("token", s.token.label),
		slog.String("key_label", s.label),
		slog.String("algorithm", string(s.alg)),
	)
}

// algorithmOf maps a public key to its [ca.KeyAlgorithm], or reports
// [ca.ErrUnsupportedKey] for keys outside [ca.KeyAlgorithms].
func algorithmOf(pub crypto.PublicKey) (ca.KeyAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ca.ECDSAP256, nil
		case elliptic.P384():
			return ca.ECDSAP384, nil
		}
		return "", fmt.Errorf("%w: ECDSA curve %s", ca.ErrUnsupportedKey, k.Curve.Params().Name)
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 3072:
			return ca.RSA3072, nil
		case 4096:
			return ca.RSA4096, nil
		}
		return "", fmt.Errorf("%w: RSA key of %d bits", ca.ErrUnsupportedKey, k.N.BitLen())
	}
	return "", fmt.Errorf("%w: %T", ca.ErrUnsupportedKey, pub)
}
