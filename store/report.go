package store

import (
	"context"
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
// account asking for the same names.
type lineage struct{ account, names string }

// BuildReport computes the report for [from, to) as seen at now. A
// certificate renews the latest earlier certificate of its lineage (same
// account and names), or the one its ARI replaces field names.
//
// TODO: aggregate in SQL; this loads every certificate alive in the period
// (without DER), which is fine up to some hundred thousand rows.
func (s *Store) BuildReport(ctx context.Context, from, to, now time.Time) (*Report, error) {
	var certs []Certificate
	err := s.db.WithContext(ctx).Omit("der").
		Where("created_at < ? AND (not_after >= ? OR created_at >= ?)", to, from, from).
		Order("created_at").Find(&certs).Error
	if err != nil {
		return nil, fmt.Errorf("store: loading certificates for the report: %w", err)
	}
	rows := map[[2]string]*ReportRow{}
	row := func(c *Certificate) *ReportRow {
		k := [2]string{c.AccountID, c.Profile}
		if rows[k] == nil {
			rows[k] = &ReportRow{AccountID: c.AccountID, Profile: c.Profile}
		}
		return rows[k]
	}
	used := map[[2]string][]float64{}
	replacedBy := map[string]*Certificate{}
	for i := range certs {
		if serial := replacedSerial(certs[i].Replaces); serial != "" {
			replacedBy[serial] = &certs[i]
		}
	}
	byLineage := map[lineage][]*Certificate{}
	for i := range certs {
		c := &certs[i]
		l := lineage{c.AccountID, c.Names}
		prev := byLineage[l]
		byLineage[l] = append(prev, c)
		inPeriod := !c.CreatedAt.Before(from) && c.CreatedAt.Before(to)
		if inPeriod {
			r := row(c)
			r.Issued++
			if len(prev) > 0 || c.Replaces != "" {
				r.Renewed++
			}
			if len(prev) > 0 {
				p := prev[len(prev)-1]
				if life := p.NotAfter.Sub(p.NotBefore); life > 0 {
					k := [2]string{c.AccountID, c.Profile}
					used[k] = append(used[k], float64(c.CreatedAt.Sub(p.NotBefore))/float64(life))
				}
			}
		}
		if c.RevokedAt != nil && !c.RevokedAt.Before(from) && c.RevokedAt.Before(to) {
			row(c).Revoked++
		}
		if c.RenewalDue != nil && !c.RenewalDue.Before(from) && c.RenewalDue.Before(to) {
			r := row(c)
			r.RenewalPushed++
			if next := replacedBy[c.Serial]; next != nil && !next.CreatedAt.Before(*c.RenewalDue) {
				r.RenewalHonoured++
			}
		}
	}
	for _, chain := range byLineage {
		for i, c := range chain {
			expiredInPeriod := !c.NotAfter.Before(from) && c.NotAfter.Before(to) && !c.NotAfter.After(now)
			if !expiredInPeriod || c.Status == "revoked" {
				continue
			}
			renewed := i+1 < len(chain) && chain[i+1].CreatedAt.Before(c.NotAfter)
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
