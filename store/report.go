package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// ReportRow holds the lifecycle figures of one account and profile over a
// period.
type ReportRow struct {
	AccountID string `json:"account"`
	Profile   string `json:"profile"`
	Issued    int    `json:"issued"`
	Renewed   int    `json:"renewed"`
	Revoked   int    `json:"revoked"`
	// ExpiredUnrenewed counts certificates that expired in the period with
	// no successor issued before they expired.
	ExpiredUnrenewed int `json:"expired_without_renewal"`
	// MedianLifetimeUsed is the median share (0 to 1) of its lifetime a
	// certificate had used when its renewal was issued; zero without
	// renewals.
	MedianLifetimeUsed float64 `json:"median_lifetime_used"`
	// RenewalPushed counts certificates an operator marked for early
	// renewal; RenewalHonoured those whose client renewed after the mark
	// with an ARI replaces naming them.
	RenewalPushed   int `json:"renewal_pushed"`
	RenewalHonoured int `json:"renewal_honoured"`
}

// Report is the evidence an auditor asks for over [From, To).
type Report struct {
	From time.Time   `json:"from"`
	To   time.Time   `json:"to"`
	Rows []ReportRow `json:"rows"`
	// OperatorActions counts audit events whose actor is an operator: the
	// CLI ("operator") or an admin API credential ("operator:<label>").
	OperatorActions int64 `json:"operator_actions"`
}

// lineage identifies certificates that renew one another: the same
// account asking for the same names (by the hash of the names).
type lineage struct{ account, namesHash string }

// reportCert is what the report reads of a certificate.
type reportCert struct {
	serial, account, profile, namesHash, replaces, status string
	notBefore, notAfter, createdAt                        time.Time
	revokedAt, renewalDue                                 *time.Time
}

// reportCertificates reads the certificates alive in [from, to), oldest
// first. A period can hold hundreds of thousands of certificates, so the
// rows are scanned directly into the few fields the report needs.
func (s *Store) reportCertificates(ctx context.Context, from, to time.Time) ([]reportCert, error) {
	rows, err := s.db.WithContext(ctx).Model(&Certificate{}).
		Select("serial, account_id, profile, names_hash, replaces, status, "+
			"not_before, not_after, created_at, revoked_at, renewal_due").
		Where("created_at < ? AND (not_after >= ? OR created_at >= ?)", to, from, from).
		Rows()
	if err != nil {
		return nil, fmt.Errorf("store: loading certificates for the report: %w", err)
	}
	defer rows.Close()
	var out []reportCert
	for rows.Next() {
		var c reportCert
		var revoked, due sql.NullTime
		if err := rows.Scan(&c.serial, &c.account, &c.profile, &c.namesHash, &c.replaces,
			&c.status, &c.notBefore, &c.notAfter, &c.createdAt, &revoked, &due); err != nil {
			return nil, fmt.Errorf("store: reading a certificate for the report: %w", err)
		}
		if revoked.Valid {
			c.revokedAt = &revoked.Time
		}
		if due.Valid {
			c.renewalDue = &due.Time
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: loading certificates for the report: %w", err)
	}
	slices.SortFunc(out, func(a, b reportCert) int {
		if c := a.createdAt.Compare(b.createdAt); c != 0 {
			return c
		}
		return strings.Compare(a.serial, b.serial)
	})
	return out, nil
}

// BuildReport computes the report for [from, to) as seen at now. A
// certificate renews the latest earlier certificate of its lineage (same
// account and names), or the one its ARI replaces field names.
//
// TODO: aggregate in SQL. Every certificate alive in the period is read
// (eleven columns of it): 555,000 rows and about 3.4 s for 30 days of a
// million-certificate store.
func (s *Store) BuildReport(ctx context.Context, from, to, now time.Time) (*Report, error) {
	certs, err := s.reportCertificates(ctx, from, to)
	if err != nil {
		return nil, err
	}
	rows := map[[2]string]*ReportRow{}
	row := func(c *reportCert) *ReportRow {
		k := [2]string{c.account, c.profile}
		if rows[k] == nil {
			rows[k] = &ReportRow{AccountID: c.account, Profile: c.profile}
		}
		return rows[k]
	}
	used := map[[2]string][]float64{}
	replacedBy := map[string]*reportCert{}
	for i := range certs {
		if serial := replacedSerial(certs[i].replaces); serial != "" {
			replacedBy[serial] = &certs[i]
		}
	}
	byLineage := map[lineage][]*reportCert{}
	for i := range certs {
		c := &certs[i]
		l := lineage{c.account, c.namesHash}
		prev := byLineage[l]
		byLineage[l] = append(prev, c)
		inPeriod := !c.createdAt.Before(from) && c.createdAt.Before(to)
		if inPeriod {
			r := row(c)
			r.Issued++
			if len(prev) > 0 || c.replaces != "" {
				r.Renewed++
			}
			if len(prev) > 0 {
				p := prev[len(prev)-1]
				if life := p.notAfter.Sub(p.notBefore); life > 0 {
					k := [2]string{c.account, c.profile}
					used[k] = append(used[k], float64(c.createdAt.Sub(p.notBefore))/float64(life))
				}
			}
		}
		if c.revokedAt != nil && !c.revokedAt.Before(from) && c.revokedAt.Before(to) {
			row(c).Revoked++
		}
		if c.renewalDue != nil && !c.renewalDue.Before(from) && c.renewalDue.Before(to) {
			r := row(c)
			r.RenewalPushed++
			if next := replacedBy[c.serial]; next != nil && !next.createdAt.Before(*c.renewalDue) {
				r.RenewalHonoured++
			}
		}
	}
	for _, chain := range byLineage {
		for i, c := range chain {
			expiredInPeriod := !c.notAfter.Before(from) && c.notAfter.Before(to) && !c.notAfter.After(now)
			if !expiredInPeriod || c.status == "revoked" {
				continue
			}
			renewed := i+1 < len(chain) && chain[i+1].createdAt.Before(c.notAfter)
			if !renewed {
				row(c).ExpiredUnrenewed++
			}
		}
	}
	out := &Report{From: from, To: to}
	for k, r := range rows {
		r.MedianLifetimeUsed = median(used[k])
		out.Rows = append(out.Rows, *r)
	}
	slices.SortFunc(out.Rows, func(a, b ReportRow) int {
		if a.AccountID != b.AccountID {
			return compareStrings(a.AccountID, b.AccountID)
		}
		return compareStrings(a.Profile, b.Profile)
	})
	err = s.db.WithContext(ctx).Model(&AuditEvent{}).
		Where("(actor = ? OR actor LIKE ?) AND time >= ? AND time < ?", "operator", "operator:%",
			from, to).
		Count(&out.OperatorActions).Error
	if err != nil {
		return nil, fmt.Errorf("store: counting operator actions: %w", err)
	}
	return out, nil
}

// CertificateID returns the RFC 9773 (Section 4.1) identifier of the
// certificate with the hex authority key identifier and hex serial:
// base64url of the key identifier, a dot, and base64url of the serial's
// DER value octets (with the leading zero octet DER asks for when the
// high bit is set). It returns "" when either is empty or not hex.
func CertificateID(akiHex, serialHex string) string {
	aki, err1 := hex.DecodeString(akiHex)
	serial, err2 := hex.DecodeString(serialHex)
	if err1 != nil || err2 != nil || len(aki) == 0 || len(serial) == 0 {
		return ""
	}
	value := new(big.Int).SetBytes(serial).Bytes()
	if len(value) == 0 || value[0]&0x80 != 0 {
		value = append([]byte{0}, value...)
	}
	return base64.RawURLEncoding.EncodeToString(aki) + "." +
		base64.RawURLEncoding.EncodeToString(value)
}

// replacedSerial extracts the hex serial from an ARI certificate ID
// (RFC 9773, Section 4.1), or "" when it cannot be read.
func replacedSerial(certID string) string {
	_, serial, ok := strings.Cut(certID, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(serial)
	if err != nil || len(b) == 0 {
		return ""
	}
	return hex.EncodeToString(new(big.Int).SetBytes(b).Bytes())
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// MarkForRenewal sets the renewal-due time of the valid, unexpired
// certificates matching f, so their renewal information tells clients to
// renew from then on (RFC 9773, Section 4.2). It returns the serials
// marked.
func (tx *Tx) MarkForRenewal(f CertificateFilter, due time.Time) ([]string, error) {
	f.Status = "valid"
	f.Limit = 1 << 30
	certs, err := tx.ListCertificates(f)
	if err != nil {
		return nil, err
	}
	serials := make([]string, 0, len(certs))
	for _, c := range certs {
		serials = append(serials, c.Serial)
	}
	if len(serials) == 0 {
		return serials, nil
	}
	err = tx.db.Model(&Certificate{}).Where("serial IN ?", serials).Update("renewal_due", due).Error
	if err != nil {
		return nil, fmt.Errorf("store: marking certificates for renewal: %w", err)
	}
	return serials, nil
}
