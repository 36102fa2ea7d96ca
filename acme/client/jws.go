package client

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// ExternalAccountBinding binds a new account to a key the CA handed out
// (RFC 8555, Section 7.3.4).
type ExternalAccountBinding struct {
	// KeyID is the key identifier the CA gave with the key.
	KeyID string
	// MACKey is the HMAC key itself, decoded (see [DecodeMACKey]).
	MACKey []byte
}

// String hides the MAC key, so that a binding printed or logged by
// mistake reveals nothing.
func (b ExternalAccountBinding) String() string {
	return fmt.Sprintf("ExternalAccountBinding{KeyID: %q, MACKey: [redacted]}", b.KeyID)
}

// DecodeMACKey decodes an EAB MAC key as CAs print it: base64url, with or
// without padding. It refuses an empty key.
func DecodeMACKey(encoded string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(encoded), "="))
	if err != nil {
		return nil, fmt.Errorf("client: the EAB MAC key is not base64url: %w", err)
	}
	if len(raw) == 0 {
		return nil, errors.New("client: the EAB MAC key is empty")
	}
	return raw, nil
}

// signatureAlgorithm returns the JWS algorithm for an account key and the
// key in the form go-jose signs with.
func signatureAlgorithm(key crypto.Signer) (jose.SignatureAlgorithm, any, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, k, nil
		case elliptic.P384():
			return jose.ES384, k, nil
		case elliptic.P521():
			return jose.ES512, k, nil
		}
		return "", nil, fmt.Errorf("client: unsupported ECDSA curve %s", k.Curve.Params().Name)
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return "", nil, fmt.Errorf("client: RSA account key of %d bits, want 2048 or more",
				k.N.BitLen())
		}
		return jose.RS256, k, nil
	case ed25519.PrivateKey:
		return jose.EdDSA, k, nil
	}
	// Any other signer (an HSM, an agent) goes through go-jose's opaque
	// signer, which picks the algorithm from the public key.
	opaque := cryptosigner.Opaque(key)
	algs := opaque.Algs()
	if len(algs) == 0 {
		return "", nil, fmt.Errorf("client: unsupported account key type %T", key.Public())
	}
	return algs[0], opaque, nil
}

// signRequest signs payload for url with the account key: with kid when
// it is not empty, with the embedded jwk otherwise (RFC 8555,
// Section 6.2). A nil payload is signed as the empty payload of
// POST-as-GET (RFC 8555, Section 6.3).
func (c *Client) signRequest(url, nonce, kid string, payload []byte) ([]byte, error) {
	opts := (&jose.SignerOptions{}).WithHeader("url", url).WithHeader("nonce", nonce)
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	} else {
		opts.EmbedJWK = true
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: c.alg, Key: c.signingKey}, opts)
	if err != nil {
		return nil, fmt.Errorf("client: making a %s signer: %w", c.alg, err)
	}
	if payload == nil {
		// go-jose leaves out a nil payload; the JWS must carry an empty one.
		payload = []byte{}
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("client: signing the request to %s: %w", url, err)
	}
	return []byte(obj.FullSerialize()), nil
}

// signEAB returns the externalAccountBinding member of a new-account
// payload: a JWS over the account's public JWK, HMAC-signed with the EAB
// key and carrying the EAB key ID and the new-account URL (RFC 8555,
// Section 7.3.4).
func (c *Client) signEAB(b *ExternalAccountBinding, newAccountURL string) (any, error) {
	if b.KeyID == "" || len(b.MACKey) == 0 {
		return nil, errors.New("client: an external account binding needs a key ID and a MAC key")
	}
	jwk, err := c.jwk.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("client: encoding the account JWK: %w", err)
	}
	opts := (&jose.SignerOptions{}).
		WithHeader(jose.HeaderKey("kid"), b.KeyID).
		WithHeader("url", newAccountURL)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: b.MACKey}, opts)
	if err != nil {
		return nil, fmt.Errorf("client: making the EAB signer: %w", err)
	}
	obj, err := signer.Sign(jwk)
	if err != nil {
		return nil, fmt.Errorf("client: signing the EAB: %w", err)
	}
	return json.RawMessage(obj.FullSerialize()), nil
}

// Thumbprint returns the base64url SHA-256 JWK thumbprint of the account
// key (RFC 7638; RFC 8555, Section 8.1).
func (c *Client) Thumbprint() string {
	return c.thumbprint
}

// KeyAuthorization returns the key authorization of a challenge token:
// token "." thumbprint (RFC 8555, Section 8.1). http-01 serves it as is.
func (c *Client) KeyAuthorization(token string) string {
	return token + "." + c.thumbprint
}

// DNS01Value returns the TXT record value that answers a dns-01 challenge
// with token: the base64url SHA-256 digest of the key authorization
// (RFC 8555, Section 8.4). The record goes at "_acme-challenge." followed
// by the name, without any wildcard label.
func (c *Client) DNS01Value(token string) string {
	sum := sha256.Sum256([]byte(c.KeyAuthorization(token)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
