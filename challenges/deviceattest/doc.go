// Package deviceattest validates device-attest-01 challenges
// (draft-ietf-acme-device-attest-09): the client answers with
// {"attObj": base64url(CBOR)}, a WebAuthn-style attestation object
// {fmt, attStmt, authData?} in which a hardware vendor's certificate chain
// vouches for a key held by a device. The validator checks the statement
// against the trust anchors configured for its format, checks that it was
// made for this challenge, and checks that it names the device in the
// order. It returns the attested public key: the only key the certificate
// may then certify.
//
// The package does no I/O. The state machine decides which identifiers may
// use the challenge, stores results and problems, and enforces the key
// binding at finalize (see below).
//
// # Formats
//
//   - apple (Apple managed device attestation): x5c chains to Roots.Apple.
//     The nonce extension (1.2.840.113635.100.8.11.1) must equal
//     SHA-256(keyAuthorization), or SHA-256(token) with
//     Options.AppleTokenNonce. The attested key is the leaf's.
//   - tpm (WebAuthn Level 2, Section 8.3): x5c is the AK certificate chain
//     to Roots.TPM. The AK signs certInfo, a TPMS_ATTEST from TPM2_Certify
//     whose qualifying data is SHA-256(keyAuthorization) and whose certified
//     Name is that of pubArea. The attested key is pubArea's, which must be
//     a fixedTPM, fixedParent, sensitiveDataOrigin signing key.
//   - step (YubiKey PIV attestation as step clients send it): x5c is the
//     slot attestation certificate and the device's f9 certificate, chaining
//     to Roots.Step. sig, a CBOR byte string inside the attStmt byte
//     string, is the attested key's signature over the key authorization
//     (ECDSA P-256/SHA-256, P-384/SHA-384, RSA PKCS #1 v1.5/SHA-256,
//     Ed25519). The attested key is the leaf's.
//
// # Identifier rules
//
// Identifier values are compared octet for octet, never normalised
// (draft-ietf-acme-device-attest-09, Sections 3.2 and 4.2).
//
//   - permanent-identifier without an assigner: for apple, the serial
//     number (1.2.840.113635.100.8.9.1) or the UDID
//     (1.2.840.113635.100.8.9.2) extension; for step, the YubiKey serial
//     (1.3.6.1.4.1.41482.3.7) in decimal; for tpm,
//     the identifierValue of a PermanentIdentifier otherName (RFC 4043) in
//     the AK certificate's subjectAltName, whatever its assigner.
//   - permanent-identifier with an assigner ("value/1.2.3"): tpm only; the
//     PermanentIdentifier must carry that assigner. apple and step attest
//     no assigner, so such a value never matches them.
//   - hardware-module ("serial/1.2.3"): tpm only; a HardwareModuleName
//     otherName (RFC 4108) in the AK certificate's subjectAltName with that
//     hwType and hwSerialNum.
//
// The subject of the AK certificate and other SAN forms are not consulted.
// An AK certificate without a matching name fails.
//
// # Errors
//
// A payload that is not a JSON object with one string attObj, or that is
// over [MaxPayloadSize], is [challenges.KindMalformed]. Every fault in the
// attestation itself (encoding, chain, signature, binding, format not
// enabled or unknown) is [KindBadAttestationStatement]. A valid attestation
// for another device is [challenges.KindRejectedIdentifier].
//
// # What the state machine must do
//
//   - Accept identifier types permanent-identifier and hardware-module at
//     newOrder, checking values with [ParsePermanentIdentifier] and
//     [ParseHardwareModule] and refusing bad ones as malformed
//     (draft-ietf-acme-device-attest-09, Sections 3.1 and 4.1), and offer
//     only device-attest-01 for them. Never offer device-attest-01 for dns
//     or ip identifiers.
//   - Pass the challenge's token, the key authorization built from the
//     current account key, the identifier and the raw payload in the
//     [challenges.Request]; treat a failure as the challenge's problem and
//     set the challenge invalid (draft-ietf-acme-device-attest-09,
//     Section 5).
//   - Keep the record's first answer ([AnswerPrefix] + digest) on the
//     authorization. At finalize, compute [KeyAnswer] of the CSR's public
//     key and refuse the order with badCSR unless it equals the answer of
//     every device-attest-01 authorization of the order.
//   - Decide whether the CSR must, may or must not carry the identifiers
//     as PermanentIdentifier or HardwareModuleName SANs
//     (draft-ietf-acme-device-attest-09, Section 3.2 lets clients omit them).
//
// # Choices and divergences
//
//   - A valid attestation of another device is rejectedIdentifier, while
//     draft-ietf-acme-device-attest-09, Section 5 asks for
//     badAttestationStatement on any failed step. The state machine can
//     satisfy both by returning badAttestationStatement with a
//     rejectedIdentifier subproblem for the identifier.
//   - WebAuthn verification (draft-ietf-acme-device-attest-09, Section 5,
//     step 1) is reduced to what applies without authData, which is
//     ignored: there is no rpIdHash, credential ID or COSE key to compare.
//   - tpm: extraData is always SHA-256(keyAuthorization), not the alg's
//     hash of it; SHA-1 (alg -65535, nameAlg SHA-1) is refused; of the AK
//     certificate requirements of WebAuthn Level 2, Section 8.3.1 only
//     version 3, not a CA and the tcg-kp-AIKCertificate EKU are enforced
//     (no empty-subject or TPM-vendor SAN requirement). sig may be a
//     TPMT_SIGNATURE or a bare signature.
//   - tpm: the AK must be a restricted signing key, or it could sign a
//     forged TPMS_ATTEST. Nothing in the statement proves that; the CA
//     behind Roots.TPM must certify only restricted AKs (for example after
//     credential activation against the EK).
//   - apple: the nonce is required (a missing one fails) and by default is
//     SHA-256 of the key authorization, not of the token.
//   - Attestation certificates are not checked for revocation.
package deviceattest
