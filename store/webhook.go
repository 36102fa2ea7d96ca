package store

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Cursor returns the audit sequence number stored under name in the
// settings table, for a reader that follows the audit log (such as the
// webhook dispatcher). The boolean is false when nothing was stored yet.
func (tx *Tx) Cursor(name string) (int64, bool, error) {
	var row Setting
	err := tx.db.Where("name = ?", name).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: reading cursor %s: %w", name, err)
	}
	seq, err := strconv.ParseInt(string(row.Value), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("store: cursor %s holds %q, not a number", name, row.Value)
	}
	return seq, true, nil
}

// SetCursor stores seq under name in the settings table, replacing any
// earlier value.
func (tx *Tx) SetCursor(name string, seq int64) error {
	row := Setting{Name: name, Value: strconv.AppendInt(nil, seq, 10)}
	err := tx.db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "name"}},
		DoUpdates: clause.AssignmentColumns([]string{"value"}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("store: saving cursor %s: %w", name, err)
	}
	return nil
}

// LatestAuditSeq returns the sequence number of the newest audit event, or
// 0 when the log is empty.
func (tx *Tx) LatestAuditSeq() (int64, error) {
	var head AuditHead
	if err := tx.db.Where("id = ?", 1).Limit(1).Find(&head).Error; err != nil {
		return 0, fmt.Errorf("store: reading audit head: %w", err)
	}
	return head.Seq, nil
}

// ExpiryNotice records that a certificate was reported as expiring without
// renewal, so that the report is made once per certificate. Retention
// purges it with the certificate ([Tx.PurgeExpired]).
type ExpiryNotice struct {
	Serial    string    `gorm:"primaryKey;size:64"`
	NotAfter  time.Time `gorm:"index"`
	CreatedAt time.Time
}

// ExpiringWithoutRenewal returns up to limit valid certificates whose
// notAfter lies in (now, before], that have no [ExpiryNotice] yet and no
// successor, soonest to expire first. A successor is a later certificate
// of the same account for the same names, or an order, valid or being
// issued, whose ARI replaces field names the certificate (RFC 9773,
// Section 5), whatever its names. The DER is not loaded.
func (tx *Tx) ExpiringWithoutRenewal(now, before time.Time, limit int) ([]Certificate, error) {
	later := tx.db.Table("certificates AS n").Select("1").
		Where("n.account_id = c.account_id AND n.names = c.names AND n.created_at > c.created_at")
	replacing := tx.db.Table("orders AS o").Select("1").
		Where("o.replaces = c.ari_id AND o.status IN ?", []string{"valid", "processing"})
	noticed := tx.db.Table("expiry_notices AS e").Select("1").Where("e.serial = c.serial")
	var rows []Certificate
	// Only certificates expiring soon can match: read them by expiry.
	err := tx.db.Table(tx.certificatesBy("c", "idx_certificates_not_after")).
		Select("c.serial, c.order_id, c.account_id, c.issuer_key_id, c.names, c.profile, "+
			"c.key_hash, c.not_before, c.not_after, c.status, c.replaces, c.created_at").
		Where("c.status = ? AND c.not_after > ? AND c.not_after <= ?", "valid", now, before).
		Where("NOT EXISTS (?)", later).
		Where("c.ari_id = ? OR c.ari_id IS NULL OR NOT EXISTS (?)", "", replacing).
		Where("NOT EXISTS (?)", noticed).
		Order("c.not_after").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: listing certificates expiring without renewal: %w", err)
	}
	return rows, nil
}

// RecordExpiryNotice records the notice for a certificate; a second notice
// for the same serial yields [ErrConflict].
func (tx *Tx) RecordExpiryNotice(serial string, notAfter time.Time) error {
	err := tx.db.Create(&ExpiryNotice{Serial: serial, NotAfter: notAfter}).Error
	if err != nil {
		return fmt.Errorf("store: recording expiry notice for %s: %w", serial, translate(err))
	}
	return nil
}
