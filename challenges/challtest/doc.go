// Package challtest provides in-process responders that answer ACME
// challenges on loopback, for the tests of the validators and for
// integration tests that drive real ACME clients:
//
//   - [DNSServer]: a scriptable DNS server (UDP and TCP on one port) whose
//     TXT, A, AAAA and CNAME answers, rcodes, truncation and silence are set
//     per name;
//   - [HTTP01Server]: an http-01 responder with custom handlers for
//     redirects, huge or slow bodies;
//   - [TLSALPNServer]: a tls-alpn-01 responder serving certificates made by
//     [NewALPNCertificate], correct or deliberately broken;
//   - [Canary]: a listener that only counts connections, to prove that a
//     validator never reached an address.
//
// Every constructor takes a testing.TB, fails the test when it cannot start,
// and registers its shutdown with t.Cleanup. All methods are safe for
// concurrent use. The package is test support: production code must not
// import it.
package challtest
