// Package ca is acmegate's certificate authority: it creates the PKI,
// keeps the intermediate key, and signs leaf certificates and CRLs. It
// knows nothing of HTTP, ACME or the database; the ACME state machine
// decides what to issue and records it, then asks this package to sign.
//
// # Ceremony
//
// [RunCeremony] creates a two-level PKI. The root (self-signed, no path
// length constraint) and its encrypted key go to a root directory meant to
// be moved offline; the intermediate (path length 0, TLS extended key
// usages, optional critical name constraints) and its encrypted key go to
// the data directory, with a copy of the root certificate as the clients'
// trust anchor. Nothing is ever overwritten ([ErrExists]). Later,
// [NewIntermediate] signs a further intermediate with the root for
// rotation.
//
// # Keys
//
// [GenerateKey] makes ECDSA P-256 (the default), P-384, RSA-3072 or
// RSA-4096 keys ([KeyAlgorithm]). [WriteEncryptedKey] stores a key as PKCS
// #8 encrypted with PBES2 (PBKDF2-HMAC-SHA256, 600,000 rounds, and
// AES-256-CBC; RFC 8018 and RFC 5958), a format `openssl pkcs8` reads, in
// a file of mode 0600. [LoadEncryptedKey] reverses it and reports a wrong
// passphrase as [ErrBadPassphrase]. Passphrases come from files
// ([ReadPassphraseFile]), never from configuration text.
//
// # Issuing
//
// [LoadIssuer] loads the online [Issuer] from the data directory alone;
// it never reads the root directory. [NewIssuer] builds one around any
// crypto.Signer, such as a PKCS #11 key. [Issuer.Issue] signs a leaf for
// an [IssueRequest]: the names of the order (never those of the CSR), the
// CSR's key, a caller-allocated serial from [NewTimedSerial], and a [Profile]
// for validity, extended key usages and URLs. Leaves follow the subscriber
// profile of the CA/B Forum Baseline Requirements, Section 7.1.2.7, where
// it makes sense for a private CA. [Issuer.CreateCRL] signs CRLs, and
// [Issuer.IssueServerCertificate] gives the gateway its own TLS
// certificate.
//
// # Time and randomness
//
// Nothing here reads the clock: every operation takes the current time.
// Serials, salts and signatures use an injected io.Reader; nil means
// crypto/rand.Reader. (Since Go 1.26 the standard library itself may
// ignore the reader for key generation and signing.)
//
// # Divergences
//
// Leaf certificates carry no certificate policies: the CA/B Forum
// reserved policy identifiers would claim Baseline Requirements
// conformance, which a private CA does not. They carry no subject key
// identifier either (CA/B Forum Baseline Requirements, Section 7.1.2.7.6,
// over the SHOULD of RFC 5280, Section 4.2.1.2). Package catest lists the
// zlint findings this causes.
//
// An [Issuer] is safe for concurrent use. The package's test support,
// which lints certificates with zlint, is in package catest.
package ca
