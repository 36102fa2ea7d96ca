// Package dnspersist validates dns-persist-01 challenges
// (draft-ietf-acme-dns-persist-02): a standing TXT record at
// _validation-persist.<name> names this CA by one of its issuer domain
// names and the requesting account by a hashed account URI, and so
// authorizes that account for the name again and again without a DNS
// change per order.
//
// A record is an issue-value of RFC 8659, Section 4.2:
//
//	ca.corp.internal; accounturi=<prefix>sha-256/<digest>; policy=wildcard; persistUntil=1767225600
//
// where <digest> is the unpadded base64url SHA-256 of one length octet,
// the domain the record is published at (or "*" for a record meant for
// many domains), the account key's JWK thumbprint and the account URL
// ([HashedAccountURI]; draft-ietf-acme-dns-persist-02, Section 4.1).
//
// The validator looks the record up with package resolver (CNAMEs
// followed, quorum applied), keeps the records that name one of its issuer
// domain names, and succeeds when one of them carries the requesting
// account's hashed URI, has not passed its persistUntil, and, when the
// name is a wildcard or a subdomain of the record's domain, says
// policy=wildcard. The record's persistUntil comes back in
// [challenges.Record.ValidUntil]; the state machine must not let the
// authorization outlive it. Deciding which identifiers are offered the
// challenge, and advertising accountHashPrefix and issuerDomainNames in the
// directory and the challenge object, are left to the state machine and the
// front end.
//
// # Errors
//
// Following draft-ietf-acme-dns-persist-02, Section 9.3.1: a record for
// this CA that breaks the grammar, repeats a parameter, lacks accounturi,
// has an accounturi that is not a hashed URI under this CA's prefix with
// sha-256, or has a persistUntil that is not a base-10 integer is
// [challenges.KindMalformed]; a record for another account, a passed
// persistUntil, a record that does not reach the name (no policy=wildcard)
// and TXT records none of which names this CA are
// [challenges.KindUnauthorized]. A name without TXT records is
// [challenges.KindIncorrectResponse] and a failed lookup
// [challenges.KindDNS], as for dns-01.
//
// # Choices and divergences
//
// These belong in the project's divergences list:
//
//   - Keys: the account's current key is tried first, then each key it
//     retired by a key change, most recently retired first
//     ([challenges.Request.RetiredThumbprints], kept by the store), so a
//     standing record outlives key rotation (Section 4.2).
//   - Records are read through the configured resolvers without DNSSEC
//     validation (Section 7.8.1 asks for a validating resolver).
//   - Failed validations are not rate-limited per domain and account
//     (Section 9.3.1); one validation costs two hashes per key the
//     account has used.
//   - Subdomains: with Options.Subdomains, a record with policy=wildcard at
//     one of the nearest [MaxAncestors] ancestors of the name (of two or
//     more labels) also authorizes it (Sections 5 and 6). Off, only the
//     record at the name itself counts; a wildcard "*.x" is then validated
//     by the record at x, which must say policy=wildcard.
//   - Just-in-time validation at order time (Section 4.4) is not offered:
//     the client always answers the challenge.
package dnspersist
