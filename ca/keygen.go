package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"io"
)

// KeyAlgorithm names a key type and size for CA keys. The values are the
// strings used in configuration files and command-line flags.
type KeyAlgorithm string

// Supported key algorithms. The zero value means [ECDSAP256].
const (
	ECDSAP256 KeyAlgorithm = "ecdsa-p256"
	ECDSAP384 KeyAlgorithm = "ecdsa-p384"
	RSA3072   KeyAlgorithm = "rsa-3072"
	RSA4096   KeyAlgorithm = "rsa-4096"
)

// DefaultKeyAlgorithm is used when a [KeyAlgorithm] is empty.
const DefaultKeyAlgorithm = ECDSAP256

// KeyAlgorithms lists every supported [KeyAlgorithm], default first.
func KeyAlgorithms() []KeyAlgorithm {
	return []KeyAlgorithm{ECDSAP256, ECDSAP384, RSA3072, RSA4096}
}

// ParseKeyAlgorithm returns the [KeyAlgorithm] named s. The empty string
// yields [DefaultKeyAlgorithm]; an unknown name yields an error wrapping
// [ErrUnknownKeyAlgorithm].
func ParseKeyAlgorithm(s string) (KeyAlgorithm, error) {
	if s == "" {
		return DefaultKeyAlgorithm, nil
	}
	for _, alg := range KeyAlgorithms() {
		if string(alg) == s {
			return alg, nil
		}
	}
	return "", fmt.Errorf("parsing key algorithm %q: %w", s, ErrUnknownKeyAlgorithm)
}

// GenerateKey creates a new private key of type alg (empty means
// [DefaultKeyAlgorithm]) using rand. Note that since Go 1.26 the standard
// library may ignore rand for key generation and use its own secure source.
func GenerateKey(alg KeyAlgorithm, rand io.Reader) (crypto.Signer, error) {
	var (
		key crypto.Signer
		err error
	)
	switch alg {
	case ECDSAP256, "":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand)
	case ECDSAP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand)
	case RSA3072:
		key, err = rsa.GenerateKey(rand, 3072)
	case RSA4096:
		key, err = rsa.GenerateKey(rand, 4096)
	default:
		return nil, fmt.Errorf("generating key %q: %w", alg, ErrUnknownKeyAlgorithm)
	}
	if err != nil {
		return nil, fmt.Errorf("generating %s key: %w", alg, err)
	}
	return key, nil
}
