package admin

// Audit event types written by this package; the other changes made
// through the API record the state machine's and the policy package's
// events.
const (
	// EventTokenCreated records a new admin API token (never the token).
	EventTokenCreated = "admin_token.created"
	// EventTokenRevoked records the revocation of an admin API token.
	EventTokenRevoked = "admin_token.revoked"
)
