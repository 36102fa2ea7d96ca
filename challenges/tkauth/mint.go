package tkauth

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"
)

// registeredClaims are set by [Mint] itself and cannot be passed in claims.
var registeredClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}

// Mint signs a token that a [Validator] accepts from an [Issuer] named
// issuer with audience: iss, sub (omitted when empty), aud, iat now, exp
// now+ttl and a random 128-bit jti, plus claims (for example "cnf" with
// {"jkt": thumbprint}, or the claims that rules read). kid, when not empty,
// goes in the header. The algorithm follows the key: ES256, ES384 or ES512
// for ECDSA P-256, P-384 or P-521, EdDSA for Ed25519, RS256 for RSA. key may
// be any crypto.Signer, an HSM's included.
//
// It returns an error for an empty issuer or audience, a ttl that is not
// positive, a claim that repeats a registered one, an unsupported key, or a
// signing failure. It is meant for "acmegate token mint" and for tests.
func Mint(
	key crypto.Signer,
	kid, issuer, audience, subject string,
	claims map[string]any,
	ttl time.Duration,
	now time.Time,
) (string, error) {
	switch {
	case issuer == "" || audience == "":
		return "", errors.New("tkauth: minting a token needs an issuer and an audience")
	case ttl <= 0:
		return "", fmt.Errorf("tkauth: minting a token with lifetime %s", ttl)
	}
	for _, name := range registeredClaims {
		if _, ok := claims[name]; ok {
			return "", fmt.Errorf("tkauth: claim %q is set by Mint", name)
		}
	}

	signer, err := newSigner(key, kid)
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("tkauth: making a jti: %w", err)
	}
	registered := jwt.Claims{
		Issuer:   issuer,
		Subject:  subject,
		Audience: jwt.Audience{audience},
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(ttl)),
		ID:       base64.RawURLEncoding.EncodeToString(jti),
	}
	token, err := jwt.Signed(signer).Claims(registered).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("tkauth: signing a token: %w", err)
	}
	return token, nil
}

// newSigner returns a JWS signer for key with the algorithm its type calls
// for and kid in the header.
func newSigner(key crypto.Signer, kid string) (jose.Signer, error) {
	opaque := cryptosigner.Opaque(key)
	algs := opaque.Algs()
	if len(algs) == 0 {
		return nil, fmt.Errorf("tkauth: unsupported signing key type %T", key.Public())
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	// The first algorithm go-jose offers is ES256, ES384, ES512, EdDSA or
	// RS256, by key type.
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: algs[0], Key: opaque}, opts)
	if err != nil {
		return nil, fmt.Errorf("tkauth: making a signer: %w", err)
	}
	return signer, nil
}
