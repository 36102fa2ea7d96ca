package store

import (
	"fmt"

	"gorm.io/gorm/clause"
)

// CreateAccount inserts a. A key already bound to an account yields
// [ErrConflict].
func (tx *Tx) CreateAccount(a *Account) error {
	if err := tx.db.Create(a).Error; err != nil {
		return fmt.Errorf("store: creating account: %w", translate(err))
	}
	return nil
}

// Account loads an account by ID.
func (tx *Tx) Account(id string) (*Account, error) {
	var a Account
	if err := tx.db.Where("id = ?", id).Take(&a).Error; err != nil {
		return nil, fmt.Errorf("store: loading account %s: %w", id, translate(err))
	}
	return &a, nil
}

// AccountByThumbprint loads the account of a directory bound to the key
// with the given RFC 7638 thumbprint.
func (tx *Tx) AccountByThumbprint(directory, thumbprint string) (*Account, error) {
	var a Account
	err := tx.db.Where("directory = ? AND key_thumbprint = ?", directory, thumbprint).Take(&a).Error
	if err != nil {
		return nil, fmt.Errorf("store: loading account by key: %w", translate(err))
	}
	return &a, nil
}

// UpdateAccount writes the mutable fields of a: status, contacts, key and
// terms agreement.
func (tx *Tx) UpdateAccount(a *Account) error {
	err := tx.db.Model(&Account{}).Where("id = ?", a.ID).Updates(map[string]any{
		"status":         a.Status,
		"contacts":       a.Contacts,
		"key_jwk":        a.KeyJWK,
		"key_thumbprint": a.KeyThumbprint,
		"terms_agreed":   a.TermsAgreed,
		"updated_at":     tx.Now(),
	}).Error
	if err != nil {
		return fmt.Errorf("store: updating account %s: %w", a.ID, translate(err))
	}
	return nil
}

// RetireAccountKey records that the account stopped using the key with
// the thumbprint, now. A key retired before keeps its record, with the new
// time.
func (tx *Tx) RetireAccountKey(accountID, thumbprint string) error {
	err := tx.db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "account_id"}, {Name: "thumbprint"}},
		DoUpdates: clause.AssignmentColumns([]string{"retired_at"}),
	}).Create(&RetiredAccountKey{AccountID: accountID, Thumbprint: thumbprint, RetiredAt: tx.Now()}).Error
	if err != nil {
		return fmt.Errorf("store: recording the retired key of account %s: %w", accountID, translate(err))
	}
	return nil
}

// RetiredAccountKeys returns the thumbprints of the keys the account used
// before its current one, the most recently retired first.
func (tx *Tx) RetiredAccountKeys(accountID string) ([]string, error) {
	var thumbprints []string
	err := tx.db.Model(&RetiredAccountKey{}).Where("account_id = ?", accountID).
		Order("retired_at DESC, thumbprint").Pluck("thumbprint", &thumbprints).Error
	if err != nil {
		return nil, fmt.Errorf("store: listing the retired keys of account %s: %w", accountID, err)
	}
	return thumbprints, nil
}
