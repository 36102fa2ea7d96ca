package state

import "github.com/acmegate/acmegate/acme/policy"

// Audit event types. Every state change writes exactly one of these in the
// transaction that makes the change.
const (
	EventAccountCreated     = "account.created"
	EventAccountUpdated     = "account.updated"
	EventAccountDeactivated = "account.deactivated"
	EventAccountKeyChanged  = "account.key_changed"
	EventOrderCreated       = "order.created"
	EventOrderInvalid       = "order.invalid"
	EventChallengeStarted   = "challenge.started"
	EventChallengeValid     = "challenge.valid"
	EventChallengeInvalid   = "challenge.invalid"
	EventIssuanceRequested  = "certificate.requested"
	EventCertificateIssued  = "certificate.issued"
	EventIssuanceFailed     = "certificate.failed"
	EventCertificateRevoked = "certificate.revoked"
	EventEABKeyCreated      = "eab.created"
	EventEABKeyRevoked      = "eab.revoked"
	EventRenewalPushed      = "certificate.renewal_pushed"
	EventRetentionPurged    = "retention.purged"
	// EventOrderRefused records which issuance policy rule refused a new
	// order; it changes no state but must be provable.
	EventOrderRefused = "order.refused"
	// EventPolicyChanged records a saved issuance policy version.
	EventPolicyChanged = policy.EventChanged
	// EventGrantCreated and EventGrantRevoked record an operator's
	// ownership grant and its revocation; EventAuthorizationGranted
	// records an authorization made valid by a grant, naming it.
	EventGrantCreated         = "grant.created"
	EventGrantRevoked         = "grant.revoked"
	EventAuthorizationGranted = "authorization.granted"
)

// Outcomes recorded on audit events.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)
