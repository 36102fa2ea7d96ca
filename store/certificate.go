package store

import (
	"fmt"
	"time"
)

// ReserveSerial records a serial number for an order before signing.
// A duplicate serial yields [ErrConflict].
func (tx *Tx) ReserveSerial(serial, orderID string) error {
	err := tx.db.Create(&SerialReservation{Serial: serial, OrderID: orderID}).Error
	if err != nil {
		return fmt.Errorf("store: reserving serial %s: %w", serial, translate(err))
	}
	return nil
}

// CreateCertificate stores an issued certificate, with its name set.
func (tx *Tx) CreateCertificate(c *Certificate) error {
	c.NamesHash = NameSetHash(c.Names)
	c.ARIID = CertificateID(c.IssuerKeyID, c.Serial)
	if err := tx.db.Create(c).Error; err != nil {
		return fmt.Errorf("store: storing certificate %s: %w", c.Serial, translate(err))
	}
	if err := recordNameSet(tx.db, c.Names); err != nil {
		return fmt.Errorf("store: recording the names of certificate %s: %w", c.Serial, translate(err))
	}
	return nil
}

// Certificate loads a certificate by its hex serial.
func (tx *Tx) Certificate(serial string) (*Certificate, error) {
	var c Certificate
	if err := tx.db.Where("serial = ?", serial).Take(&c).Error; err != nil {
		return nil, fmt.Errorf("store: loading certificate %s: %w", serial, translate(err))
	}
	return &c, nil
}

// RevokeCertificate marks a valid certificate revoked; it reports
// [ErrConflict] when the certificate is already revoked.
func (tx *Tx) RevokeCertificate(serial string, reason int, at time.Time) error {
	res := tx.db.Model(&Certificate{}).Where("serial = ? AND status = ?", serial, "valid").
		Updates(map[string]any{"status": "revoked", "revoked_at": at, "revocation_reason": reason})
	if res.Error != nil {
		return fmt.Errorf("store: revoking certificate %s: %w", serial, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("store: certificate %s is not valid: %w", serial, ErrConflict)
	}
	return nil
}

// CertificatesByKey returns the unexpired certificates whose public key has
// the given hash.
func (tx *Tx) CertificatesByKey(keyHash string, now time.Time) ([]Certificate, error) {
	var rows []Certificate
	err := tx.db.Where("key_hash = ? AND not_after > ?", keyHash, now).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: listing certificates by key: %w", err)
	}
	return rows, nil
}

// RevokedCertificates returns the revoked certificates of an issuer that
// have not yet expired at now, for the CRL.
func (tx *Tx) RevokedCertificates(issuerKeyID string, now time.Time) ([]Certificate, error) {
	var rows []Certificate
	err := tx.db.Select("serial", "revoked_at", "revocation_reason", "not_after").
		Where("issuer_key_id = ? AND status = ? AND not_after > ?", issuerKeyID, "revoked", now).
		Order("serial").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: listing revoked certificates: %w", err)
	}
	return rows, nil
}

// CertificateFilter selects certificates for the inventory.
type CertificateFilter struct {
	// NamePattern matches SAN values with SQL LIKE semantics ("%" wildcard).
	NamePattern string
	AccountID   string
	Profile     string
	// Status is "valid", "revoked" or "expired"; empty means any.
	Status        string
	ExpiresBefore time.Time
	IssuedAfter   time.Time
	IssuedBefore  time.Time
	Now           time.Time
	Limit         int
}

// ListCertificates returns certificates matching f, newest first. The DER
// is not loaded; use [Tx.Certificate] for that.
//
// A name filter is matched against the distinct names of [NameSetMember],
// not against every certificate: when few sets match, their certificates
// are read through the set index; when many do, the certificates are read
// newest first and kept when their set is among the matching ones.
func (tx *Tx) ListCertificates(f CertificateFilter) ([]Certificate, error) {
	index := listIndex(f)
	var sets []string
	var many bool
	if f.NamePattern != "" {
		var err error
		if sets, many, err = tx.matchingNameSets(f.NamePattern); err != nil {
			return nil, err
		}
		if len(sets) == 0 {
			return nil, nil
		}
		if !many {
			index = "idx_certificates_names_created"
		}
	}
	q := tx.db.Table(tx.certificatesBy("", index)).Omit("der")
	switch {
	case many:
		q = q.Where("names_hash IN (?)", tx.setsWhere("name LIKE ?", f.NamePattern))
	case len(sets) > 0:
		q = q.Where("names_hash IN ?", sets)
	}
	if f.AccountID != "" {
		q = q.Where("account_id = ?", f.AccountID)
	}
	if f.Profile != "" {
		q = q.Where("profile = ?", f.Profile)
	}
	switch f.Status {
	case "valid":
		q = q.Where("status = ? AND not_after > ?", "valid", f.Now)
	case "revoked":
		q = q.Where("status = ?", "revoked")
	case "expired":
		q = q.Where("status = ? AND not_after <= ?", "valid", f.Now)
	}
	if !f.ExpiresBefore.IsZero() {
		q = q.Where("not_after < ?", f.ExpiresBefore)
	}
	if !f.IssuedAfter.IsZero() {
		q = q.Where("created_at >= ?", f.IssuedAfter)
	}
	if !f.IssuedBefore.IsZero() {
		q = q.Where("created_at < ?", f.IssuedBefore)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	var rows []Certificate
	if err := q.Order("created_at DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: listing certificates: %w", err)
	}
	return rows, nil
}

// listIndex names the index SQLite reads for a certificate list. Without
// statistics SQLite's planner prefers any index matching an equality and
// then sorts every match: "--status expired" sorted nearly every row of a
// million (seconds), and two filters could pick either index depending on
// the order the indexes were created in. INDEXED BY fixes the plan, and
// fails loudly should the index disappear.
//
//   - Valid certificates are the unexpired ones, few next to the history
//     of a CA whose certificates live hours or days: read them by expiry
//     and sort them.
//   - Otherwise read the index that starts with the most selective filter
//     and continues with the creation time, so that rows come newest first
//     and reading stops at the limit.
func listIndex(f CertificateFilter) string {
	switch {
	case f.Status == "valid":
		return "idx_certificates_not_after"
	case f.Status == "revoked":
		return "idx_certificates_status_created"
	case f.AccountID != "":
		return "idx_certificates_account_created"
	case f.Profile != "":
		return "idx_certificates_profile_created"
	}
	return "idx_certificates_created_at"
}

// certificatesBy returns the certificates table, with the alias when not
// empty, to be read through the named index on SQLite (see [listIndex]
// for why); other databases choose with their statistics.
func (tx *Tx) certificatesBy(alias, index string) string {
	return tx.tableIndexedBy("certificates", alias, index)
}

// tableIndexedBy returns the table, with the alias when not empty, to be
// read through the named index on SQLite.
func (tx *Tx) tableIndexedBy(table, alias, index string) string {
	if alias != "" {
		table += " AS " + alias
	}
	if tx.store.dialect == SQLite {
		table += " INDEXED BY " + index
	}
	return table
}

// CountCertificatesSince counts the certificates an account received at or
// after since.
func (tx *Tx) CountCertificatesSince(accountID string, since time.Time) (int64, error) {
	var n int64
	err := tx.db.Model(&Certificate{}).Where("account_id = ? AND created_at >= ?", accountID, since).
		Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("store: counting certificates: %w", err)
	}
	return n, nil
}
