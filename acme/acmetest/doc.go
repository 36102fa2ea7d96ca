// Package acmetest builds an acmegate ACME front end in-process for tests and
// drives it with a small JWS-signing client.
//
// [New] wires the real parts together: a migrated SQLite store in a
// temporary directory, a [ca.Issuer] over a throwaway root and intermediate,
// the state machine, the nonce service and the HTTP server, served by an
// httptest server whose URL is the gateway's external URL. Three fakes give
// tests control: a [Clock] that moves only when told, a [Validator] whose
// outcome a test chooses and whose calls it counts, and an [Issuer] wrapper
// that counts signer calls and can hold them. [Gateway.Rotate] replaces the
// intermediate as an operator's rotation does, keeping the old one loaded.
//
// [Client] speaks RFC 8555: it fetches nonces, signs flattened JWS with
// go-jose (ES256, ES384, RS256, PS256 or EdDSA; kid once registered, jwk
// before), and has shortcuts for the usual flows (account, order,
// challenge, finalize). For hostile requests it can sign an arbitrary
// protected header verbatim ([SignRaw]) and send any body with any method,
// content type and headers ([Gateway.Do]).
//
// Every response the gateway sends through [Gateway.Do] is checked for the
// headers RFC 8555 requires on all responses (Replay-Nonce and the index
// Link); a response without them fails the test.
//
// The issuer is made without the key-file ceremony of [ca.RunCeremony],
// whose password-based key derivation takes seconds under the race
// detector; [ca.NewIssuer] then checks it as LoadIssuer would.
package acmetest
