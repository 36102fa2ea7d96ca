package store

import (
	"fmt"
	"time"
)

// AdminToken is a bearer token of the admin API. Only the SHA-256 of the
// token is kept: the token itself is shown once, when it is created, and
// cannot be read back.
type AdminToken struct {
	ID string `gorm:"primaryKey;size:40"`
	// Label says who or what holds the token; it names the operator in
	// audit events.
	Label string `gorm:"size:200;not null"`
	// Hash is the hex SHA-256 of the token.
	Hash      string `gorm:"size:64;not null;uniqueIndex"`
	CreatedAt time.Time
	RevokedAt *time.Time
}

// CreateAdminToken inserts a token row; a duplicate ID or hash yields
// [ErrConflict].
func (tx *Tx) CreateAdminToken(t *AdminToken) error {
	if err := tx.db.Create(t).Error; err != nil {
		return fmt.Errorf("store: creating admin token: %w", translate(err))
	}
	return nil
}

// AdminTokenByHash loads the token whose hash is hash, revoked or not;
// [ErrNotFound] when there is none.
func (tx *Tx) AdminTokenByHash(hash string) (*AdminToken, error) {
	var t AdminToken
	if err := tx.db.Where("hash = ?", hash).Take(&t).Error; err != nil {
		return nil, fmt.Errorf("store: loading admin token: %w", translate(err))
	}
	return &t, nil
}

// AdminTokens lists every token, newest first.
func (tx *Tx) AdminTokens() ([]AdminToken, error) {
	var rows []AdminToken
	if err := tx.db.Order("created_at DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: listing admin tokens: %w", err)
	}
	return rows, nil
}

// RevokeAdminToken marks the token id revoked at the given time. An unknown
// or already revoked token yields [ErrNotFound].
func (tx *Tx) RevokeAdminToken(id string, at time.Time) error {
	res := tx.db.Model(&AdminToken{}).Where("id = ? AND revoked_at IS NULL", id).
		Update("revoked_at", at)
	if res.Error != nil {
		return fmt.Errorf("store: revoking admin token %s: %w", id, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("store: admin token %s: %w", id, ErrNotFound)
	}
	return nil
}
