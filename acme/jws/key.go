package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// RSA key sizes accepted by [CheckKey]. The upper bound also caps the cost of
// verifying a signature.
const (
	minRSABits = 2048
	maxRSABits = 4096
)

// privateMembers are the JWK members that carry private or symmetric key
// material (RFC 7518, Sections 6.2.2, 6.3.2 and 6.4; RFC 8037, Section 2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// certificateMembers make go-jose parse a certificate chain; ACME keys never
// need one.
var certificateMembers = []string{"x5c", "x5u", "x5t", "x5t#S256"}

// CheckKey reports whether key is a public key acmegate accepts for an
// account or an embedded jwk (catalogue A8): RSA of 2048 to 4096 bits with
// exponent 65537, ECDSA on P-256, P-384 or P-521 with a valid point, or
// Ed25519. Anything else, including private and symmetric keys, is refused
// with badPublicKey. Sizes are checked before anything costly.
func CheckKey(key *jose.JSONWebKey) error {
	if key == nil || key.Key == nil {
		return problem.New(problem.BadPublicKey, "no public key was given")
	}
	switch k := key.Key.(type) {
	case *rsa.PublicKey:
		return checkRSA(k)
	case *ecdsa.PublicKey:
		return checkEC(k)
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return problem.New(problem.BadPublicKey, "Ed25519 key has a wrong length")
		}
		return nil
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey, []byte:
		return problem.New(problem.BadPublicKey,
			"key contains private or symmetric key material")
	default:
		return problem.New(problem.BadPublicKey,
			"unsupported key type; use RSA, ECDSA P-256/P-384/P-521 or Ed25519")
	}
}

// checkRSA applies the RSA rules of [CheckKey]; BitLen is cheap, so a huge
// modulus costs nothing.
func checkRSA(k *rsa.PublicKey) error {
	if k.N == nil || k.N.Sign() <= 0 {
		return problem.New(problem.BadPublicKey, "RSA key has no modulus")
	}
	if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return problem.New(problem.BadPublicKey,
			"RSA key has %d bits; %d to %d are accepted", bits, minRSABits, maxRSABits)
	}
	if k.E != 65537 {
		return problem.New(problem.BadPublicKey, "RSA public exponent must be 65537")
	}
	if k.N.Bit(0) == 0 {
		return problem.New(problem.BadPublicKey, "RSA modulus must be odd")
	}
	return nil
}

// checkEC applies the ECDSA rules of [CheckKey]. Bytes refuses points off
// the curve and the point at infinity (CVE-2016-9121 was the invalid-curve
// attack on go-jose).
func checkEC(k *ecdsa.PublicKey) error {
	switch k.Curve {
	case elliptic.P256(), elliptic.P384(), elliptic.P521():
	default:
		return problem.New(problem.BadPublicKey,
			"ECDSA key must use P-256, P-384 or P-521")
	}
	if k.X == nil || k.Y == nil {
		return problem.New(problem.BadPublicKey, "ECDSA key has no point")
	}
	if _, err := k.Bytes(); err != nil {
		return problem.New(problem.BadPublicKey, "ECDSA key is not a valid point on its curve")
	}
	return nil
}

// Thumbprint returns the base64url SHA-256 JWK thumbprint of key
// (RFC 7638, Section 3), the name of a key in the store and in key
// authorizations (RFC 8555, Section 8.1). It fails with badPublicKey for key
// types go-jose cannot name.
func Thumbprint(key *jose.JSONWebKey) (string, error) {
	if key == nil || key.Key == nil {
		return "", problem.New(problem.BadPublicKey, "no public key was given")
	}
	sum, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", problem.New(problem.BadPublicKey, "key thumbprint cannot be computed")
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// sameKey reports whether a and b have the same thumbprint.
func sameKey(a, b *jose.JSONWebKey) (bool, error) {
	ta, err := Thumbprint(a)
	if err != nil {
		return false, err
	}
	tb, err := Thumbprint(b)
	if err != nil {
		return false, err
	}
	return ta == tb, nil
}

// parseJWK parses a JWK given by the client, refusing private and
// certificate members with badPublicKey. With check set the key must also
// pass [CheckKey]. what names the JWK in details.
func parseJWK(raw json.RawMessage, check bool, what string) (*jose.JSONWebKey, error) {
	if err := checkJSON(raw, headerType); err != nil {
		return nil, problem.New(problem.Malformed, "%s: %v", what, err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, problem.New(problem.Malformed, "%s is not a JSON object", what)
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return nil, problem.New(problem.BadPublicKey,
				"%s contains private or symmetric key material", what)
		}
	}
	for _, m := range certificateMembers {
		if _, ok := members[m]; ok {
			return nil, problem.New(problem.BadPublicKey,
				"%s must not carry certificates (%q)", what, m)
		}
	}

	if check {
		if err := checkRSASize(members); err != nil {
			return nil, err
		}
	}

	key := &jose.JSONWebKey{}
	if err := json.Unmarshal(raw, key); err != nil {
		return nil, problem.New(problem.BadPublicKey, "%s is not a valid public key", what)
	}
	if !check {
		return key, nil
	}
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	return key, nil
}

// checkRSASize refuses an RSA modulus of the wrong size before go-jose
// parses the key, so that the client learns the reason.
func checkRSASize(members map[string]json.RawMessage) error {
	var kty, n string
	if json.Unmarshal(members["kty"], &kty) != nil || kty != "RSA" ||
		json.Unmarshal(members["n"], &n) != nil {
		return nil // go-jose reports what is wrong
	}
	modulus, ok := decodeB64(n)
	if !ok {
		return nil
	}
	return checkRSA(&rsa.PublicKey{N: new(big.Int).SetBytes(modulus), E: 65537})
}

// algorithmFits reports whether alg may be used with key (catalogue A2):
// RS256 and PS256 with RSA, each ECDSA algorithm with its own curve, EdDSA
// with Ed25519. Private and symmetric keys fit nothing.
func algorithmFits(alg string, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg == string(jose.RS256) || alg == string(jose.PS256)
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return alg == string(jose.ES256)
		case elliptic.P384():
			return alg == string(jose.ES384)
		case elliptic.P521():
			return alg == string(jose.ES512)
		}
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}
