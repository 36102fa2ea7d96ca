// Package server is acmegate's RFC 8555 front end over HTTP, built on echo.
//
// It verifies every POST (flattened JWS with go-jose, the url and nonce
// headers, kid or jwk as the endpoint requires), decodes payloads strictly,
// calls the state machine and encodes the wire objects. Every response
// carries a fresh Replay-Nonce and a Link to the directory, and every error
// becomes one application/problem+json document in the echo error handler,
// the only place that writes problems. URLs handed to clients are built from
// the configured external base URL, never from the request's Host header.
package server
