package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// UsedToken records the jti of a token presented for a token challenge, so
// that each token authorizes once across all replicas.
type UsedToken struct {
	Issuer  string    `gorm:"primaryKey;size:200"`
	JTI     string    `gorm:"primaryKey;size:256"`
	Expires time.Time `gorm:"index"`
}

// ErrTokenUsed is returned by [TokenReplayCache.Use] for a token seen before.
var ErrTokenUsed = errors.New("store: token already used")

// TokenReplayCache implements the replay cache of the token challenge over
// the database.
type TokenReplayCache struct {
	Store *Store
	// Replayed is the error returned for a token seen before; the
	// validator's own sentinel is set here so it can recognise it.
	Replayed error
}

// Use records (issuer, jti) until expires and reports Replayed when it was
// recorded before.
func (c TokenReplayCache) Use(ctx context.Context, issuer, jti string, expires time.Time) error {
	err := c.Store.Transact(ctx, func(tx *Tx) error {
		return tx.db.Create(&UsedToken{Issuer: issuer, JTI: jti, Expires: expires}).Error
	})
	if errors.Is(err, ErrConflict) || errors.Is(err, gorm.ErrDuplicatedKey) {
		if c.Replayed != nil {
			return c.Replayed
		}
		return ErrTokenUsed
	}
	if err != nil {
		return fmt.Errorf("store: recording token use: %w", err)
	}
	return nil
}
