package store

import (
	"fmt"
	"time"
)

// CertificateCounts are the figures behind the certificate gauges.
type CertificateCounts struct {
	// Valid counts certificates neither revoked nor expired at now.
	Valid int64
	// Expiring counts the valid ones whose notAfter falls within the
	// window given to [Tx.CountCertificates].
	Expiring int64
}

// CountCertificates counts the certificates valid at now and, among them,
// those expiring before now+expiringWithin.
func (tx *Tx) CountCertificates(now time.Time, expiringWithin time.Duration) (CertificateCounts, error) {
	var c CertificateCounts
	now = now.UTC()
	// Only unexpired certificates can count: read them by expiry.
	table := tx.certificatesBy("", "idx_certificates_not_after")
	valid := tx.db.Table(table).Where("status = ? AND not_after > ?", "valid", now)
	if err := valid.Count(&c.Valid).Error; err != nil {
		return c, fmt.Errorf("store: counting valid certificates: %w", err)
	}
	err := tx.db.Table(table).
		Where("status = ? AND not_after > ? AND not_after <= ?", "valid", now, now.Add(expiringWithin)).
		Count(&c.Expiring).Error
	if err != nil {
		return c, fmt.Errorf("store: counting expiring certificates: %w", err)
	}
	return c, nil
}

// CertificatesReplacing returns the account's certificates whose replaces
// field (an RFC 9773 certificate ID) names the certificate with the hex
// serial, oldest first. Renewals through ARI stay within one account.
func (tx *Tx) CertificatesReplacing(accountID, serial string) ([]Certificate, error) {
	var rows []Certificate
	err := tx.db.Where("account_id = ? AND replaces <> ?", accountID, "").
		Order("created_at, serial").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: loading renewals of %s: %w", serial, translate(err))
	}
	var out []Certificate
	for _, c := range rows {
		if replacedSerial(c.Replaces) == serial {
			out = append(out, c)
		}
	}
	return out, nil
}

// ReplacedSerial returns the hex serial named by an RFC 9773 certificate
// ID, or "" when it cannot be read.
func ReplacedSerial(certID string) string { return replacedSerial(certID) }
