// Package challenges holds the types shared by the ACME challenge validators:
// the [Request] a validator receives, the [Record] of what it observed, the
// [Validator] interface and the typed [Error] whose Kind equals an ACME error
// type name (RFC 8555, Section 6.7).
//
// One subpackage implements each challenge type:
//
//   - http01: http-01 (RFC 8555, Section 8.3)
//   - dns01: dns-01 (RFC 8555, Section 8.4)
//   - tlsalpn01: tls-alpn-01 (RFC 8737)
//   - tkauth: tkauth-01 with workload JWTs (shaped as RFC 9447)
//   - dnspersist: dns-persist-01, standing TXT records naming the CA and
//     the account (draft-ietf-acme-dns-persist-02)
//
// Two subpackages support them: netguard decides which addresses a validator
// may connect to, and resolver performs the DNS lookups. Package caa checks
// CAA records (RFC 8659, RFC 8657) for the state machine before issuance.
// challtest holds in-process DNS, HTTP and TLS responders for tests.
//
// Validators know nothing of accounts, orders, storage or HTTP servers. They
// get everything in the [Request] and return a [Record] for the audit trail
// and either nil or an error; an error that the client should see is a
// *[Error]. Deciding which challenge types an identifier may use (for
// example, wildcards only through dns-01, RFC 8555, Section 7.1.3) and
// storing the result as a problem on the challenge are left to the ACME state
// machine.
//
// # Choices and divergences
//
// These belong in the project's divergences list:
//
//   - http-01 follows at most 10 redirects, only to http on port 80 or the
//     configured port and to https on 443 or a configured port, and does not
//     verify the certificate of an https target (http-01 bootstraps
//     certificates). The body is read up to 8 KiB; only trailing spaces,
//     tabs and line ends are ignored (RFC 8555, Section 8.3).
//   - tls-alpn-01 also requires exactly one certificate in the handshake, a
//     valid self-signature, and exactly one subjectAltName entry of any kind;
//     the pre-standard OID 1.3.6.1.5.5.7.1.30.1 is refused.
//   - dns-01 follows CNAMEs from _acme-challenge.<name>, at most 8 links,
//     which RFC 8555, Section 8.4 neither requires nor forbids.
//   - The networks of netguard.DefaultDeny are refused even when an allow
//     list names them.
//   - The choices of packages caa and tkauth are listed in their own package
//     comments.
package challenges
