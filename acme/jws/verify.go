package jws

import (
	"errors"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// Verify checks the signature of r with key, the embedded jwk or the
// account key found by kid, and returns the payload ("" for POST-as-GET).
//
// The algorithm must fit the key (catalogue A2): RS256 or PS256 for RSA,
// ES256 for P-256, ES384 for P-384, ES512 for P-521, EdDSA for Ed25519; a
// jwk "alg" member must equal the header's. A mismatch, a private or
// symmetric key, or a bad signature is refused with malformed. Verify does
// not apply [CheckKey]: [Parse] did so for an embedded jwk, and account keys
// were checked when registered, so a stricter policy later does not lock
// their holders out of key change.
func (r *Request) Verify(key *jose.JSONWebKey) ([]byte, error) {
	if r == nil || r.sig == nil {
		return nil, errors.New("jws: Verify called on a request that Parse did not return")
	}
	if key == nil || key.Key == nil {
		return nil, errors.New("jws: Verify called without a key")
	}

	// 1. The algorithm must be the one the key is for.
	if !algorithmFits(r.Protected.Algorithm, key.Key) {
		return nil, problem.New(problem.Malformed,
			"JWS algorithm %q does not match the key type", r.Protected.Algorithm)
	}
	if key.Algorithm != "" && key.Algorithm != r.Protected.Algorithm {
		return nil, problem.New(problem.Malformed,
			"JWS algorithm %q does not match the key's alg %q",
			r.Protected.Algorithm, clip(key.Algorithm))
	}

	// 2. The signature (RFC 8555, Section 6.2).
	payload, err := r.sig.Verify(key)
	if err != nil {
		return nil, problem.New(problem.Malformed, "JWS signature is invalid")
	}
	return payload, nil
}
