package store

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// PurgeCounts reports what [Tx.PurgeExpired] deleted.
type PurgeCounts struct {
	Orders         int64 `json:"orders"`
	Authorizations int64 `json:"authorizations"`
	Challenges     int64 `json:"challenges"`
	Certificates   int64 `json:"certificates"`
	ExpiryNotices  int64 `json:"expiry_notices"`
}

// PurgeExpired deletes what no longer matters: orders that never led to a
// certificate (pending, ready or invalid) and expired before
// orderCutoff; authorizations (with their challenges) that expired before
// orderCutoff and no remaining order uses; and, when certCutoff is not
// zero, certificates that expired before certCutoff, with their
// [ExpiryNotice] records. Valid orders stay as
// long as their certificate does, and audit events are never deleted.
//
// Authorizations are examined without reading them all: one becomes
// purgeable when its last order is purged (the authorizations of the
// orders purged now) or when it expires past the cutoff with no order left
// (those that expired since the previous purge, whose cutoff the settings
// keep). The first purge of a database reads every expired authorization.
func (tx *Tx) PurgeExpired(orderCutoff, certCutoff time.Time) (PurgeCounts, error) {
	var n PurgeCounts
	dead := tx.db.Model(&Order{}).Select("id").
		Where("status IN ? AND expires < ?", []string{"pending", "ready", "invalid"}, orderCutoff)
	var orphaned []string
	err := tx.db.Model(&OrderAuthorization{}).Distinct("authz_id").Where("order_id IN (?)", dead).
		Pluck("authz_id", &orphaned).Error
	if err != nil {
		return n, fmt.Errorf("store: listing the authorizations of purged orders: %w", err)
	}
	if err := tx.db.Where("order_id IN (?)", dead).Delete(&OrderAuthorization{}).Error; err != nil {
		return n, fmt.Errorf("store: purging order links: %w", err)
	}
	res := tx.db.Where("status IN ? AND expires < ?", []string{"pending", "ready", "invalid"},
		orderCutoff).Delete(&Order{})
	if res.Error != nil {
		return n, fmt.Errorf("store: purging orders: %w", res.Error)
	}
	n.Orders = res.RowsAffected

	var since time.Time
	var mark Setting
	if err := tx.db.Where("name = ?", purgeMarkSetting).Limit(1).Find(&mark).Error; err != nil {
		return n, fmt.Errorf("store: reading the previous purge cutoff: %w", err)
	}
	if len(mark.Value) > 0 {
		if since, err = time.Parse(time.RFC3339Nano, string(mark.Value)); err != nil {
			return n, fmt.Errorf("store: parsing the previous purge cutoff %q: %w", mark.Value, err)
		}
	}
	var expired []string
	err = tx.db.Model(&Authorization{}).Where("expires >= ? AND expires < ?", since, orderCutoff).
		Pluck("id", &expired).Error
	if err != nil {
		return n, fmt.Errorf("store: listing expired authorizations: %w", err)
	}
	candidates := append(orphaned, expired...)
	for len(candidates) > 0 {
		chunk := candidates[:min(len(candidates), inListChunk)]
		candidates = candidates[len(chunk):]
		unused := tx.db.Model(&Authorization{}).Select("id").
			Where("id IN ? AND expires < ?", chunk, orderCutoff).
			Where("NOT EXISTS (?)", tx.db.Session(&gorm.Session{NewDB: true}).
				Table("order_authorizations AS l").Select("1").
				Where("l.authz_id = authorizations.id"))
		var ids []string
		if err := unused.Pluck("id", &ids).Error; err != nil {
			return n, fmt.Errorf("store: finding unused authorizations: %w", err)
		}
		if len(ids) == 0 {
			continue
		}
		res = tx.db.Where("authz_id IN ?", ids).Delete(&Challenge{})
		if res.Error != nil {
			return n, fmt.Errorf("store: purging challenges: %w", res.Error)
		}
		n.Challenges += res.RowsAffected
		res = tx.db.Where("id IN ?", ids).Delete(&Authorization{})
		if res.Error != nil {
			return n, fmt.Errorf("store: purging authorizations: %w", res.Error)
		}
		n.Authorizations += res.RowsAffected
	}
	mark = Setting{Name: purgeMarkSetting, Value: []byte(orderCutoff.UTC().Format(time.RFC3339Nano))}
	if err := tx.db.Save(&mark).Error; err != nil {
		return n, fmt.Errorf("store: recording the purge cutoff: %w", err)
	}

	if !certCutoff.IsZero() {
		res = tx.db.Where("not_after < ?", certCutoff).Delete(&Certificate{})
		if res.Error != nil {
			return n, fmt.Errorf("store: purging certificates: %w", res.Error)
		}
		n.Certificates = res.RowsAffected
		res = tx.db.Where("not_after < ?", certCutoff).Delete(&ExpiryNotice{})
		if res.Error != nil {
			return n, fmt.Errorf("store: purging expiry notices: %w", res.Error)
		}
		n.ExpiryNotices = res.RowsAffected
	}
	return n, nil
}

// purgeMarkSetting names the setting holding the order cutoff of the last
// purge.
const purgeMarkSetting = "retention_authz_cutoff"

// inListChunk bounds the values of one IN list, far under every database's
// limit on bound parameters.
const inListChunk = 500
