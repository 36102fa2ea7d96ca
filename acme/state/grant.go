package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/store"
)

// AuthzMethodGrant is the method of an authorization that an ownership
// grant made valid, stored on the authorization beside the grant's ID.
const AuthzMethodGrant = "grant"

// An ownership grant is an operator's standing decision that an account,
// or every account bound with one EAB key, controls some identifiers. While
// a grant is active (not revoked, not expired), NewOrder creates the
// authorizations of identifiers it covers already valid, with no
// challenge, and audits each with [EventAuthorizationGranted]; the
// issuance policy still decides whether the identifiers may be ordered at
// all. Such an authorization expires with its grant at the latest, and
// revoking the grant deactivates it and invalidates the pending and ready
// orders that use it.

// GrantPattern is the parsed identifier pattern of an ownership grant: an
// exact DNS name ("db.team-a.corp.internal"); "*." and a DNS suffix
// ("*.team-a.corp.internal"), which covers every name strictly below the
// suffix at any depth, and wildcards of those names, but not the suffix
// itself; or an IP address or CIDR prefix ("10.20.0.0/16").
type GrantPattern struct {
	name   string // the DNS name, or the suffix of a "*." pattern
	suffix bool
	prefix netip.Prefix // valid for IP patterns
}

// ParseGrantPattern parses an ownership grant pattern. DNS names are
// lower-cased and lose a trailing dot; an IP prefix must have no host bits
// set.
func ParseGrantPattern(s string) (GrantPattern, error) {
	s = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	if p, err := netip.ParsePrefix(s); err == nil {
		if p != p.Masked() {
			return GrantPattern{}, fmt.Errorf("state: grant pattern %q has host bits set; "+
				"write %s", s, p.Masked())
		}
		return GrantPattern{prefix: p}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return GrantPattern{}, fmt.Errorf("state: grant pattern %q has a zone", s)
		}
		a = a.Unmap()
		return GrantPattern{prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	name, suffix := strings.CutPrefix(s, "*.")
	if err := challenges.CheckHostName(name); err != nil {
		return GrantPattern{}, fmt.Errorf("state: grant pattern %q is neither a DNS name, "+
			"\"*.\" and a DNS suffix, nor an IP address or prefix", s)
	}
	return GrantPattern{name: name, suffix: suffix}, nil
}

// String returns the pattern in its canonical form, as stored.
func (p GrantPattern) String() string {
	switch {
	case p.prefix.IsValid() && p.prefix.IsSingleIP():
		return p.prefix.Addr().String()
	case p.prefix.IsValid():
		return p.prefix.String()
	case p.suffix:
		return "*." + p.name
	}
	return p.name
}

// Covers reports whether the pattern covers the identifier: a dns
// identifier (possibly a wildcard "*.name") or an ip identifier. Other
// identifier types are never covered.
func (p GrantPattern) Covers(id Identifier) bool {
	switch id.Type {
	case IdentifierIP:
		a, err := netip.ParseAddr(id.Value)
		return err == nil && p.prefix.IsValid() && p.prefix.Contains(a.Unmap())
	case IdentifierDNS:
		if p.prefix.IsValid() {
			return false
		}
		base, wildcard := strings.CutPrefix(id.Value, "*.")
		if !p.suffix {
			return !wildcard && base == p.name
		}
		// Every name a wildcard stands for lies below its base.
		return strings.HasSuffix(base, "."+p.name) || wildcard && base == p.name
	}
	return false
}

// grantFor returns the first of the grants that covers id, or nil.
func grantFor(grants []store.OwnershipGrant, id Identifier) *store.OwnershipGrant {
	for i := range grants {
		p, err := ParseGrantPattern(grants[i].Pattern)
		if err == nil && p.Covers(id) {
			return &grants[i]
		}
	}
	return nil
}

// grantedAuthorization creates a valid authorization for id from grant g,
// without challenges, and audits it. It expires after the valid lifetime
// of authorizations, or with the grant if that comes first.
func (e *Engine) grantedAuthorization(tx *store.Tx, acct *Account, id Identifier, value string,
	wildcard bool, profile string, g *store.OwnershipGrant, now time.Time) (*store.Authorization, error) {
	authzID, err := e.newID()
	if err != nil {
		return nil, err
	}
	expires := now.Add(e.cfg.ValidAuthzLifetime)
	if g.Expires.Before(expires) {
		expires = g.Expires
	}
	expires = expires.UTC().Truncate(time.Second)
	a := &store.Authorization{
		ID:              authzID,
		AccountID:       acct.ID,
		IdentifierType:  id.Type,
		IdentifierValue: value,
		Wildcard:        wildcard,
		Status:          StatusValid,
		Profile:         profile,
		Method:          AuthzMethodGrant,
		GrantID:         g.ID,
		Expires:         expires,
	}
	if err := tx.CreateAuthorization(a, nil); err != nil {
		return nil, err
	}
	return a, tx.Audit(store.Event{Type: EventAuthorizationGranted, Actor: acct.ID,
		Subject: "authz:" + authzID, Outcome: OutcomeSuccess, Reason: g.Reason,
		Data: map[string]any{"identifier": id.Value, "grant_id": g.ID, "pattern": g.Pattern,
			"owner": g.Owner, "expires": expires}})
}

// GrantRequest asks for ownership grants: one per pattern, for the account
// or the EAB key (exactly one of them), until Expires.
type GrantRequest struct {
	AccountID string
	EABKeyID  string
	Patterns  []string
	// Reason says why the identifiers are granted; Owner names who asked.
	// Both are required and recorded on the grant and its audit event.
	Reason  string
	Owner   string
	Expires time.Time
}

// Grants creates and revokes ownership grants for operator tools, without
// an [Engine]. Actor names who acts in the audit events ("operator" when
// empty); Clock and Rand default to the system clock and crypto/rand.
type Grants struct {
	Store *store.Store
	Clock Clock
	Rand  io.Reader
	Actor string
}

func (g Grants) now() time.Time {
	if g.Clock == nil {
		return SystemClock{}.Now()
	}
	return g.Clock.Now()
}

func (g Grants) actor() string {
	if g.Actor == "" {
		return "operator"
	}
	return g.Actor
}

// Create checks req and stores one grant per pattern, each with a
// [EventGrantCreated] audit event, in one transaction. It fails when the
// account or the EAB key does not exist (or the key is revoked), a pattern
// does not parse, the reason or the owner is empty, or Expires has passed.
func (g Grants) Create(ctx context.Context, req GrantRequest) ([]store.OwnershipGrant, error) {
	now := g.now()
	rows, err := g.newRows(req, now)
	if err != nil {
		return nil, err
	}
	err = g.Store.Transact(ctx, func(tx *store.Tx) error {
		if err := checkGrantee(tx, req); err != nil {
			return err
		}
		for i := range rows {
			if err := tx.CreateGrant(&rows[i]); err != nil {
				return err
			}
			err := tx.Audit(store.Event{Type: EventGrantCreated, Actor: g.actor(),
				Subject: "grant:" + rows[i].ID, Outcome: OutcomeSuccess, Reason: req.Reason,
				Data: map[string]any{"account_id": req.AccountID, "eab_key_id": req.EABKeyID,
					"pattern": rows[i].Pattern, "owner": req.Owner, "expires": rows[i].Expires}})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// newRows checks what can be checked without the store and builds the
// grant rows.
func (g Grants) newRows(req GrantRequest, now time.Time) ([]store.OwnershipGrant, error) {
	switch {
	case (req.AccountID == "") == (req.EABKeyID == ""):
		return nil, errors.New("state: a grant names an account or an EAB key, not both or neither")
	case len(req.Patterns) == 0:
		return nil, errors.New("state: a grant needs at least one identifier pattern")
	case strings.TrimSpace(req.Reason) == "" || strings.TrimSpace(req.Owner) == "":
		return nil, errors.New("state: a grant needs a reason and an owner")
	case !req.Expires.After(now):
		return nil, fmt.Errorf("state: the grant's expiry %s has passed",
			req.Expires.UTC().Format(time.RFC3339))
	}
	rows := make([]store.OwnershipGrant, 0, len(req.Patterns))
	for _, raw := range req.Patterns {
		p, err := ParseGrantPattern(raw)
		if err != nil {
			return nil, err
		}
		id, err := g.newID()
		if err != nil {
			return nil, err
		}
		rows = append(rows, store.OwnershipGrant{ID: id, AccountID: req.AccountID,
			EABKeyID: req.EABKeyID, Pattern: p.String(), Reason: req.Reason, Owner: req.Owner,
			Expires: req.Expires.UTC().Truncate(time.Second), CreatedAt: now})
	}
	return rows, nil
}

// checkGrantee makes sure the account or the usable EAB key exists.
func checkGrantee(tx *store.Tx, req GrantRequest) error {
	if req.AccountID != "" {
		if _, err := tx.Account(req.AccountID); err != nil {
			return fmt.Errorf("state: granting to account %s: %w", req.AccountID, err)
		}
		return nil
	}
	k, err := tx.EABKey(req.EABKeyID)
	if err != nil {
		return fmt.Errorf("state: granting to EAB key %s: %w", req.EABKeyID, err)
	}
	if k.RevokedAt != nil {
		return fmt.Errorf("state: EAB key %s is revoked", req.EABKeyID)
	}
	return nil
}

func (g Grants) newID() (string, error) {
	r := g.Rand
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 12)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("state: generating grant ID: %w", err)
	}
	return "grant_" + hex.EncodeToString(b), nil
}

// Revoke revokes an active grant and, in the same transaction, deactivates
// the authorizations made from it and invalidates the pending and ready
// orders that use them, with one [EventGrantRevoked] audit event listing
// them. reason may be empty. It returns the number of authorizations
// deactivated; a missing or already revoked grant yields an error wrapping
// [store.ErrNotFound].
func (g Grants) Revoke(ctx context.Context, id, reason string) (int, error) {
	now := g.now()
	var deactivated []string
	err := g.Store.Transact(ctx, func(tx *store.Tx) error {
		deactivated = deactivated[:0]
		grant, err := tx.Grant(id)
		if err != nil {
			return err
		}
		// Revoke first: the row lock makes an order that is reading the
		// grant finish before its authorizations are listed below.
		if err := tx.RevokeGrant(id, now); err != nil {
			return err
		}
		authzs, err := tx.GrantedAuthorizations(id, []string{StatusValid, StatusPending})
		if err != nil {
			return err
		}
		why := "the ownership grant for " + grant.Pattern + " was revoked"
		for _, a := range authzs {
			err := tx.SetAuthorizationStatus(a.ID, []string{StatusValid, StatusPending},
				StatusDeactivated)
			if err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
			if err := invalidateOrders(tx, a.ID, why); err != nil {
				return err
			}
			deactivated = append(deactivated, a.ID)
		}
		return tx.Audit(store.Event{Type: EventGrantRevoked, Actor: g.actor(),
			Subject: "grant:" + id, Outcome: OutcomeSuccess, Reason: reason,
			Data: map[string]any{"account_id": grant.AccountID, "eab_key_id": grant.EABKeyID,
				"pattern": grant.Pattern, "deactivated_authorizations": deactivated}})
	})
	if err != nil {
		return 0, err
	}
	return len(deactivated), nil
}
