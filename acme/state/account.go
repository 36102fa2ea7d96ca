package state

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/jws"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/store"
)

// NewAccountRequest is the payload of newAccount (RFC 8555, Section 7.3).
type NewAccountRequest struct {
	Contact                []string
	TermsOfServiceAgreed   bool
	OnlyReturnExisting     bool
	ExternalAccountBinding json.RawMessage
	// URL is the newAccount URL the request was signed for; the EAB inner
	// JWS must name the same URL.
	URL string
}

// NewAccount creates an account for key, or returns the existing one bound
// to it (RFC 8555, Section 7.3.1). created reports whether a new account
// was made.
func (e *Engine) NewAccount(ctx context.Context, key *jose.JSONWebKey, req NewAccountRequest) (*Account, bool, error) {
	thumb, err := jws.Thumbprint(key)
	if err != nil {
		return nil, false, problem.New(problem.BadPublicKey, "cannot compute the key thumbprint")
	}

	// 1. An existing account for this key is returned as it is, unless it
	// was deactivated (RFC 8555, Section 7.3.6).
	existing, err := e.store.Read(ctx).AccountByThumbprint(e.cfg.Directory, thumb)
	if err == nil {
		acct, err := accountFromModel(existing)
		if err != nil {
			return nil, false, err
		}
		if acct.Status != StatusValid {
			return nil, false, problem.New(problem.Unauthorized, "the account for this key is %s", acct.Status)
		}
		return acct, false, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	if req.OnlyReturnExisting {
		return nil, false, problem.New(problem.AccountDoesNotExist, "no account exists for this key")
	}

	// 2. Check what the new account asks for.
	if e.cfg.TermsOfService != "" && !req.TermsOfServiceAgreed {
		return nil, false, problem.New(problem.UserActionRequired,
			"the terms of service at %s must be agreed to", e.cfg.TermsOfService)
	}
	if err := checkContacts(req.Contact); err != nil {
		return nil, false, err
	}
	if spki, err := x509.MarshalPKIXPublicKey(key.Key); err == nil {
		if err := e.checkNotBlocked(e.store.Read(ctx), spki, problem.BadPublicKey); err != nil {
			return nil, false, err
		}
	}
	eabKeyID, err := e.checkEAB(ctx, key, req)
	if err != nil {
		return nil, false, err
	}

	// 3. Store the account, the EAB binding and the audit event together.
	id, err := e.newID()
	if err != nil {
		return nil, false, err
	}
	keyJSON, err := key.MarshalJSON()
	if err != nil {
		return nil, false, fmt.Errorf("state: encoding account key: %w", err)
	}
	row := &store.Account{
		ID:            id,
		Directory:     e.cfg.Directory,
		KeyThumbprint: thumb,
		KeyJWK:        string(keyJSON),
		Status:        StatusValid,
		Contacts:      mustJSON(nonNil(req.Contact)),
		TermsAgreed:   req.TermsOfServiceAgreed,
		EABKeyID:      eabKeyID,
	}
	err = e.store.Transact(ctx, func(tx *store.Tx) error {
		if eabKeyID != "" {
			if err := tx.BindEABKey(eabKeyID); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return problem.New(problem.Unauthorized,
						"the external account binding key is revoked or already bound to an account")
				}
				return err
			}
		}
		if err := tx.CreateAccount(row); err != nil {
			return err
		}
		return tx.Audit(store.Event{
			Type: EventAccountCreated, Actor: id, Subject: "account:" + id,
			Outcome: OutcomeSuccess,
			Data: map[string]any{"thumbprint": thumb, "eab_key_id": eabKeyID,
				"policy": policyAudit(e.governingRule(id, eabKeyID))},
		})
	})
	if errors.Is(err, store.ErrConflict) {
		// Another request created the account for this key first.
		return e.NewAccount(ctx, key, NewAccountRequest{OnlyReturnExisting: true})
	}
	if err != nil {
		return nil, false, err
	}
	acct, err := accountFromModel(row)
	return acct, true, err
}

// checkEAB verifies the external account binding when one is sent or
// required (RFC 8555, Section 7.3.4) and returns the key ID it names.
func (e *Engine) checkEAB(ctx context.Context, key *jose.JSONWebKey, req NewAccountRequest) (string, error) {
	if len(req.ExternalAccountBinding) == 0 || string(req.ExternalAccountBinding) == "null" {
		if e.cfg.RequireEAB {
			return "", problem.New(problem.ExternalAccountRequired,
				"this server requires an external account binding; ask the operator for a key")
		}
		return "", nil
	}
	lookup := func(kid string) ([]byte, error) {
		k, err := e.store.Read(ctx).EABKey(kid)
		if errors.Is(err, store.ErrNotFound) {
			return nil, problem.New(problem.Unauthorized, "unknown external account binding key")
		}
		if err != nil {
			return nil, err
		}
		if k.RevokedAt != nil {
			return nil, problem.New(problem.Unauthorized, "the external account binding key is revoked")
		}
		if k.Directory != e.cfg.Directory {
			// A key made for another directory does not exist here
			// (SECURITY-CATALOGUE C6).
			return nil, problem.New(problem.Unauthorized, "unknown external account binding key")
		}
		return k.MACKey, nil
	}
	return jws.VerifyExternalAccountBinding(req.ExternalAccountBinding, req.URL, key, lookup)
}

// checkContacts accepts mailto: URLs with one valid address each
// (RFC 8555, Section 7.3).
func checkContacts(contacts []string) error {
	if len(contacts) > 10 {
		return problem.New(problem.InvalidContact, "at most 10 contacts are allowed")
	}
	for _, c := range contacts {
		addr, ok := strings.CutPrefix(c, "mailto:")
		if !ok {
			return problem.New(problem.UnsupportedContact,
				"contact %q is not supported: only mailto: URLs are", truncate(c, 100))
		}
		if strings.ContainsAny(addr, ",?") {
			return problem.New(problem.InvalidContact,
				"contact %q must hold exactly one address and no header fields", truncate(c, 100))
		}
		parsed, err := mail.ParseAddress(addr)
		if err != nil || parsed.Address != addr {
			return problem.New(problem.InvalidContact, "contact %q is not a valid email address",
				truncate(c, 100))
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Account loads a usable account by ID. A missing account yields
// accountDoesNotExist; a deactivated one, unauthorized (RFC 8555,
// Section 7.3.6).
func (e *Engine) Account(ctx context.Context, id string) (*Account, error) {
	var gen uint64
	if e.accounts != nil {
		var acct *Account
		if acct, gen = e.accounts.get(id); acct != nil {
			return acct, nil
		}
	}
	row, err := e.store.Read(ctx).Account(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, problem.New(problem.AccountDoesNotExist, "account does not exist")
	}
	if err != nil {
		return nil, err
	}
	if row.Directory != e.cfg.Directory {
		// An account of another directory does not exist here
		// (SECURITY-CATALOGUE A10).
		return nil, problem.New(problem.AccountDoesNotExist, "account does not exist")
	}
	acct, err := accountFromModel(row)
	if err != nil {
		return nil, err
	}
	if acct.Status != StatusValid {
		return nil, problem.New(problem.Unauthorized, "account is %s", acct.Status)
	}
	if e.accounts != nil {
		e.accounts.put(gen, acct)
	}
	return acct, nil
}

// accountChanged drops the cached copy of account id after a change.
func (e *Engine) accountChanged(id string) {
	if e.accounts != nil {
		e.accounts.forget(id)
	}
}

// UpdateAccountRequest is the payload of an account update (RFC 8555,
// Section 7.3.2). Nil fields stay unchanged.
type UpdateAccountRequest struct {
	Contact *[]string
	Status  string
}

// UpdateAccount changes contacts or deactivates the account.
func (e *Engine) UpdateAccount(ctx context.Context, acct *Account, req UpdateAccountRequest) (*Account, error) {
	if req.Status != "" && req.Status != StatusDeactivated && req.Status != acct.Status {
		return nil, problem.New(problem.Malformed, "status may only be changed to deactivated")
	}
	if req.Contact == nil && (req.Status == "" || req.Status == acct.Status) {
		return acct, nil
	}
	updated := *acct
	event := EventAccountUpdated
	if req.Contact != nil {
		if err := checkContacts(*req.Contact); err != nil {
			return nil, err
		}
		updated.Contacts = nonNil(*req.Contact)
	}
	if req.Status == StatusDeactivated {
		updated.Status = StatusDeactivated
		event = EventAccountDeactivated
	}
	defer e.accountChanged(acct.ID)
	err := e.store.Transact(ctx, func(tx *store.Tx) error {
		row, err := tx.Account(acct.ID)
		if err != nil {
			return err
		}
		row.Contacts = mustJSON(updated.Contacts)
		row.Status = updated.Status
		if err := tx.UpdateAccount(row); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: event, Actor: acct.ID, Subject: "account:" + acct.ID,
			Outcome: OutcomeSuccess, Data: map[string]any{"status": updated.Status}})
	})
	if err != nil {
		return nil, err
	}
	return &updated, nil
}

// ChangeKey rolls the account over to newKey (RFC 8555, Section 7.3.5). A
// key that belongs to another account yields a conflict whose Location is
// that account's ID (the caller turns it into a URL).
func (e *Engine) ChangeKey(ctx context.Context, acct *Account, newKey *jose.JSONWebKey) error {
	thumb, err := jws.Thumbprint(newKey)
	if err != nil {
		return problem.New(problem.BadPublicKey, "cannot compute the new key's thumbprint")
	}
	keyJSON, err := newKey.MarshalJSON()
	if err != nil {
		return fmt.Errorf("state: encoding new key: %w", err)
	}
	defer e.accountChanged(acct.ID)
	err = e.store.Transact(ctx, func(tx *store.Tx) error {
		if other, err := tx.AccountByThumbprint(e.cfg.Directory, thumb); err == nil {
			return &problem.Error{Type: problem.Conflict,
				Detail: "the new key is already in use by an account", Location: other.ID}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		row, err := tx.Account(acct.ID)
		if err != nil {
			return err
		}
		// dns-persist-01 records made with the old key keep naming the
		// account (draft-ietf-acme-dns-persist-02, Section 4.2).
		if err := tx.RetireAccountKey(row.ID, row.KeyThumbprint); err != nil {
			return err
		}
		row.KeyJWK = string(keyJSON)
		row.KeyThumbprint = thumb
		if err := tx.UpdateAccount(row); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: EventAccountKeyChanged, Actor: acct.ID,
			Subject: "account:" + acct.ID, Outcome: OutcomeSuccess,
			Data: map[string]any{"old_thumbprint": acct.Thumbprint, "new_thumbprint": thumb}})
	})
	if errors.Is(err, store.ErrConflict) {
		// The unique index on the thumbprint caught a concurrent rollover
		// to the same key.
		return &problem.Error{Type: problem.Conflict, Detail: "the new key is already in use by an account"}
	}
	return err
}
