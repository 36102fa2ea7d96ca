package jws

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// EABAlgorithms lists the MAC algorithms accepted for an external account
// binding (RFC 8555, Section 7.3.4). The caller must not modify it.
var EABAlgorithms = []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512}

// ErrUnknownKeyID is returned, possibly wrapped, by the lookup function of
// [VerifyExternalAccountBinding] when no external account key has that id.
var ErrUnknownKeyID = errors.New("jws: unknown external account key id")

// eabRules describe an external account binding JWS: MAC-signed, named by
// kid, without a nonce (RFC 8555, Section 7.3.4).
var eabRules = rules{
	name:       "external account binding",
	algorithms: EABAlgorithms,
	nonce:      nonceForbidden,
	key:        kidOnly,
}

// VerifyExternalAccountBinding checks eab, the externalAccountBinding member
// of a newAccount payload (RFC 8555, Section 7.3.4), and returns its key id.
// outerURL is the url header of the outer JWS and accountKey the jwk that
// signed it.
//
// The binding must be a flattened JWS with alg HS256, HS384 or HS512 (else
// badSignatureAlgorithm), a kid, no jwk, no nonce and url equal to outerURL
// (else malformed). lookup returns the MAC key for the kid; it returns
// [ErrUnknownKeyID] when there is none, which like an empty key, a MAC that
// does not verify, or a payload other than accountKey gives unauthorized.
// Any other lookup error is returned wrapped, for the caller to treat as an
// internal failure. Whether the key id may still be used (single use,
// directory) is decided by lookup or by the caller.
func VerifyExternalAccountBinding(
	eab json.RawMessage,
	outerURL string,
	accountKey *jose.JSONWebKey,
	lookup func(kid string) (macKey []byte, err error),
) (string, error) {
	// 1. Shape and header (RFC 8555, Section 7.3.4).
	req, err := parse(eab, eabRules)
	if err != nil {
		return "", err
	}
	kid := req.Protected.KeyID
	if req.Protected.URL != outerURL {
		return "", problem.New(problem.Malformed,
			"external account binding url must equal the outer JWS url")
	}

	// 2. The MAC key, then the MAC.
	macKey, err := lookup(kid)
	switch {
	case errors.Is(err, ErrUnknownKeyID):
		return "", problem.New(problem.Unauthorized, "external account key id is unknown")
	case err != nil:
		return "", fmt.Errorf("looking up external account key: %w", err)
	case len(macKey) == 0:
		return "", problem.New(problem.Unauthorized, "external account key id is unknown")
	}
	payload, err := req.sig.Verify(macKey)
	if err != nil {
		return "", problem.New(problem.Unauthorized,
			"external account binding MAC does not verify")
	}

	// 3. The binding must be for the key that signed the outer JWS.
	bound, err := parseJWK(payload, false, "external account binding payload")
	if err != nil {
		return "", problem.New(problem.Malformed,
			"external account binding payload is not a public JWK")
	}
	same, err := sameKey(bound, accountKey)
	if err != nil || !same {
		return "", problem.New(problem.Unauthorized,
			"external account binding is for another account key")
	}
	return kid, nil
}
