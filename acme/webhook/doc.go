// Package webhook tells other systems about certificate lifecycle events
// by posting signed JSON to their HTTP endpoints.
//
// A [Dispatcher] follows the audit log: each endpoint has a cursor, the
// sequence number of the last audit event it has dealt with, kept in the
// store's settings table, so delivery resumes where it stopped after a
// restart or on another replica. A new endpoint starts at the newest event
// and never sees history. Audit events become [Payload]s of these types:
//
//	certificate.issued    a certificate was issued
//	certificate.renewed   a certificate was issued with an ARI replaces
//	                      field (RFC 9773, Section 5)
//	certificate.revoked   a certificate was revoked, by its subscriber, an
//	                      operator or the key-compromise sweep
//	challenge.invalid     a validation failed
//	certificate.expiring  a valid certificate expires within the configured
//	                      window, no later certificate was issued to the
//	                      same account for the same names, and no order
//	                      renewing it through ARI is valid or being issued
//
// The last is found by a periodic scan, which records an [store.ExpiryNotice]
// and a certificate.expiring audit event per certificate in one
// transaction, so each certificate is reported once; delivery then follows
// the audit log like the other events.
//
// Each POST body is signed with HMAC-SHA256 under the endpoint's shared
// secret ([Sign]; receivers check it with [Verify]) and carries the
// headers X-Acmegate-Signature ("sha256=<hex>"), X-Acmegate-Event (the
// type) and X-Acmegate-Event-Id, which stays the same across retries and
// replicas so that receivers can drop duplicates: delivery is at least
// once. A delivery that fails (a transport error, a timeout or a status
// other than 2xx) is retried with exponential backoff up to a bounded
// number of attempts, then dropped with an error log; the endpoint then
// moves on. Endpoints are served in parallel, so a slow one delays only
// itself.
//
// Delivery runs only on the replica that holds the "webhooks" lease
// ([store.Store.TryLease]), renewed while it works.
package webhook
