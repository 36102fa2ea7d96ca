package store

import (
	"fmt"
	"time"
)

// CreateAuthorization inserts an authorization with its challenges.
func (tx *Tx) CreateAuthorization(a *Authorization, challenges []Challenge) error {
	if err := tx.db.Create(a).Error; err != nil {
		return fmt.Errorf("store: creating authorization: %w", translate(err))
	}
	for i := range challenges {
		challenges[i].AuthzID = a.ID
	}
	if len(challenges) > 0 {
		if err := tx.db.Create(&challenges).Error; err != nil {
			return fmt.Errorf("store: creating challenges: %w", translate(err))
		}
	}
	return nil
}

// Authorization loads an authorization by ID.
func (tx *Tx) Authorization(id string) (*Authorization, error) {
	var a Authorization
	if err := tx.db.Where("id = ?", id).Take(&a).Error; err != nil {
		return nil, fmt.Errorf("store: loading authorization %s: %w", id, translate(err))
	}
	return &a, nil
}

// Authorizations loads several authorizations by ID, ordered by ID.
func (tx *Tx) Authorizations(ids []string) ([]Authorization, error) {
	var rows []Authorization
	if len(ids) == 0 {
		return rows, nil
	}
	if err := tx.db.Where("id IN ?", ids).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: loading authorizations: %w", err)
	}
	return rows, nil
}

// ReusableAuthorization finds an authorization of the account for the
// identifier that is valid (or pending, when pending is true), not a
// wildcard mismatch, of the same profile, and expires after minExpiry.
func (tx *Tx) ReusableAuthorization(accountID, idType, value string, wildcard bool, profile string,
	minExpiry time.Time, pending bool) (*Authorization, error) {
	statuses := []string{"valid"}
	if pending {
		statuses = append(statuses, "pending")
	}
	var a Authorization
	err := tx.db.Where("account_id = ? AND identifier_value = ? AND identifier_type = ? "+
		"AND wildcard = ? AND profile = ? AND status IN ? AND expires > ?",
		accountID, value, idType, wildcard, profile, statuses, minExpiry).
		Order("expires DESC").Take(&a).Error
	if err != nil {
		return nil, fmt.Errorf("store: finding reusable authorization: %w", translate(err))
	}
	return &a, nil
}

// SetAuthorizationStatus moves an authorization from one of from to to,
// reporting [ErrConflict] if it was elsewhere.
func (tx *Tx) SetAuthorizationStatus(id string, from []string, to string) error {
	res := tx.db.Model(&Authorization{}).Where("id = ? AND status IN ?", id, from).
		Updates(map[string]any{"status": to, "updated_at": tx.Now()})
	if res.Error != nil {
		return fmt.Errorf("store: updating authorization %s: %w", id, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("store: authorization %s is not in state %v: %w", id, from, ErrConflict)
	}
	return nil
}

// ValidAuthorizationsFor returns the account's valid, unexpired
// authorizations for any of the given identifier values.
func (tx *Tx) ValidAuthorizationsFor(accountID string, values []string, now time.Time) ([]Authorization, error) {
	var rows []Authorization
	err := tx.db.Where("account_id = ? AND identifier_value IN ? AND status = ? AND expires > ?",
		accountID, values, "valid", now).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: listing valid authorizations: %w", err)
	}
	return rows, nil
}

// Challenges returns the challenges of an authorization in offer order.
func (tx *Tx) Challenges(authzID string) ([]Challenge, error) {
	var rows []Challenge
	if err := tx.db.Where("authz_id = ?", authzID).Order("position").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: loading challenges of %s: %w", authzID, err)
	}
	return rows, nil
}

// ChallengesFor returns the challenges of several authorizations.
func (tx *Tx) ChallengesFor(authzIDs []string) ([]Challenge, error) {
	var rows []Challenge
	if len(authzIDs) == 0 {
		return rows, nil
	}
	err := tx.db.Where("authz_id IN ?", authzIDs).Order("authz_id, position").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: loading challenges: %w", err)
	}
	return rows, nil
}

// Challenge loads one challenge by ID.
func (tx *Tx) Challenge(id string) (*Challenge, error) {
	var c Challenge
	if err := tx.db.Where("id = ?", id).Take(&c).Error; err != nil {
		return nil, fmt.Errorf("store: loading challenge %s: %w", id, translate(err))
	}
	return &c, nil
}

// SetChallengeStatus moves a challenge from one of from to to with extra
// column updates, reporting [ErrConflict] if it was elsewhere. Moving
// pending to processing this way makes a client's retry unable to start a
// second validation.
func (tx *Tx) SetChallengeStatus(id string, from []string, to string, fields map[string]any) error {
	updates := map[string]any{"status": to, "updated_at": tx.Now()}
	for k, v := range fields {
		updates[k] = v
	}
	res := tx.db.Model(&Challenge{}).Where("id = ? AND status IN ?", id, from).Updates(updates)
	if res.Error != nil {
		return fmt.Errorf("store: updating challenge %s: %w", id, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("store: challenge %s is not in state %v: %w", id, from, ErrConflict)
	}
	return nil
}

// StuckChallenges returns challenges in processing since before the given
// time, left behind by a crash.
func (tx *Tx) StuckChallenges(before time.Time, limit int) ([]Challenge, error) {
	var rows []Challenge
	err := tx.db.Where("status = ? AND updated_at < ?", "processing", before).
		Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: listing processing challenges: %w", err)
	}
	return rows, nil
}

// ExtendAuthorization sets the expiry of an authorization, as when it
// becomes valid and may be reused until then.
func (tx *Tx) ExtendAuthorization(id string, expires time.Time) error {
	res := tx.db.Model(&Authorization{}).Where("id = ?", id).
		Updates(map[string]any{"expires": expires, "updated_at": tx.Now()})
	if res.Error != nil {
		return fmt.Errorf("store: extending authorization %s: %w", id, res.Error)
	}
	return nil
}
