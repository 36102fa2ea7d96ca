package policy

import (
	"context"
	"crypto"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/problem"
)

// Subject is who asks: the account and the EAB key it was created with,
// the identifiers concerned and the time of asking, against which
// exceptions lapse.
type Subject struct {
	AccountID   string
	EABKeyID    string
	Identifiers []Identifier
	Now         time.Time
}

// OrderRequest is a new order as the state machine checked it: identifiers
// normalised, the profile resolved (the default when the client named
// none) and the requested validity, if any.
type OrderRequest struct {
	Subject
	Profile   string
	NotBefore *time.Time
	NotAfter  *time.Time
}

// Decision is the outcome of the policy for one subject: the rule that
// decided and what it permits, with the exceptions in force applied.
type Decision struct {
	// Rule and Owner name the deciding rule; Version is the policy
	// version it belongs to.
	Rule    string
	Owner   string
	Version int
	// MaxLifetime bounds the certificate lifetime; zero means the
	// profile alone decides.
	MaxLifetime time.Duration
	// ChallengeTypes, when not nil, are the only challenge types to offer.
	ChallengeTypes []string
	// KeyTypes, when not nil, are the only CSR key types accepted.
	KeyTypes []string
	// Exceptions are the labels of the exceptions that changed the
	// outcome.
	Exceptions []string

	rule       *compiled
	exceptions []Exception
	lifted     map[string]bool
}

// Explain names the deciding rule and its owner, as refusals show it:
// "payments-prod (owner: team-payments)".
func (d *Decision) Explain() string {
	return fmt.Sprintf("%s (owner: %s)", d.Rule, d.Owner)
}

// AuditData is what audit events record about the decision.
func (d *Decision) AuditData() map[string]any {
	return map[string]any{"rule": d.Rule, "owner": d.Owner, "version": d.Version,
		"exceptions": nonNil(d.Exceptions)}
}

// AllowsChallenge reports whether the decision lets typ be offered.
func (d *Decision) AllowsChallenge(typ string) bool {
	return d.ChallengeTypes == nil || slices.Contains(d.ChallengeTypes, typ)
}

// CapLifetime shortens a lifetime to the decision's maximum.
func (d *Decision) CapLifetime(l time.Duration) time.Duration {
	if d.MaxLifetime > 0 && l > d.MaxLifetime {
		return d.MaxLifetime
	}
	return l
}

// CheckKey refuses a CSR public key whose type the rule does not allow,
// with a badCSR problem naming the rule (RFC 8555, Section 7.4).
func (d *Decision) CheckKey(pub crypto.PublicKey) error {
	if d.KeyTypes == nil {
		return nil
	}
	for _, k := range d.rule.keyTypes {
		if k.matches(pub) {
			return nil
		}
	}
	return problem.New(problem.BadCSR, "the CSR key type %s is not allowed by policy rule %s; "+
		"allowed: %s", describeKey(pub), d.Explain(), strings.Join(d.KeyTypes, ", "))
}

// Decide selects the rule governing the subject and returns what it
// permits, with the account's exceptions in force at s.Now applied. It
// checks nothing; [Engine.DecideOrder] does. The state machine calls it at
// finalize and at issuance, when the order already passed.
func (e *Engine) Decide(s Subject) *Decision {
	a := e.active.Load()
	c := a.ruleFor(s.AccountID, s.EABKeyID)
	d := &Decision{Rule: c.Name, Owner: c.Owner, Version: a.version, rule: c,
		lifted: map[string]bool{}}
	for _, x := range a.doc.Exceptions {
		if x.Rule == c.Name && x.InForce(s.Now) && (x.AccountID == "" || x.AccountID == s.AccountID) {
			d.exceptions = append(d.exceptions, x)
		}
	}
	if c.MaxLifetime > 0 && !d.liftedForAccount(LiftLifetime) {
		d.MaxLifetime = time.Duration(c.MaxLifetime)
	}
	if len(c.KeyTypes) > 0 && !d.liftedForAccount(LiftKeyTypes) {
		d.KeyTypes = slices.Clone(c.KeyTypes)
	}
	if len(c.ChallengeTypes) > 0 && !d.liftedForAccount(LiftChallengeTypes) {
		d.ChallengeTypes = slices.Clone(c.ChallengeTypes)
	}
	return d
}

// liftedForAccount reports whether an account exception lifts what, and
// records the exception as applied.
func (d *Decision) liftedForAccount(what string) bool {
	for _, x := range d.exceptions {
		if x.Identifier == "" && x.lifts(what) {
			d.applied(x)
			return true
		}
	}
	return false
}

// liftedFor reports whether an exception lifts what for the identifier:
// one naming it, or an account exception.
func (d *Decision) liftedFor(id Identifier, what string) bool {
	for _, x := range d.exceptions {
		if x.Identifier != "" && !sameIdentifier(x.Identifier, id) {
			continue
		}
		if x.lifts(what) {
			d.applied(x)
			return true
		}
	}
	return false
}

func (d *Decision) applied(x Exception) {
	label := x.Label()
	if !slices.Contains(d.Exceptions, label) {
		d.Exceptions = append(d.Exceptions, label)
	}
}

func sameIdentifier(pattern string, id Identifier) bool {
	if id.Type == TypePermanentID {
		return pattern == id.Value
	}
	return normalIdentifier(pattern) == normalIdentifier(id.Value)
}

// DecideOrder decides a new order (RFC 8555, Section 7.4) under the rule
// governing the account, and returns the decision also when it refuses,
// so the caller can record which rule decided. The checks run in this
// order, the first failing one answering:
//
//  1. identifiers: rejectedIdentifier, one subproblem per refused
//     identifier (RFC 8555, Section 6.7.1);
//  2. profile: invalidProfile;
//  3. requested lifetime: malformed;
//  4. rate limits, counted with c: rateLimited with RetryAfter set to the
//     seconds until the window frees a slot.
//
// Every refusal's detail names the rule and its owner. Errors from c are
// returned as they are.
func (e *Engine) DecideOrder(ctx context.Context, req OrderRequest, c Counter) (*Decision, error) {
	d := e.Decide(req.Subject)
	if err := d.checkIdentifiers(req.Identifiers); err != nil {
		return d, err
	}
	if err := d.checkProfile(req.Profile); err != nil {
		return d, err
	}
	if err := d.checkLifetime(req); err != nil {
		return d, err
	}
	if err := d.checkRateLimits(ctx, req.Subject, c); err != nil {
		return d, err
	}
	return d, nil
}

func (d *Decision) checkIdentifiers(ids []Identifier) error {
	var subs []*problem.Error
	for _, id := range ids {
		why := d.rule.checkIdentifier(id)
		if why == "" || d.liftedFor(id, LiftIdentifiers) {
			continue
		}
		subs = append(subs, &problem.Error{
			Type:       problem.RejectedIdentifier,
			Detail:     fmt.Sprintf("%s is refused by policy rule %s: %s", id.Value, d.Explain(), why),
			Identifier: &problem.Identifier{Type: id.Type, Value: id.Value},
		})
	}
	switch len(subs) {
	case 0:
		return nil
	case 1:
		return subs[0]
	}
	return &problem.Error{
		Type: problem.RejectedIdentifier,
		Detail: fmt.Sprintf("%d identifiers are refused by policy rule %s; see subproblems",
			len(subs), d.Explain()),
		Subproblems: subs,
	}
}

func (d *Decision) checkProfile(profile string) error {
	allowed := d.rule.Profiles
	if len(allowed) == 0 || slices.Contains(allowed, profile) || d.liftedForAccount(LiftProfiles) {
		return nil
	}
	return problem.New(problem.InvalidProfile,
		"profile %q is not allowed by policy rule %s; allowed: %s",
		profile, d.Explain(), strings.Join(allowed, ", "))
}

// checkLifetime refuses a requested validity longer than the rule allows.
// Without a requested notAfter the profile's lifetime is shortened at
// issuance instead (see [Decision.CapLifetime]).
func (d *Decision) checkLifetime(req OrderRequest) error {
	if d.MaxLifetime == 0 || req.NotAfter == nil {
		return nil
	}
	start := req.Now
	if req.NotBefore != nil {
		start = *req.NotBefore
	}
	if got := req.NotAfter.Sub(start); got > d.MaxLifetime {
		return problem.New(problem.Malformed,
			"the requested lifetime %s exceeds the maximum of %s set by policy rule %s",
			got.Round(time.Second), d.MaxLifetime, d.Explain())
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
