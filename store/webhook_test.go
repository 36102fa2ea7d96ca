package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
)

func TestCursor(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		r := s.Read(context.Background())
		if _, found, err := r.Cursor("webhook_cursor:x"); err != nil || found {
			t.Fatalf("fresh cursor: got found %v, error %v; want not found", found, err)
		}
		for _, seq := range []int64{7, 42} {
			transact(t, s, func(tx *store.Tx) error { return tx.SetCursor("webhook_cursor:x", seq) })
			got, found, err := r.Cursor("webhook_cursor:x")
			if err != nil || !found || got != seq {
				t.Fatalf("cursor after SetCursor(%d): got %d, %v, %v", seq, got, found, err)
			}
		}
		transact(t, s, func(tx *store.Tx) error {
			return tx.Audit(store.Event{Type: "test.event", Outcome: "success"})
		})
		if seq, err := r.LatestAuditSeq(); err != nil || seq != 1 {
			t.Errorf("LatestAuditSeq: got %d, %v; want 1", seq, err)
		}
	})
}

func TestExpiringWithoutRenewal(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		add := func(serial, account, names, status string, life time.Duration) {
			now := clock.Now()
			transact(t, s, func(tx *store.Tx) error {
				return tx.CreateCertificate(&store.Certificate{Serial: serial, AccountID: account,
					DER: []byte{0x30}, Names: names, NotBefore: now, NotAfter: now.Add(life),
					Status: status})
			})
			clock.Add(time.Second)
		}
		add("01", "a", "x.test", "valid", 24*time.Hour)
		add("02", "a", "y.test", "valid", 24*time.Hour)
		add("03", "a", "z.test", "revoked", 24*time.Hour)
		add("04", "a", "w.test", "valid", 30*24*time.Hour)
		clock.Add(12 * time.Hour)
		add("05", "a", "y.test", "valid", 24*time.Hour) // renews 02
		add("06", "b", "x.test", "valid", 24*time.Hour) // another account

		now := epoch.Add(22 * time.Hour)
		r := s.Read(context.Background())
		got, err := r.ExpiringWithoutRenewal(now, now.Add(4*time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Serial != "01" {
			t.Fatalf("got %d certificates (%v), want only 01", len(got), got)
		}
		transact(t, s, func(tx *store.Tx) error { return tx.RecordExpiryNotice("01", got[0].NotAfter) })
		err = s.Transact(context.Background(), func(tx *store.Tx) error {
			return tx.RecordExpiryNotice("01", got[0].NotAfter)
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("second notice: got %v, want ErrConflict", err)
		}
		if got, err := r.ExpiringWithoutRenewal(now, now.Add(4*time.Hour), 10); err != nil ||
			len(got) != 0 {
			t.Errorf("after the notice: got %d certificates, %v; want none", len(got), err)
		}
	})
}

// TestExpiringReplacedByARI checks that a renewal through ARI counts as a
// successor though it names other names: an order, valid or being issued,
// whose replaces field is the certificate's ID.
func TestExpiringReplacedByARI(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		now := clock.Now()
		for _, serial := range []string{"0a01", "0a02", "0a03"} {
			transact(t, s, func(tx *store.Tx) error {
				return tx.CreateCertificate(&store.Certificate{Serial: serial, AccountID: "a",
					IssuerKeyID: "69885b6b87464041e1b37b847ba0ae2cde01c8d4", DER: []byte{0x30},
					Names: "old-" + serial + ".test", NotBefore: now,
					NotAfter: now.Add(24 * time.Hour), Status: "valid"})
			})
		}
		// 0a01 is replaced by a valid order, 0a02 by one being issued, and
		// 0a03 only by a pending one, which is no renewal yet.
		for i, o := range []struct{ serial, status string }{
			{"0a01", "valid"}, {"0a02", "processing"}, {"0a03", "pending"},
		} {
			c, err := s.Read(context.Background()).Certificate(o.serial)
			if err != nil {
				t.Fatal(err)
			}
			if c.ARIID == "" {
				t.Fatalf("certificate %s: no ARI ID stored", o.serial)
			}
			transact(t, s, func(tx *store.Tx) error {
				return tx.CreateOrder(&store.Order{ID: fmt.Sprintf("o%d", i), AccountID: "a",
					Status: o.status, Expires: now.Add(time.Hour),
					Identifiers: `[{"type":"dns","value":"new.test"}]`, Replaces: c.ARIID}, nil)
			})
		}
		at := now.Add(22 * time.Hour)
		got, err := s.Read(context.Background()).ExpiringWithoutRenewal(at, at.Add(4*time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Serial != "0a03" {
			t.Errorf("got %v, want only 0a03", got)
		}
	})
}

// TestCertificateID checks the identifier against the example of RFC 9773,
// Section 4.1, whose serial needs a leading zero octet in DER.
func TestCertificateID(t *testing.T) {
	got := store.CertificateID("69885b6b87464041e1b37b847ba0ae2cde01c8d4", "87654321")
	if want := "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"; got != want {
		t.Errorf("CertificateID: got %q, want %q", got, want)
	}
	for _, bad := range [][2]string{{"", "01"}, {"0102", ""}, {"zz", "01"}, {"0102", "x1"}} {
		if got := store.CertificateID(bad[0], bad[1]); got != "" {
			t.Errorf("CertificateID(%q, %q): got %q, want none", bad[0], bad[1], got)
		}
	}
}

func TestAdminTokens(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		tok := &store.AdminToken{ID: "adm_1", Label: "alice", Hash: "ab12"}
		transact(t, s, func(tx *store.Tx) error { return tx.CreateAdminToken(tok) })
		dup := &store.AdminToken{ID: "adm_2", Label: "bob", Hash: "ab12"}
		err := s.Transact(context.Background(), func(tx *store.Tx) error {
			return tx.CreateAdminToken(dup)
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate hash: got %v, want ErrConflict", err)
		}
		r := s.Read(context.Background())
		got, err := r.AdminTokenByHash("ab12")
		if err != nil || got.ID != "adm_1" || got.Label != "alice" || got.RevokedAt != nil {
			t.Fatalf("AdminTokenByHash: got %+v, %v", got, err)
		}
		if _, err := r.AdminTokenByHash("ffff"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown hash: got %v, want ErrNotFound", err)
		}
		transact(t, s, func(tx *store.Tx) error { return tx.RevokeAdminToken("adm_1", epoch) })
		err = s.Transact(context.Background(), func(tx *store.Tx) error {
			return tx.RevokeAdminToken("adm_1", epoch)
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second revocation: got %v, want ErrNotFound", err)
		}
		rows, err := r.AdminTokens()
		if err != nil || len(rows) != 1 || rows[0].RevokedAt == nil {
			t.Errorf("AdminTokens: got %+v, %v; want one revoked token", rows, err)
		}
	})
}
