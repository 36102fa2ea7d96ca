package ca

import "errors"

// Sentinel errors returned (wrapped) by this package. Test for them with
// [errors.Is].
var (
	// ErrBadPassphrase means an encrypted key file could not be decrypted:
	// the passphrase is wrong or the file is damaged. The two cannot be told
	// apart without a MAC, so the message names both.
	ErrBadPassphrase = errors.New("ca: wrong passphrase or corrupt key file")

	// ErrEmptyPassphrase means a key file was to be written or read with an
	// empty passphrase. Private keys are never stored in the clear.
	ErrEmptyPassphrase = errors.New("ca: empty passphrase")

	// ErrExists means a file that would be written already exists. Keys and
	// certificates are never overwritten.
	ErrExists = errors.New("ca: file already exists")

	// ErrUnknownKeyAlgorithm means a [KeyAlgorithm] name is not one of the
	// supported constants.
	ErrUnknownKeyAlgorithm = errors.New("ca: unknown key algorithm")

	// ErrUnsupportedKey means a private or public key has a type or size that
	// this package does not sign with or issue for.
	ErrUnsupportedKey = errors.New("ca: unsupported key")

	// ErrKeyMismatch means a private key does not belong to the certificate
	// it was paired with.
	ErrKeyMismatch = errors.New("ca: private key does not match certificate")

	// ErrNotCA means a certificate given as an issuer cannot sign
	// certificates (no CA basic constraint or no certSign key usage).
	ErrNotCA = errors.New("ca: certificate is not a CA certificate")

	// ErrBadCSR means the certificate signing request is missing or its
	// self-signature does not verify.
	ErrBadCSR = errors.New("ca: invalid certificate signing request")

	// ErrNoIdentifiers means an issuance request names no DNS name and no IP
	// address, or names an empty one.
	ErrNoIdentifiers = errors.New("ca: no identifiers to certify")

	// ErrNameConstraint means a requested identifier lies outside the
	// issuer's name constraints; a certificate for it would not verify.
	ErrNameConstraint = errors.New("ca: identifier outside the issuer's name constraints")

	// ErrLifetime means the requested validity period is longer than the
	// profile's MaxLifetime.
	ErrLifetime = errors.New("ca: requested lifetime exceeds the profile maximum")

	// ErrValidity means a validity period is malformed: a requested
	// notAfter that is not after notBefore and now, or a CA validity
	// shorter than one day.
	ErrValidity = errors.New("ca: invalid validity period")

	// ErrOutlivesIssuer means a certificate would still be valid after its
	// issuer's certificate expires, or the issuer is not valid now.
	ErrOutlivesIssuer = errors.New("ca: certificate would outlive its issuer")

	// ErrBadSerial means a serial number is missing, not positive, or longer
	// than 20 octets (RFC 5280, Section 4.1.2.2).
	ErrBadSerial = errors.New("ca: invalid serial number")

	// ErrMissingTime means a required current time was the zero value. This
	// package never reads the system clock itself.
	ErrMissingTime = errors.New("ca: current time not set")

	// ErrBadCRL means CRL parameters are invalid: a missing or oversized
	// number, nextUpdate not after thisUpdate, or an unknown reason code.
	ErrBadCRL = errors.New("ca: invalid CRL parameters")

	// ErrBadSignature means a certificate came back from the signer not as
	// requested: its signature does not verify with the intermediate (a
	// faulty HSM, an RSA-CRT fault), or its key, serial or names differ.
	// It is never returned to anyone.
	ErrBadSignature = errors.New("ca: the signed certificate failed its check")
)
