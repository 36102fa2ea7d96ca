package jws

import (
	"encoding/json"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// keyChangeRules describe the inner JWS of a key change (RFC 8555,
// Section 7.3.5): signed by the new key, named by jwk, without a nonce.
var keyChangeRules = rules{
	name:       "inner JWS",
	algorithms: Algorithms,
	nonce:      nonceForbidden,
	key:        jwkOnly,
}

// keyChangePayload is the payload of the inner JWS of a key change.
type keyChangePayload struct {
	Account string          `json:"account"`
	OldKey  json.RawMessage `json:"oldKey"`
}

// VerifyKeyChange checks innerBody, the verified payload of a key change
// request (RFC 8555, Section 7.3.5), and returns the new account key. The
// caller has verified the outer JWS with the current account key oldKey;
// outerURL is the outer url header and accountURL the account's URL (its
// kid).
//
// The inner JWS must be flattened, carry the new key as jwk and no nonce,
// have url equal to outerURL, and verify with its own jwk (catalogue C1).
// Its payload must name accountURL as "account" and oldKey as "oldKey"
// (catalogue C2). The new key must pass [CheckKey] and differ from the old.
// Refusals are malformed, except badSignatureAlgorithm and badPublicKey for
// the new key. Whether the new key already belongs to another account is for
// the caller to check.
func VerifyKeyChange(
	innerBody []byte,
	outerURL, accountURL string,
	oldKey *jose.JSONWebKey,
) (*jose.JSONWebKey, error) {
	// 1. Parse the inner JWS; this also checks the new key.
	inner, err := parse(innerBody, keyChangeRules)
	if err != nil {
		return nil, err
	}
	if inner.Protected.URL != outerURL {
		return nil, problem.New(problem.Malformed,
			"inner JWS url must equal the outer JWS url (RFC 8555, Section 7.3.5)")
	}

	// 2. The new key must have signed it (catalogue C1).
	payload, err := inner.Verify(inner.Protected.JWK)
	if err != nil {
		return nil, problem.New(problem.Malformed,
			"inner JWS does not verify with its embedded jwk")
	}

	// 3. The payload names this account and its current key (catalogue C2).
	var body keyChangePayload
	if err := DecodePayload(payload, &body); err != nil {
		return nil, err
	}
	if body.Account != accountURL {
		return nil, problem.New(problem.Malformed,
			"inner JWS account does not match the account that signed the request")
	}
	if err := checkOldKey(body.OldKey, oldKey); err != nil {
		return nil, err
	}

	// 4. Rolling over to the same key is a client mistake.
	same, err := sameKey(inner.Protected.JWK, oldKey)
	if err != nil {
		return nil, err
	}
	if same {
		return nil, problem.New(problem.Malformed, "new key is the same as the current key")
	}
	return inner.Protected.JWK, nil
}

// checkOldKey compares the oldKey member with the current account key by
// thumbprint. The current key is not put through [CheckKey] again, so that a
// key accepted under an older policy can still be replaced.
func checkOldKey(raw json.RawMessage, current *jose.JSONWebKey) error {
	if len(raw) == 0 {
		return problem.New(problem.Malformed, "inner JWS payload has no oldKey")
	}
	claimed, err := parseJWK(raw, false, "oldKey")
	if err != nil {
		return problem.New(problem.Malformed, "inner JWS oldKey is not a valid public key")
	}
	same, err := sameKey(claimed, current)
	if err != nil || !same {
		return problem.New(problem.Malformed,
			"inner JWS oldKey does not match the current account key")
	}
	return nil
}
