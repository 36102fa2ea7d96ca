// Package client is a compact ACME (RFC 8555) client for automation: the
// protocol engine behind `acmegate request`, usable on its own.
//
// A [Client] is bound to one directory URL and one account key. It reads
// the directory once, keeps a small pool of nonces and retries a request
// once when the server refuses its nonce (RFC 8555, Section 6.5), signs
// every POST as a flattened JWS with go-jose (the embedded jwk before the
// account exists, its kid after), and turns every problem document into a
// *[ProblemError] that carries the error type URN, the detail and the
// subproblems.
//
// The calls follow the protocol:
//
//   - [Client.Register] creates or finds the account, with an optional
//     external account binding ([ExternalAccountBinding]).
//   - [Client.NewOrder] asks for identifiers, with an optional profile and
//     the certificate it replaces (RFC 9773, Section 5).
//   - [Client.Authorization] fetches an authorization, [Client.Respond]
//     answers one of its challenges with any JSON payload ({} for http-01
//     and dns-01, {"tkauth": "<JWT>"} for acmegate's tkauth-01), and
//     [Client.WaitAuthorization] polls until it is decided.
//   - [Client.Finalize] submits a CSR and polls until the certificate is
//     issued; [Client.Certificate] downloads the PEM chain.
//   - [Client.RenewalInfo] reads the suggested renewal window of a
//     certificate (RFC 9773, Section 4.2), and [Client.Revoke] revokes one
//     (RFC 8555, Section 7.6).
//
// Every loop is bounded: polls stop after [Options.PollTimeout] (and a fixed
// number of attempts), honour Retry-After up to [Options.MaxRetryAfter], and
// every call stops when its context is done. Solving challenges (serving
// http-01, publishing TXT records, finding a token) is left to the caller:
// the package computes key authorizations ([Client.KeyAuthorization],
// [Client.DNS01Value]), and package solver offers ready answers for
// tkauth-01, http-01 and dns-01.
//
// The package knows nothing of the acmegate server: it speaks the wire
// protocol only, and works with any RFC 8555 server.
package client
