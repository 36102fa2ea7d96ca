// Package solver makes the answers to ACME challenges available, for
// callers of package client: a token for tkauth-01 ([Token]), an HTTP
// responder for http-01 ([HTTP01]), and an operator's command that
// publishes dns-01 TXT records ([DNSHook]).
//
// Every solver has the same two methods. Present makes the answer to one
// challenge available and returns the payload to post to the challenge URL
// (nil means {}) and a function that withdraws the answer once the
// authorization is decided; Close releases what the solver holds. Which
// solver to use, and when, is the caller's decision.
package solver
