// Package attesttest builds device attestation statements that
// [deviceattest.Validator] accepts, for tests of the validator and of the
// ACME flow around it: test certificate authorities standing in for a
// vendor's attestation PKI, and apple and step statements bound to a key
// authorization.
//
// The statements are payloads of a device-attest-01 challenge response,
// {"attObj": base64url(CBOR attestation object)}
// (draft-ietf-acme-device-attest-09, Section 5). Nothing here is meant for
// production use: keys are generated without care for their storage.
package attesttest
