package store

import (
	"fmt"
	"time"
)

// PurgeCounts reports what [Tx.PurgeExpired] deleted.
type PurgeCounts struct {
	Orders         int64 `json:"orders"`
	Authorizations int64 `json:"authorizations"`
	Challenges     int64 `json:"challenges"`
	Certificates   int64 `json:"certificates"`
}

// PurgeExpired deletes what no longer matters: orders that never led to a
// certificate (pending, ready or invalid) and expired before
// orderCutoff; authorizations (with their challenges) that expired before
// orderCutoff and no remaining order uses; and, when certCutoff is not
// zero, certificates that expired before certCutoff. Valid orders stay as
// long as their certificate does, and audit events are never deleted.
func (tx *Tx) PurgeExpired(orderCutoff, certCutoff time.Time) (PurgeCounts, error) {
	var n PurgeCounts
	dead := tx.db.Model(&Order{}).Select("id").
		Where("status IN ? AND expires < ?", []string{"pending", "ready", "invalid"}, orderCutoff)
	if err := tx.db.Where("order_id IN (?)", dead).Delete(&OrderAuthorization{}).Error; err != nil {
		return n, fmt.Errorf("store: purging order links: %w", err)
	}
	res := tx.db.Where("status IN ? AND expires < ?", []string{"pending", "ready", "invalid"},
		orderCutoff).Delete(&Order{})
	if res.Error != nil {
		return n, fmt.Errorf("store: purging orders: %w", res.Error)
	}
	n.Orders = res.RowsAffected

	used := tx.db.Model(&OrderAuthorization{}).Select("authz_id")
	oldAuthz := tx.db.Model(&Authorization{}).Select("id").
		Where("expires < ? AND id NOT IN (?)", orderCutoff, used)
	res = tx.db.Where("authz_id IN (?)", oldAuthz).Delete(&Challenge{})
	if res.Error != nil {
		return n, fmt.Errorf("store: purging challenges: %w", res.Error)
	}
	n.Challenges = res.RowsAffected
	res = tx.db.Where("expires < ? AND id NOT IN (?)", orderCutoff, used).Delete(&Authorization{})
	if res.Error != nil {
		return n, fmt.Errorf("store: purging authorizations: %w", res.Error)
	}
	n.Authorizations = res.RowsAffected

	if !certCutoff.IsZero() {
		res = tx.db.Where("not_after < ?", certCutoff).Delete(&Certificate{})
		if res.Error != nil {
			return n, fmt.Errorf("store: purging certificates: %w", res.Error)
		}
		n.Certificates = res.RowsAffected
	}
	return n, nil
}
