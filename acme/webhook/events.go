package webhook

// Event types posted to endpoints; the values are what goes on the wire.
const (
	EventCertificateIssued  = "certificate.issued"
	EventCertificateRenewed = "certificate.renewed"
	EventCertificateRevoked = "certificate.revoked"
	EventChallengeInvalid   = "challenge.invalid"
	// EventCertificateExpiring is also the audit event type the expiry scan
	// writes for each certificate it reports.
	EventCertificateExpiring = "certificate.expiring"
)

// Events lists every event type an endpoint may subscribe to.
func Events() []string {
	return []string{EventCertificateIssued, EventCertificateRenewed, EventCertificateRevoked,
		EventChallengeInvalid, EventCertificateExpiring}
}
