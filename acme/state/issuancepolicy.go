package state

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/policy"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/store"
)

// This file joins the state machine to the issuance policy engine
// (package policy). Without an engine (Options.Policy nil) every function
// here allows everything and changes nothing, so the checks of
// [Config.Policy] and the profiles remain the only ones.

// decidePolicy asks the policy engine about a new order whose identifiers,
// profile and validity already passed the gateway's own checks. A refusal
// is recorded as an order.refused audit event naming the rule, and
// returned as the policy's problem. The decision is nil without an engine.
func (e *Engine) decidePolicy(ctx context.Context, acct *Account, ids []Identifier, profile string,
	req NewOrderRequest, now time.Time) (*policy.Decision, error) {
	if e.policy == nil {
		return nil, nil
	}
	preq := policy.OrderRequest{
		Subject: e.policySubject(acct.ID, acct.EABKeyID, ids, now),
		Profile: profile, NotBefore: req.NotBefore, NotAfter: req.NotAfter,
	}
	dec, err := e.policy.DecideOrder(ctx, preq, policy.StoreCounter{Store: e.store})
	if err == nil {
		err = e.checkPolicyChallenges(dec, ids)
	}
	var pe *problem.Error
	if errors.As(err, &pe) {
		e.auditRefusal(ctx, acct, ids, profile, dec, pe)
	}
	return dec, err
}

func (e *Engine) policySubject(accountID, eabKeyID string, ids []Identifier,
	now time.Time) policy.Subject {
	pids := make([]policy.Identifier, len(ids))
	for i, id := range ids {
		pids[i] = policy.Identifier{Type: id.Type, Value: id.Value}
	}
	return policy.Subject{AccountID: accountID, EABKeyID: eabKeyID, Identifiers: pids, Now: now}
}

// checkPolicyChallenges refuses an identifier for which the rule leaves no
// challenge type that the gateway offers, naming the rule, instead of the
// generic refusal when the authorization is created.
func (e *Engine) checkPolicyChallenges(dec *policy.Decision, ids []Identifier) error {
	for _, id := range ids {
		value, wildcard := strings.CutPrefix(id.Value, "*.")
		wildcard = wildcard && id.Type == IdentifierDNS
		if !wildcard {
			value = id.Value
		}
		if len(policyChallenges(dec, e.challengeTypesFor(id.Type, value, wildcard))) > 0 {
			continue
		}
		return &problem.Error{Type: problem.RejectedIdentifier,
			Identifier: &problem.Identifier{Type: id.Type, Value: id.Value},
			Detail: fmt.Sprintf("no challenge type allowed by policy rule %s (%s) can validate %s",
				dec.Explain(), strings.Join(dec.ChallengeTypes, ", "), id.Value)}
	}
	return nil
}

// policyChallenges keeps the challenge types the decision allows.
func policyChallenges(dec *policy.Decision, types []string) []string {
	if dec == nil {
		return types
	}
	out := make([]string, 0, len(types))
	for _, t := range types {
		if dec.AllowsChallenge(t) {
			out = append(out, t)
		}
	}
	return out
}

// auditRefusal records which rule refused an order. The refusal changes
// nothing, so a failure to record it is logged and the refusal still
// answered.
func (e *Engine) auditRefusal(ctx context.Context, acct *Account, ids []Identifier, profile string,
	dec *policy.Decision, pe *problem.Error) {
	err := e.store.Transact(ctx, func(tx *store.Tx) error {
		return tx.Audit(store.Event{Type: EventOrderRefused, Actor: acct.ID,
			Subject: "account:" + acct.ID, Outcome: OutcomeFailure, Reason: pe.Detail,
			Data: map[string]any{"identifiers": ids, "profile": profile,
				"problem": pe.Type, "policy": policyAudit(dec)}})
	})
	if err != nil {
		e.log.Error("recording an order refusal failed", "account_id", acct.ID, "error", err)
	}
}

// policyAudit is the policy part of an audit event: the deciding rule, its
// owner, the policy version and the exceptions applied; nil without an
// engine.
func policyAudit(dec *policy.Decision) map[string]any {
	if dec == nil {
		return nil
	}
	return dec.AuditData()
}

// governingRule returns the policy decision for a new account, naming the
// rule that will govern its orders; nil without an engine.
func (e *Engine) governingRule(accountID, eabKeyID string) *policy.Decision {
	if e.policy == nil {
		return nil
	}
	return e.policy.Decide(e.policySubject(accountID, eabKeyID, nil, e.clock.Now()))
}

// checkPolicyKey refuses a CSR key type the rule governing the account does
// not allow (RFC 8555, Section 7.4), with badCSR naming the rule.
func (e *Engine) checkPolicyKey(acct *Account, order *Order, pub crypto.PublicKey) error {
	if e.policy == nil {
		return nil
	}
	s := e.policySubject(acct.ID, acct.EABKeyID, order.Identifiers, e.clock.Now())
	return e.policy.Decide(s).CheckKey(pub)
}

// issueProfile returns the profile to sign an order with, its lifetime
// shortened to the maximum of the rule governing the account. The policy
// in force at signing time applies.
func (e *Engine) issueProfile(ctx context.Context, order *Order) (ca.Profile, error) {
	profile := e.cfg.Profiles[order.Profile]
	if e.policy == nil {
		return profile, nil
	}
	acct, err := e.store.Read(ctx).Account(order.AccountID)
	if err != nil {
		return profile, fmt.Errorf("state: loading the account of order %s: %w", order.ID, err)
	}
	s := e.policySubject(acct.ID, acct.EABKeyID, order.Identifiers, e.clock.Now())
	dec := e.policy.Decide(s)
	p := profile.WithDefaults()
	capped := dec.CapLifetime(p.Lifetime)
	if capped == p.Lifetime && dec.CapLifetime(p.MaxLifetime) == p.MaxLifetime {
		return profile, nil
	}
	p.Lifetime, p.MaxLifetime = capped, dec.CapLifetime(p.MaxLifetime)
	if p.Backdate >= p.Lifetime {
		p.Backdate = 0
	}
	return p, nil
}
