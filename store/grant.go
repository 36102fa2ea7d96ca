package store

import (
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// OwnershipGrant pre-approves identifiers for one account, or for every
// account bound with one EAB key: while it is active, new authorizations
// for identifiers its pattern covers are created valid without a
// challenge. Exactly one of AccountID and EABKeyID is set. Rows are never
// deleted: revocation sets RevokedAt, so the record of who was granted
// what, why and by whom stays.
type OwnershipGrant struct {
	// ID is "grant_" followed by random hex.
	ID        string `gorm:"primaryKey;size:40"`
	AccountID string `gorm:"size:40;index"`
	EABKeyID  string `gorm:"size:64;index"`
	// Pattern is an exact DNS name, "*." and a DNS suffix (any name below
	// it), an IP address or an IP prefix in CIDR form; the state machine
	// parses and matches it.
	Pattern string `gorm:"size:255;not null"`
	// Reason says why the grant was made; Owner names who asked for it.
	Reason    string    `gorm:"type:text;not null"`
	Owner     string    `gorm:"size:200;not null"`
	Expires   time.Time `gorm:"index"`
	CreatedAt time.Time
	RevokedAt *time.Time
}

// TableName names the table of [OwnershipGrant].
func (OwnershipGrant) TableName() string { return "ownership_grants" }

// Active reports whether the grant is in force at now: not revoked and not
// expired.
func (g *OwnershipGrant) Active(now time.Time) bool {
	return g.RevokedAt == nil && now.Before(g.Expires)
}

// CreateGrant inserts a grant.
func (tx *Tx) CreateGrant(g *OwnershipGrant) error {
	if err := tx.db.Create(g).Error; err != nil {
		return fmt.Errorf("store: creating grant: %w", translate(err))
	}
	return nil
}

// Grant loads a grant by ID.
func (tx *Tx) Grant(id string) (*OwnershipGrant, error) {
	var g OwnershipGrant
	if err := tx.db.Where("id = ?", id).Take(&g).Error; err != nil {
		return nil, fmt.Errorf("store: loading grant %s: %w", id, translate(err))
	}
	return &g, nil
}

// Grants lists every grant, revoked and expired ones included, newest
// first.
func (tx *Tx) Grants() ([]OwnershipGrant, error) {
	var rows []OwnershipGrant
	if err := tx.db.Order("created_at DESC, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: listing grants: %w", err)
	}
	return rows, nil
}

// ActiveGrants returns the grants in force at now for the account or, when
// eabKeyID is not empty, for the EAB key it was bound with.
//
// On PostgreSQL and MySQL the rows are read with a shared lock, so that a
// concurrent [Tx.RevokeGrant] waits for this transaction, and
// [Tx.GrantedAuthorizations] then sees the authorizations it made. SQLite
// runs one write transaction at a time.
func (tx *Tx) ActiveGrants(accountID, eabKeyID string, now time.Time) ([]OwnershipGrant, error) {
	q := tx.db.Where("revoked_at IS NULL AND expires > ?", now)
	if eabKeyID != "" {
		q = q.Where("account_id = ? OR eab_key_id = ?", accountID, eabKeyID)
	} else {
		q = q.Where("account_id = ?", accountID)
	}
	if tx.store.dialect != SQLite {
		q = q.Clauses(clause.Locking{Strength: "SHARE"})
	}
	var rows []OwnershipGrant
	if err := q.Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: listing grants of account %s: %w", accountID, err)
	}
	return rows, nil
}

// RevokeGrant marks a grant revoked at the given time; a missing or
// already revoked grant yields [ErrNotFound].
func (tx *Tx) RevokeGrant(id string, at time.Time) error {
	res := tx.db.Model(&OwnershipGrant{}).Where("id = ? AND revoked_at IS NULL", id).
		Update("revoked_at", at)
	if res.Error != nil {
		return fmt.Errorf("store: revoking grant %s: %w", id, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("store: grant %s is missing or already revoked: %w", id, ErrNotFound)
	}
	return nil
}

// GrantedAuthorizations returns the authorizations made from a grant that
// are in one of the statuses. On MySQL the rows are read with a lock,
// which reads the latest committed rows: its repeatable reads would
// otherwise miss the authorizations of a transaction that
// [Tx.RevokeGrant] waited for.
func (tx *Tx) GrantedAuthorizations(grantID string, statuses []string) ([]Authorization, error) {
	q := tx.db.Where("grant_id = ? AND status IN ?", grantID, statuses)
	if tx.store.dialect == MySQL {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var rows []Authorization
	err := q.Order("id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: listing authorizations of grant %s: %w", grantID, err)
	}
	return rows, nil
}
