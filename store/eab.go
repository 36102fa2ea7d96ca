package store

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// CreateEABKey inserts an external account binding key.
func (tx *Tx) CreateEABKey(k *EABKey) error {
	if err := tx.db.Create(k).Error; err != nil {
		return fmt.Errorf("store: creating EAB key: %w", translate(err))
	}
	return nil
}

// EABKey loads an EAB key by ID.
func (tx *Tx) EABKey(id string) (*EABKey, error) {
	var k EABKey
	if err := tx.db.Where("id = ?", id).Take(&k).Error; err != nil {
		return nil, fmt.Errorf("store: loading EAB key %s: %w", id, translate(err))
	}
	return &k, nil
}

// EABKeys lists all EAB keys, newest first; the MAC keys are not loaded.
func (tx *Tx) EABKeys() ([]EABKey, error) {
	var rows []EABKey
	if err := tx.db.Omit("mac_key").Order("created_at DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: listing EAB keys: %w", err)
	}
	return rows, nil
}

// BindEABKey counts one more account bound to the key. A single-use key
// that is already bound, or a revoked key, yields [ErrConflict].
func (tx *Tx) BindEABKey(id string) error {
	q := tx.db.Model(&EABKey{}).Where("id = ? AND revoked_at IS NULL", id)
	q = q.Where("reusable = ? OR bindings = 0", true)
	res := q.Update("bindings", gorm.Expr("bindings + ?", 1))
	if res.Error != nil {
		return fmt.Errorf("store: binding EAB key %s: %w", id, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("store: EAB key %s is revoked or already used: %w", id, ErrConflict)
	}
	return nil
}

// RevokeEABKey marks a key revoked so it binds no further accounts.
func (tx *Tx) RevokeEABKey(id string, at time.Time) error {
	res := tx.db.Model(&EABKey{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", at)
	if res.Error != nil {
		return fmt.Errorf("store: revoking EAB key %s: %w", id, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("store: EAB key %s: %w", id, ErrNotFound)
	}
	return nil
}
