package store

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// PolicyVersion is one saved version of the issuance policy document. Rows
// are never changed or deleted: a change is a new version, so the history
// of what was in force, and who put it there, stays on record.
type PolicyVersion struct {
	// Version numbers start at 1 and grow by one with each save.
	Version int `gorm:"primaryKey;autoIncrement:false"`
	// Document is the YAML text exactly as the operator wrote it.
	Document string `gorm:"type:text;not null"`
	// SHA256 is the hex SHA-256 of Document, for comparing versions.
	SHA256 string `gorm:"size:64;not null"`
	// Author names who saved the version.
	Author    string `gorm:"size:200"`
	CreatedAt time.Time
}

// SavePolicy stores p as the version after the newest one, setting
// p.Version, and appends ev to the audit chain in the same transaction.
// An empty ev.Subject becomes "policy:v<version>". Two concurrent saves
// cannot both take the same number: the loser gets [ErrConflict] and may
// retry.
func (tx *Tx) SavePolicy(p *PolicyVersion, ev Event) error {
	var latest int
	err := tx.db.Model(&PolicyVersion{}).Select("COALESCE(MAX(version), 0)").Scan(&latest).Error
	if err != nil {
		return fmt.Errorf("store: reading newest policy version: %w", err)
	}
	p.Version = latest + 1
	if err := tx.db.Create(p).Error; err != nil {
		return fmt.Errorf("store: saving policy version %d: %w", p.Version, translate(err))
	}
	if ev.Subject == "" {
		ev.Subject = fmt.Sprintf("policy:v%d", p.Version)
	}
	return tx.Audit(ev)
}

// LatestPolicy loads the newest policy version; [ErrNotFound] means none
// was ever saved.
func (tx *Tx) LatestPolicy() (*PolicyVersion, error) {
	var p PolicyVersion
	if err := tx.db.Order("version DESC").Take(&p).Error; err != nil {
		return nil, fmt.Errorf("store: loading newest policy: %w", translate(err))
	}
	return &p, nil
}

// LatestPolicyVersion returns the number of the newest policy version, or
// 0 when none was saved. Gateways poll it to notice a change cheaply.
func (tx *Tx) LatestPolicyVersion() (int, error) {
	var v int
	err := tx.db.Model(&PolicyVersion{}).Select("COALESCE(MAX(version), 0)").Scan(&v).Error
	if err != nil {
		return 0, fmt.Errorf("store: reading newest policy version: %w", err)
	}
	return v, nil
}

// Policy loads one policy version by number.
func (tx *Tx) Policy(version int) (*PolicyVersion, error) {
	var p PolicyVersion
	if err := tx.db.Where("version = ?", version).Take(&p).Error; err != nil {
		return nil, fmt.Errorf("store: loading policy version %d: %w", version, translate(err))
	}
	return &p, nil
}

// PolicyVersions lists up to limit versions, newest first, without their
// documents.
func (tx *Tx) PolicyVersions(limit int) ([]PolicyVersion, error) {
	var rows []PolicyVersion
	err := tx.db.Omit("document").Order("version DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: listing policy versions: %w", err)
	}
	return rows, nil
}

// OrderCursor marks a position in [Tx.OrdersCreatedBetween]; the zero value
// starts at the beginning.
type OrderCursor struct {
	CreatedAt time.Time
	ID        string
}

// OrdersCreatedBetween returns up to limit orders created in [from, to),
// oldest first, after the cursor (pass the last row's CreatedAt and ID to
// get the next page).
func (tx *Tx) OrdersCreatedBetween(from, to time.Time, after OrderCursor,
	limit int) ([]Order, error) {
	q := tx.db.Where("created_at >= ? AND created_at < ?", from, to)
	if after.ID != "" {
		q = q.Where("created_at > ? OR (created_at = ? AND id > ?)",
			after.CreatedAt, after.CreatedAt, after.ID)
	}
	var rows []Order
	if err := q.Order("created_at, id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: listing orders created since %s: %w", from, err)
	}
	return rows, nil
}

// Window bounds the rows counted by the Recent* queries: those created
// after After and, when Before is not zero, before Before. Limit caps how
// many creation times are returned, newest first. A row created at T thus
// stays in a window of length L ending now while now < T + L.
type Window struct {
	After  time.Time
	Before time.Time
	Limit  int
}

// RecentOrders returns the creation times of an account's newest orders in
// w, newest first.
func (tx *Tx) RecentOrders(accountID string, w Window) ([]time.Time, error) {
	q := tx.db.Model(&Order{}).Where("account_id = ?", accountID)
	return recentTimes(w.apply(q), w.Limit, "orders of account "+accountID)
}

// RecentOrdersFor returns the creation times of the newest orders, of any
// account, that name the identifier value in w, newest first. The name's
// sets come from [NameSetMember], their orders from the set index.
func (tx *Tx) RecentOrdersFor(value string, w Window) ([]time.Time, error) {
	q := tx.db.Table(tx.tableIndexedBy("orders", "", "idx_orders_names_created")).
		Where("names_hash IN (?)", tx.setsWhere("name = ?", value))
	return recentTimes(w.apply(q), w.Limit, "orders for "+value)
}

// RecentCertificates returns the creation times of the newest
// certificates issued to an account in w, newest first.
func (tx *Tx) RecentCertificates(accountID string, w Window) ([]time.Time, error) {
	q := tx.db.Model(&Certificate{}).Where("account_id = ?", accountID)
	return recentTimes(w.apply(q), w.Limit, "certificates of account "+accountID)
}

// RecentCertificatesFor returns the creation times of the newest
// certificates, of any account, that name the DNS name or IP address in w,
// newest first. The name's sets come from [NameSetMember], their
// certificates from the set index.
func (tx *Tx) RecentCertificatesFor(name string, w Window) ([]time.Time, error) {
	q := tx.db.Table(tx.certificatesBy("", "idx_certificates_names_created")).
		Where("names_hash IN (?)", tx.setsWhere("name = ?", name))
	return recentTimes(w.apply(q), w.Limit, "certificates for "+name)
}

func (w Window) apply(q *gorm.DB) *gorm.DB {
	db := q.Where("created_at > ?", w.After)
	if !w.Before.IsZero() {
		db = db.Where("created_at < ?", w.Before)
	}
	return db
}

func recentTimes(q *gorm.DB, limit int, what string) ([]time.Time, error) {
	var times []time.Time
	if err := q.Order("created_at DESC").Limit(limit).Pluck("created_at", &times).Error; err != nil {
		return nil, fmt.Errorf("store: counting %s: %w", what, err)
	}
	return times, nil
}
