package store

import (
	"fmt"
	"slices"
	"strings"
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
//
// A certificate ID may spell a serial in more than one way (leading zero
// octets), so the IDs are compared decoded: the account's IDs are read
// alone, and only the matching certificates whole.
func (tx *Tx) CertificatesReplacing(accountID, serial string) ([]Certificate, error) {
	var ids []struct {
		Serial   string
		Replaces string
	}
	err := tx.db.Model(&Certificate{}).Select("serial, replaces").
		Where("account_id = ? AND replaces <> ?", accountID, "").Find(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("store: finding renewals of %s: %w", serial, translate(err))
	}
	var serials []string
	for _, id := range ids {
		if replacedSerial(id.Replaces) == serial {
			serials = append(serials, id.Serial)
		}
	}
	if len(serials) == 0 {
		return nil, nil
	}
	var out []Certificate
	for chunk := range slices.Chunk(serials, inListChunk) {
		var rows []Certificate
		if err := tx.db.Where("serial IN ?", chunk).Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("store: loading renewals of %s: %w", serial, translate(err))
		}
		out = append(out, rows...)
	}
	slices.SortFunc(out, func(a, b Certificate) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Serial, b.Serial)
	})
	return out, nil
}

// ReplacedSerial returns the hex serial named by an RFC 9773 certificate
// ID, or "" when it cannot be read.
func ReplacedSerial(certID string) string { return replacedSerial(certID) }
