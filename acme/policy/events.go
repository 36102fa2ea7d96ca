package policy

// Audit event types written by this package. The refusal of an order is
// recorded by the state machine, which names its own events.
const (
	// EventChanged records a saved policy version (see [Save]).
	EventChanged = "policy.changed"
)
