package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Lease is a named, expiring claim that one replica holds at a time, such
// as the right to run background upkeep.
type Lease struct {
	Name string `gorm:"primaryKey;size:64"`
	// Holder identifies the claimant, typically a random ID per process.
	Holder    string    `gorm:"size:64;not null"`
	ExpiresAt time.Time `gorm:"not null"`
}

// TryLease claims the lease name for holder until ttl from now, by the
// store's clock. It returns true when holder now holds the lease: it was
// free, it had expired, or holder already held it (the expiry is then
// pushed out, so a holder renews by calling again before ttl passes). It
// returns false while another holder's claim is unexpired.
//
// Each step is one atomic statement, so concurrent callers on any number of
// replicas never both get true for an unexpired lease. The expiry is
// compared with the caller's clock: replicas' clocks must agree to well
// within ttl.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.now()
	expires := now.Add(ttl)
	db := s.db.WithContext(ctx)

	// 1. Renew our own claim or take over an expired one. The condition
	// is checked against the row as it is when the update runs, which the
	// row lock makes the latest committed version on every database.
	res := db.Model(&Lease{}).
		Where("name = ? AND (holder = ? OR expires_at < ?)", name, holder, now).
		Updates(map[string]any{"holder": holder, "expires_at": expires})
	if res.Error != nil {
		return false, fmt.Errorf("store: renewing lease %s: %w", name, res.Error)
	}
	if res.RowsAffected == 1 {
		return true, nil
	}

	// 2. No row we could take: create it unless another holder has one.
	// A plain insert, not an upsert: MySQL counts a no-op "ON DUPLICATE
	// KEY" as an affected row when it reports found rows, as we configure
	// it to.
	err := db.Create(&Lease{Name: name, Holder: holder, ExpiresAt: expires}).Error
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return false, nil
	}
	return false, fmt.Errorf("store: creating lease %s: %w", name, err)
}
