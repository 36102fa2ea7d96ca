// Package jws turns the body of an ACME POST into a verified request
// (RFC 8555, Section 6.2).
//
// [Parse] accepts only the flattened JSON serialization with a single,
// fully protected signature, and refuses hostile framing (compact
// serialization, several signatures, unprotected headers, critical or
// unencoded-payload extensions, duplicate or case-variant members) before
// go-jose sees the body. [Request.Verify] then checks the signature with the
// embedded key or the account key and returns the payload. [CheckKey]
// states which public keys acmegate accepts, [Thumbprint] names a key, and
// [DecodePayload] decodes a payload without the case-insensitive and
// last-duplicate-wins habits of encoding/json.
//
// Two requests carry a JWS inside their payload: a key change
// ([VerifyKeyChange], RFC 8555, Section 7.3.5) and a new account with an
// external account binding ([VerifyExternalAccountBinding], RFC 8555,
// Section 7.3.4).
//
// What this package leaves to its caller: checking the nonce against the
// nonce store, comparing the url header with the URL the request reached
// (built from the configured base URL), choosing between jwk and kid for an
// endpoint, and loading the account key for a kid. Content type and body size
// belong to the HTTP layer.
//
// Every refusal is a *problem.Error whose type is the one RFC 8555 asks for;
// details never contain key material.
package jws
