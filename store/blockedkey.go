package store

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// BlockedKey is a public key that must never be certified or used as an
// account key again, after a keyCompromise revocation or an operator's
// report.
type BlockedKey struct {
	// KeyHash is the hex SHA-256 of the DER SubjectPublicKeyInfo.
	KeyHash   string `gorm:"primaryKey;size:64"`
	Reason    string `gorm:"type:text"`
	CreatedAt time.Time
}

// BlockKey records a compromised key; blocking a key twice is not an error.
func (tx *Tx) BlockKey(keyHash, reason string) error {
	err := tx.db.Create(&BlockedKey{KeyHash: keyHash, Reason: reason}).Error
	if err != nil && !errors.Is(err, gorm.ErrDuplicatedKey) {
		return fmt.Errorf("store: blocking key: %w", err)
	}
	return nil
}

// KeyBlocked reports whether a key hash is blocked.
func (tx *Tx) KeyBlocked(keyHash string) (bool, error) {
	var n int64
	if err := tx.db.Model(&BlockedKey{}).Where("key_hash = ?", keyHash).Count(&n).Error; err != nil {
		return false, fmt.Errorf("store: checking blocked key: %w", err)
	}
	return n > 0, nil
}
