package tkauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/go-jose/go-jose/v4"
)

// maxJWKSSize bounds a JWKS file, in bytes.
const maxJWKSSize = 1 << 20

// minRSABits is the smallest RSA modulus accepted for a verification key.
const minRSABits = 2048

// LoadJWKSFile reads a JSON Web Key Set (RFC 7517, Section 5) from path, as
// published by a Kubernetes API server at /openid/v1/jwks or by an OpenID
// provider. It returns an error if the file cannot be read, is larger than
// 1 MiB, does not parse, holds no keys, or holds a key that is not a public
// signature key (a private or symmetric key, "use" other than "sig", RSA
// below 2048 bits, a type other than RSA, EC or Ed25519).
func LoadJWKSFile(path string) (*jose.JSONWebKeySet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tkauth: opening JWKS file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("tkauth: reading JWKS file %s: %w", path, err)
	}
	if len(data) > maxJWKSSize {
		return nil, fmt.Errorf("tkauth: JWKS file %s is larger than %d bytes", path, maxJWKSSize)
	}

	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("tkauth: parsing JWKS file %s: %w", path, err)
	}
	if err := checkKeys(&set); err != nil {
		return nil, fmt.Errorf("tkauth: JWKS file %s: %w", path, err)
	}
	return &set, nil
}

// checkKeys returns an error unless set holds at least one key and every key
// is a public signature key of a supported type and size.
func checkKeys(set *jose.JSONWebKeySet) error {
	if set == nil || len(set.Keys) == 0 {
		return errors.New("no keys")
	}
	for i, k := range set.Keys {
		if err := checkKey(k); err != nil {
			return fmt.Errorf("key %d (kid %q): %w", i, k.KeyID, err)
		}
	}
	return nil
}

func checkKey(k jose.JSONWebKey) error {
	if k.Use != "" && k.Use != "sig" {
		return fmt.Errorf("use is %q, not \"sig\"", k.Use)
	}
	if !k.IsPublic() || !k.Valid() {
		return errors.New("not a valid public key (a private or symmetric key has no place here)")
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		if key.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits, fewer than %d", key.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return fmt.Errorf("unsupported key type %T", k.Key)
	}
	return nil
}
