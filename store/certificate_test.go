package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
)

// now is the reading at which the inventory is listed in these tests.
var now = epoch.Add(30 * 24 * time.Hour)

// inventory returns certificates issued a day apart, oldest first.
func inventory() []*store.Certificate {
	day := 24 * time.Hour
	cert := func(serial, account, profile, names string, issued, validFor time.Duration,
		status string) *store.Certificate {
		nb := epoch.Add(issued)
		return &store.Certificate{
			Serial: serial, AccountID: account, Profile: profile, Names: names,
			IssuerKeyID: "issuer-1", DER: []byte{0x30, 0x01, byte(len(serial))},
			KeyHash: "key-" + account, NotBefore: nb, NotAfter: nb.Add(validFor),
			Status: status, CreatedAt: nb,
		}
	}
	return []*store.Certificate{
		cert("01", "acct-1", "tls-server", "www.example.com,example.com", 0, 7*day, "valid"),
		cert("02", "acct-1", "tls-server", "api.example.com", day, 90*day, "valid"),
		cert("03", "acct-2", "client", "alice", 2*day, 90*day, "valid"),
		cert("04", "acct-2", "tls-server", "mail.example.org", 3*day, 90*day, "revoked"),
		cert("05", "acct-1", "tls-server", "old.example.com", 4*day, 10*day, "valid"),
	}
}

func TestListCertificates(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name   string
		filter store.CertificateFilter
		want   []string
	}{
		{"all newest first", store.CertificateFilter{}, []string{"05", "04", "03", "02", "01"}},
		{"name pattern", store.CertificateFilter{NamePattern: "%example.com%"},
			[]string{"05", "02", "01"}},
		{"account", store.CertificateFilter{AccountID: "acct-2"}, []string{"04", "03"}},
		{"profile", store.CertificateFilter{Profile: "client"}, []string{"03"}},
		{"valid", store.CertificateFilter{Status: "valid", Now: now}, []string{"03", "02"}},
		{"revoked", store.CertificateFilter{Status: "revoked", Now: now}, []string{"04"}},
		{"expired", store.CertificateFilter{Status: "expired", Now: now}, []string{"05", "01"}},
		{"expires before", store.CertificateFilter{ExpiresBefore: epoch.Add(20 * day)},
			[]string{"05", "01"}},
		{"issued window", store.CertificateFilter{IssuedAfter: epoch.Add(day),
			IssuedBefore: epoch.Add(3 * day)}, []string{"03", "02"}},
		{"combined", store.CertificateFilter{AccountID: "acct-1", Status: "valid", Now: now,
			NamePattern: "api.%"}, []string{"02"}},
		{"limit", store.CertificateFilter{Limit: 2}, []string{"05", "04"}},
		{"no match", store.CertificateFilter{AccountID: "acct-9"}, nil},
	}
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		transact(t, s, func(tx *store.Tx) error {
			for _, c := range inventory() {
				if err := tx.CreateCertificate(c); err != nil {
					return err
				}
			}
			return nil
		})
		for _, tt := range tests {
			checkList(t, s, tt.name, tt.filter, tt.want)
		}
	})
}

func TestCertificateLifecycle(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		ctx := context.Background()
		certs := inventory()
		transact(t, s, func(tx *store.Tx) error {
			for _, c := range certs {
				if err := tx.ReserveSerial(c.Serial, "order-"+c.Serial); err != nil {
					return err
				}
				if err := tx.CreateCertificate(c); err != nil {
					return err
				}
			}
			return nil
		})
		revokedAt := now.Add(-time.Hour)
		tests := []struct {
			name string
			fn   func(tx *store.Tx) error
			want error
		}{
			{"reserve duplicate serial", func(tx *store.Tx) error {
				return tx.ReserveSerial("02", "order-x")
			}, store.ErrConflict},
			{"store duplicate certificate", func(tx *store.Tx) error {
				return tx.CreateCertificate(certs[1])
			}, store.ErrConflict},
			{"revoke", func(tx *store.Tx) error {
				return tx.RevokeCertificate("02", 1, revokedAt)
			}, nil},
			{"revoke again", func(tx *store.Tx) error {
				return tx.RevokeCertificate("02", 4, revokedAt)
			}, store.ErrConflict},
			{"revoke unknown", func(tx *store.Tx) error {
				return tx.RevokeCertificate("ff", 1, revokedAt)
			}, store.ErrConflict},
			{"load unknown", func(tx *store.Tx) error {
				_, err := tx.Certificate("ff")
				return err
			}, store.ErrNotFound},
		}
		for _, tt := range tests {
			checkErr(t, tt.name, s.Transact(ctx, tt.fn), tt.want)
		}

		r := s.Read(ctx)
		got, err := r.Certificate("02")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != "revoked" || got.RevocationReason != 1 || got.RevokedAt == nil ||
			!got.RevokedAt.Equal(revokedAt) || !reflect.DeepEqual(got.DER, certs[1].DER) {
			t.Errorf("Certificate after revocation: got %+v, want revoked for reason 1", got)
		}
		crl, err := r.RevokedCertificates("issuer-1", now)
		if err != nil || len(crl) != 2 || crl[0].Serial != "02" || crl[1].Serial != "04" {
			t.Errorf("RevokedCertificates: got %+v, %v, want 02 and 04", crl, err)
		}
		byKey, err := r.CertificatesByKey("key-acct-1", now)
		if err != nil || len(byKey) != 1 || byKey[0].Serial != "02" {
			t.Errorf("CertificatesByKey: got %+v, %v, want 02 only (others expired)", byKey, err)
		}
		n, err := r.CountCertificatesSince("acct-1", epoch.Add(24*time.Hour))
		if err != nil || n != 2 {
			t.Errorf("CountCertificatesSince: got %d, %v, want 2", n, err)
		}
	})
}

// TestListCertificatesManyNameSets lists by a name that more sets hold than
// the store reads set by set, so that the list walks the certificates
// newest first instead; the answer must be the same.
func TestListCertificatesManyNameSets(t *testing.T) {
	const sets = 150
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		transact(t, s, func(tx *store.Tx) error {
			for i := range sets {
				nb := epoch.Add(time.Duration(i) * time.Minute)
				account := "acct-even"
				if i%2 == 1 {
					account = "acct-odd"
				}
				err := tx.CreateCertificate(&store.Certificate{
					Serial: fmt.Sprintf("%04x", i), AccountID: account,
					Names:       fmt.Sprintf("bulk-%d.example,other-%d.example", i, i),
					IssuerKeyID: "issuer-1", DER: []byte{0x30, 0x00}, KeyHash: "k",
					NotBefore: nb, NotAfter: nb.Add(time.Hour), Status: "valid", CreatedAt: nb,
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		tests := []struct {
			name   string
			filter store.CertificateFilter
			want   []string
		}{
			{"many sets", store.CertificateFilter{NamePattern: "%bulk-%", Limit: 3},
				[]string{"0095", "0094", "0093"}},
			{"many sets of one account", store.CertificateFilter{NamePattern: "%bulk-%",
				AccountID: "acct-even", Limit: 2}, []string{"0094", "0092"}},
			{"one set", store.CertificateFilter{NamePattern: "%other-7.%"}, []string{"0007"}},
			{"no set", store.CertificateFilter{NamePattern: "%absent%"}, nil},
		}
		for _, tt := range tests {
			checkList(t, s, tt.name, tt.filter, tt.want)
		}
	})
}

// checkList lists the certificates f selects and compares their serials,
// in order, with want; the DER must not be loaded.
func checkList(t *testing.T, s *store.Store, name string, f store.CertificateFilter, want []string) {
	t.Helper()
	rows, err := s.Read(context.Background()).ListCertificates(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var got []string
	for _, c := range rows {
		got = append(got, c.Serial)
		if c.DER != nil {
			t.Errorf("%s: certificate %s: got DER loaded, want it omitted", name, c.Serial)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %v, want %v", name, got, want)
	}
}
