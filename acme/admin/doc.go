// Package admin is acmegate's operator API: JSON over HTTPS on a listener
// of its own, for the tasks `acmegate certs`, `eab`, `report`, `audit` and
// `policy` do on the gateway's host, from anywhere an operator holds a
// credential.
//
// Every request must authenticate, with either
//
//   - a bearer token (`Authorization: Bearer agadm_...`) made by
//     [CreateToken] (`acmegate admin token create`); the store keeps only
//     its SHA-256, and a revoked token stops working at once, or
//   - a TLS client certificate issued by the gateway's intermediate, with
//     the clientAuth extended key usage, recorded in the store and not
//     revoked, whose subject common name or one of whose subject
//     alternative names is among [Options.ClientNames].
//
// The TLS layer only requests the certificate (tls.RequestClientCert); the
// handler verifies it, so a refused caller gets a JSON answer instead of a
// failed handshake. A request without a credential gets 401; a credential
// that is not valid (an unknown or revoked token, a certificate that does
// not chain to the intermediate) gets 401; a valid certificate that names
// no operator, or that was revoked, gets 403.
//
// The authenticated [Operator] is the actor of the audit event of every
// change made through the API: "operator:<label>", where the label is the
// token's label or the client name that matched.
//
// Routes (all JSON unless noted):
//
//	GET    /v1/certificates                  inventory, filters as `certs list`
//	GET    /v1/certificates/{serial}         one certificate with its PEM
//	POST   /v1/certificates/{serial}/revoke  {"reason": 4, "comment": "..."}
//	POST   /v1/renewals                      {"name", "account", "profile", "reason", "at"}
//	GET    /v1/report?from=&to=              lifecycle report (RFC 3339 bounds)
//	GET    /v1/eab-keys                      EAB keys, never their MAC keys
//	POST   /v1/eab-keys                      {"label", "reusable", "directory", "policy"}
//	DELETE /v1/eab-keys/{id}                 revoke an EAB key
//	GET    /v1/policy                        newest policy (YAML if Accept: application/yaml)
//	PUT    /v1/policy                        YAML body: save the next policy version
//	GET    /v1/audit?after_seq=&limit=       audit events, oldest first
//	GET    /v1/audit/verify                  check the audit chain
//	GET    /metrics                          Prometheus metrics, when a registry is given
//	GET    /debug/pprof/                     Go profiles, when enabled
//
// The package decides nothing about certificates itself: revocation goes
// through the state machine ([Revoker]), the policy through
// [policy.Save], and everything else through the store's methods.
package admin
