package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/acmegate/acmegate/acme/policy"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/deviceattest"
	"github.com/acmegate/acmegate/challenges/dnspersist"
	"github.com/acmegate/acmegate/store"
)

// NewOrderRequest is the payload of newOrder (RFC 8555, Section 7.4).
type NewOrderRequest struct {
	Identifiers []Identifier
	NotBefore   *time.Time
	NotAfter    *time.Time
	// Profile names a certificate profile (the ACME profiles extension);
	// empty selects the default.
	Profile string
	// Replaces is the ARI certificate ID of the certificate this order
	// renews (RFC 9773, Section 5).
	Replaces string
}

// NewOrder checks the request against policy and creates an order with an
// authorization per identifier, reusing the account's recent
// authorizations for the same identifier and profile.
func (e *Engine) NewOrder(ctx context.Context, acct *Account, req NewOrderRequest) (*Order, error) {
	now := e.clock.Now()

	// 1. Policy: identifiers, profile, validity.
	ids, err := e.cfg.Policy.checkIdentifiers(req.Identifiers, e.cfg.MaxIdentifiers)
	if err != nil {
		return nil, err
	}
	profileName := req.Profile
	if profileName == "" {
		profileName = e.defaultProfileFor()
	}
	profile, ok := e.cfg.Profiles[profileName]
	if !ok {
		return nil, problem.New(problem.InvalidProfile, "profile %q is not offered by this server",
			truncate(req.Profile, 64))
	}
	if err := checkValidity(req.NotBefore, req.NotAfter, maxLifetime(profile), now); err != nil {
		return nil, err
	}
	dec, err := e.decidePolicy(ctx, acct, ids, profileName, req, now)
	if err != nil {
		return nil, err
	}
	if req.Replaces != "" {
		if req.Replaces, err = e.checkReplaces(ctx, acct, req.Replaces); err != nil {
			return nil, err
		}
	}
	pending, err := e.store.Read(ctx).CountPendingOrders(acct.ID, now)
	if err != nil {
		return nil, err
	}
	if pending >= int64(e.cfg.MaxPendingOrders) {
		return nil, &problem.Error{Type: problem.RateLimited, RetryAfter: 60, Detail: fmt.Sprintf(
			"the account has %d pending orders; finalize or let some expire first", pending)}
	}

	// 2. Create the order and its authorizations in one transaction.
	orderID, err := e.newID()
	if err != nil {
		return nil, err
	}
	row := &store.Order{
		ID:          orderID,
		AccountID:   acct.ID,
		Status:      StatusPending,
		Expires:     now.Add(e.cfg.OrderLifetime).UTC().Truncate(time.Second),
		NotBefore:   req.NotBefore,
		NotAfter:    req.NotAfter,
		Identifiers: mustJSON(ids),
		Profile:     profileName,
		Replaces:    req.Replaces,
	}
	var authzIDs []string
	err = e.store.TransactProgress(ctx, func(tx *store.Tx) error {
		authzIDs = authzIDs[:0]
		allValid := true
		reuse := e.reuseAllowed()
		grants, err := tx.ActiveGrants(acct.ID, acct.EABKeyID, now)
		if err != nil {
			return err
		}
		granted := map[string]string{}
		for _, id := range ids {
			authz, err := e.authzForOrder(tx, acct, id, profileName, now, reuse, dec, grants)
			if err != nil {
				return err
			}
			authzIDs = append(authzIDs, authz.ID)
			allValid = allValid && authz.Status == StatusValid
			if authz.GrantID != "" {
				granted[id.Value] = authz.GrantID
			}
		}
		if allValid {
			row.Status = StatusReady
		}
		if err := tx.CreateOrder(row, authzIDs); err != nil {
			return err
		}
		data := map[string]any{"identifiers": ids, "profile": profileName,
			"replaces": req.Replaces, "status": row.Status, "policy": policyAudit(dec)}
		if len(granted) > 0 {
			data["grants"] = granted
		}
		return tx.Audit(store.Event{Type: EventOrderCreated, Actor: acct.ID,
			Subject: "order:" + orderID, Outcome: OutcomeSuccess, Data: data})
	})
	if err != nil {
		return nil, err
	}
	return e.Order(ctx, acct, orderID)
}

// reusableUnder reports whether authorization a may serve an order that
// the policy decision dec governs: when dec limits the challenge types,
// the challenge that validated a (a valid authorization), or every
// challenge a offers (a pending one), must be of an allowed type.
func reusableUnder(tx *store.Tx, a *store.Authorization, dec *policy.Decision) (bool, error) {
	if dec == nil || dec.ChallengeTypes == nil {
		return true, nil
	}
	chals, err := tx.Challenges(a.ID)
	if err != nil {
		return false, err
	}
	for _, c := range chals {
		if a.Status == StatusValid && c.Status != StatusValid {
			continue
		}
		if !dec.AllowsChallenge(c.Type) {
			return false, nil
		}
	}
	return true, nil
}

func checkValidity(notBefore, notAfter *time.Time, maxLifetime time.Duration, now time.Time) error {
	if notBefore != nil && notBefore.After(now.Add(7*24*time.Hour)) {
		return problem.New(problem.Malformed, "notBefore may be at most 7 days in the future")
	}
	if notAfter == nil {
		return nil
	}
	if !notAfter.After(now) {
		return problem.New(problem.Malformed, "notAfter is in the past")
	}
	start := now
	if notBefore != nil {
		start = *notBefore
		if !notAfter.After(start) {
			return problem.New(problem.Malformed, "notAfter must be after notBefore")
		}
	}
	if notAfter.Sub(start) > maxLifetime {
		return problem.New(problem.Malformed,
			"the requested lifetime %s exceeds the profile's maximum of %s",
			notAfter.Sub(start).Round(time.Second), maxLifetime)
	}
	return nil
}

// authzForOrder creates a valid authorization when one of the account's
// active ownership grants covers the identifier; otherwise it reuses a
// recent authorization of the account for the identifier when reuse is
// on, and otherwise creates a pending one with its challenges, of the
// types the policy decision dec allows (all when dec is nil). An
// authorization is reused only if dec allows the challenge that validated
// it, or, while it is pending, every challenge it offers: a rule narrowed
// since must not be met by a proof it no longer accepts.
func (e *Engine) authzForOrder(tx *store.Tx, acct *Account, id Identifier, profile string,
	now time.Time, reuse bool, dec *policy.Decision, grants []store.OwnershipGrant,
) (*store.Authorization, error) {
	value, wildcard := id.Value, false
	if id.Type == IdentifierDNS && len(value) > 2 && value[:2] == "*." {
		value, wildcard = value[2:], true
	}
	if g := grantFor(grants, id); g != nil {
		return e.grantedAuthorization(tx, acct, id, value, wildcard, profile, g, now)
	}
	if reuse {
		// Reuse only authorizations that outlive the order a little, so a
		// finalize within the order's lifetime still finds them valid.
		minExpiry := now.Add(time.Hour)
		a, err := tx.ReusableAuthorization(acct.ID, id.Type, value, wildcard, profile, minExpiry, true)
		switch {
		case err == nil:
			ok, err := reusableUnder(tx, a, dec)
			if err != nil {
				return nil, err
			}
			if ok {
				return a, nil
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	authzID, err := e.newID()
	if err != nil {
		return nil, err
	}
	a := &store.Authorization{
		ID:              authzID,
		AccountID:       acct.ID,
		IdentifierType:  id.Type,
		IdentifierValue: value,
		Wildcard:        wildcard,
		Status:          StatusPending,
		Profile:         profile,
		Expires:         now.Add(e.cfg.PendingAuthzLifetime).UTC().Truncate(time.Second),
	}
	var chals []store.Challenge
	for i, typ := range policyChallenges(dec, e.challengeTypesFor(id.Type, value, wildcard)) {
		chalID, err := e.newID()
		if err != nil {
			return nil, err
		}
		token, err := e.newToken()
		if err != nil {
			return nil, err
		}
		chals = append(chals, store.Challenge{ID: chalID, Type: typ, Token: token,
			Status: StatusPending, Position: i})
	}
	if len(chals) == 0 {
		return nil, problem.New(problem.RejectedIdentifier,
			"no challenge type is enabled for identifier %s", id.Value)
	}
	if err := tx.CreateAuthorization(a, chals); err != nil {
		return nil, err
	}
	return a, nil
}

// challengeTypesFor lists the challenge types offered for an identifier:
// wildcards only with dns-01 (RFC 8555, Section 7.1.3) or dns-persist-01
// (draft-ietf-acme-dns-persist-02, Section 5), IP addresses without either
// (RFC 8738, Section 7; the draft registers dns-persist-01 for dns
// identifiers only, Section 8.1), and the token challenge for names under
// the configured token domains. Only types with a validator are offered.
func (e *Engine) challengeTypesFor(idType, value string, wildcard bool) []string {
	if idType == IdentifierPermanent || idType == IdentifierHardwareModule {
		// Devices prove themselves by attestation only.
		if _, ok := e.validators[deviceattest.Type]; ok {
			return []string{deviceattest.Type}
		}
		return nil
	}
	types := e.cfg.ChallengeTypes
	if idType == IdentifierDNS && !wildcard && e.tokenDomain(value) {
		types = append(slices.Clone(types), challenges.TypeTKAuth01)
	}
	// dns-persist-01 is offered wherever its validator is configured; it
	// is off unless the operator enables it.
	if _, ok := e.validators[dnspersist.Type]; ok && idType == IdentifierDNS &&
		!slices.Contains(types, dnspersist.Type) {
		types = append(slices.Clone(types), dnspersist.Type)
	}
	var out []string
	for _, typ := range types {
		if _, ok := e.validators[typ]; !ok {
			continue
		}
		switch {
		case wildcard && typ != challenges.TypeDNS01 && typ != dnspersist.Type:
			continue
		case idType == IdentifierIP && (typ == challenges.TypeDNS01 || typ == dnspersist.Type):
			continue
		case typ == challenges.TypeTKAuth01 && (wildcard || !e.tokenDomain(value)):
			continue
		case typ == deviceattest.Type:
			continue
		}
		out = append(out, typ)
	}
	return out
}

func (e *Engine) tokenDomain(name string) bool {
	for _, d := range e.cfg.TokenChallengeDomains {
		if underDomain(name, d) {
			return true
		}
	}
	return false
}

// newToken returns a challenge token of 128 random bits, base64url
// encoded (RFC 8555, Section 8.3).
func (e *Engine) newToken() (string, error) {
	return e.newRandom()
}

// Order loads an order of acct. An order of another account is reported
// exactly like a missing one.
func (e *Engine) Order(ctx context.Context, acct *Account, id string) (*Order, error) {
	r := e.store.Read(ctx)
	row, err := r.Order(id)
	if err != nil {
		return nil, storeErr(err, "order")
	}
	if row.AccountID != acct.ID {
		return nil, notFound("order")
	}
	authzIDs, err := r.OrderAuthzIDs(id)
	if err != nil {
		return nil, err
	}
	return orderFromModel(row, authzIDs, e.clock.Now())
}

// Orders lists the IDs of the account's orders after cursor, at most limit,
// and the cursor of the next page ("" when there is none) (RFC 8555,
// Section 7.1.2.1).
func (e *Engine) Orders(ctx context.Context, acct *Account, cursor string, limit int) ([]string, string, error) {
	rows, err := e.store.Read(ctx).AccountOrders(acct.ID, cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[len(rows)-1].ID
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	return ids, next, nil
}

// Authorization loads an authorization of acct with its challenges.
func (e *Engine) Authorization(ctx context.Context, acct *Account, id string) (*Authorization, error) {
	r := e.store.Read(ctx)
	row, err := r.Authorization(id)
	if err != nil {
		return nil, storeErr(err, "authorization")
	}
	if row.AccountID != acct.ID {
		return nil, notFound("authorization")
	}
	chals, err := r.Challenges(id)
	if err != nil {
		return nil, err
	}
	return authzFromModel(row, chals, e.clock.Now()), nil
}

// DeactivateAuthorization moves a pending or valid authorization to
// deactivated (RFC 8555, Section 7.5.2) and invalidates the orders that
// depend on it.
func (e *Engine) DeactivateAuthorization(ctx context.Context, acct *Account, id string) (*Authorization, error) {
	if _, err := e.Authorization(ctx, acct, id); err != nil {
		return nil, err
	}
	err := e.store.Transact(ctx, func(tx *store.Tx) error {
		err := tx.SetAuthorizationStatus(id, []string{StatusPending, StatusValid}, StatusDeactivated)
		if errors.Is(err, store.ErrConflict) {
			return problem.New(problem.Malformed, "only pending or valid authorizations can be deactivated")
		}
		if err != nil {
			return err
		}
		if err := e.invalidateOrdersOf(tx, id, "an authorization was deactivated"); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: EventAccountUpdated, Actor: acct.ID,
			Subject: "authz:" + id, Outcome: OutcomeSuccess, Reason: "authorization deactivated"})
	})
	if err != nil {
		return nil, err
	}
	return e.Authorization(ctx, acct, id)
}

// invalidateOrdersOf makes every pending or ready order that uses the
// authorization invalid.
func (e *Engine) invalidateOrdersOf(tx *store.Tx, authzID, reason string) error {
	return invalidateOrders(tx, authzID, reason)
}

// invalidateOrders is [Engine.invalidateOrdersOf] for callers without an
// engine, such as [Grants.Revoke].
func invalidateOrders(tx *store.Tx, authzID, reason string) error {
	orderIDs, err := tx.OrdersForAuthz(authzID)
	if err != nil {
		return err
	}
	doc := mustJSON(problem.New(problem.Unauthorized, "%s", reason).ToDocument())
	for _, oid := range orderIDs {
		err := tx.SetOrderStatus(oid, []string{StatusPending, StatusReady}, StatusInvalid,
			map[string]any{"error": doc})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}

// promoteOrdersOf moves each pending order that uses the authorization to
// ready once all of its authorizations are valid.
func (e *Engine) promoteOrdersOf(tx *store.Tx, authzID string, now time.Time) error {
	orderIDs, err := tx.OrdersForAuthz(authzID)
	if err != nil {
		return err
	}
	for _, oid := range orderIDs {
		ids, err := tx.OrderAuthzIDs(oid)
		if err != nil {
			return err
		}
		authzs, err := tx.Authorizations(ids)
		if err != nil {
			return err
		}
		ready := len(authzs) == len(ids)
		for _, a := range authzs {
			ready = ready && a.Status == StatusValid && a.Expires.After(now)
		}
		if !ready {
			continue
		}
		err = tx.SetOrderStatus(oid, []string{StatusPending}, StatusReady, nil)
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}
