package state

import (
	"crypto/rand"
	"encoding/binary"
	"slices"
	"time"
)

// Chaos holds the knobs of client-honesty mode: behaviour RFC 8555 allows
// but lenient servers never show, so that a client certified against a
// chaos directory copes with any conforming server. The zero value turns
// every knob off.
type Chaos struct {
	// MaxValidationDelay delays each validation by a random duration up to
	// this, so clients must poll instead of assuming a fast answer.
	MaxValidationDelay time.Duration
	// AuthzReuseRate is the share (0 to 1) of new orders that reuse a
	// matching authorization; the rest get fresh ones even when reuse is
	// possible, so clients must handle both.
	AuthzReuseRate float64
	// RandomProfile picks a random profile for orders that name none.
	RandomProfile bool
}

// Chance returns true with probability p (0 to 1); the knobs of
// client-honesty mode use it.
func Chance(p float64) bool {
	if p <= 0 {
		return false
	}
	if p >= 1 {
		return true
	}
	return randomFloat() < p
}

func randomFloat() float64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
}

// validationDelay returns the chaos delay before a validation.
func (e *Engine) validationDelay() time.Duration {
	if e.cfg.Chaos.MaxValidationDelay <= 0 {
		return 0
	}
	return time.Duration(randomFloat() * float64(e.cfg.Chaos.MaxValidationDelay))
}

// reuseAllowed decides whether this order may reuse authorizations.
func (e *Engine) reuseAllowed() bool {
	if e.cfg.DisableAuthzReuse {
		return false
	}
	if e.cfg.Chaos.AuthzReuseRate > 0 {
		return Chance(e.cfg.Chaos.AuthzReuseRate)
	}
	return true
}

// defaultProfileFor returns the profile of an order that names none.
func (e *Engine) defaultProfileFor() string {
	if !e.cfg.Chaos.RandomProfile {
		return e.cfg.DefaultProfile
	}
	names := make([]string, 0, len(e.cfg.Profiles))
	for n := range e.cfg.Profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	var b [1]byte
	_, _ = rand.Read(b[:])
	return names[int(b[0])%len(names)]
}
