package store

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// RedeemNonce records value as used until expires. It returns [ErrConflict]
// when the nonce was already redeemed, by this replica or any other.
func (tx *Tx) RedeemNonce(value string, expires time.Time) error {
	if err := tx.db.Create(&UsedNonce{Value: value, Expires: expires}).Error; err != nil {
		return fmt.Errorf("store: redeeming nonce: %w", translate(err))
	}
	return nil
}

// PurgeNonces deletes redeemed nonces that expired before now; an expired
// nonce is refused on its timestamp alone, so its row is no longer needed.
func (tx *Tx) PurgeNonces(now time.Time) (int64, error) {
	res := tx.db.Where("expires < ?", now).Delete(&UsedNonce{})
	if res.Error != nil {
		return 0, fmt.Errorf("store: purging nonces: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// SharedSecret returns the secret stored under name, creating it with n
// random bytes on first use. Every replica gets the same value, which lets
// one replica verify what another issued.
func (s *Store) SharedSecret(name string, n int) ([]byte, error) {
	var row Setting
	err := s.db.Where("name = ?", name).Take(&row).Error
	if err == nil {
		return row.Value, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("store: reading secret %s: %w", name, err)
	}
	secret := make([]byte, n)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("store: generating secret %s: %w", name, err)
	}
	err = s.db.Create(&Setting{Name: name, Value: secret}).Error
	if err != nil && !errors.Is(err, gorm.ErrDuplicatedKey) {
		return nil, fmt.Errorf("store: saving secret %s: %w", name, err)
	}
	// Another replica may have won the race: read back whichever value
	// was stored first.
	if err := s.db.Where("name = ?", name).Take(&row).Error; err != nil {
		return nil, fmt.Errorf("store: reading secret %s: %w", name, err)
	}
	return row.Value, nil
}
