package store_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

// TestReportScriptedHistory checks the report figures against a scripted
// history of issuance, renewal, early-renewal pushes, revocation and expiry.
func TestReportScriptedHistory(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			clock := storetest.NewClock(t0)
			st := storetest.OpenWith(t, d, store.Options{Now: clock.Now})
			ctx := context.Background()
			h := 24 * time.Hour
			revokedAt := t0.Add(3 * h)
			due := t0.Add(5*h + time.Hour)
			certs := []store.Certificate{
				// Before the period: ignored.
				{Serial: "c0", AccountID: "A", Profile: "default", Names: "old.x",
					CreatedAt: t0.Add(-5 * h), NotBefore: t0.Add(-5 * h), NotAfter: t0.Add(-4 * h)},
				// c1 renewed by c2 halfway through its life; c2 then expires.
				{Serial: "c1", AccountID: "A", Profile: "default", Names: "a.x",
					CreatedAt: t0, NotBefore: t0, NotAfter: t0.Add(2 * h)},
				{Serial: "c2", AccountID: "A", Profile: "default", Names: "a.x",
					CreatedAt: t0.Add(h), NotBefore: t0.Add(h), NotAfter: t0.Add(3 * h)},
				// c3 expires without renewal; c4 is revoked.
				{Serial: "c3", AccountID: "A", Profile: "default", Names: "b.x",
					CreatedAt: t0.Add(h), NotBefore: t0.Add(h), NotAfter: t0.Add(2 * h)},
				{Serial: "c4", AccountID: "A", Profile: "default", Names: "c.x",
					CreatedAt: t0.Add(2 * h), NotBefore: t0.Add(2 * h), NotAfter: t0.Add(4 * h),
					Status: "revoked", RevokedAt: &revokedAt, RevocationReason: 4},
				// c5 is pushed for early renewal and c6 honours it with ARI.
				{Serial: "c5", AccountID: "B", Profile: "shortlived", Names: "d.x",
					CreatedAt: t0.Add(5 * h), NotBefore: t0.Add(5 * h),
					NotAfter: t0.Add(5*h + 6*time.Hour), RenewalDue: &due},
				{Serial: "c6", AccountID: "B", Profile: "shortlived", Names: "d.x",
					CreatedAt: t0.Add(5*h + 2*time.Hour), NotBefore: t0.Add(5*h + 2*time.Hour),
					NotAfter: t0.Add(5*h + 8*time.Hour), Replaces: ariID("aki", "c5")},
			}
			err := st.Transact(ctx, func(tx *store.Tx) error {
				for i := range certs {
					c := certs[i]
					c.DER = []byte{0x30}
					if c.Status == "" {
						c.Status = "valid"
					}
					if err := tx.CreateCertificate(&c); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			clock.Set(t0.Add(4 * h))
			for range 2 {
				err := st.Transact(ctx, func(tx *store.Tx) error {
					return tx.Audit(store.Event{Type: "eab.created", Actor: "operator"})
				})
				if err != nil {
					t.Fatal(err)
				}
			}

			rep, err := st.BuildReport(ctx, t0, t0.Add(10*h), t0.Add(10*h))
			if err != nil {
				t.Fatal(err)
			}
			want := []store.ReportRow{
				{AccountID: "A", Profile: "default", Issued: 4, Renewed: 1, Revoked: 1,
					ExpiredUnrenewed: 2, MedianLifetimeUsed: 0.5},
				{AccountID: "B", Profile: "shortlived", Issued: 2, Renewed: 1,
					ExpiredUnrenewed: 1, MedianLifetimeUsed: 2.0 / 6, RenewalPushed: 1,
					RenewalHonoured: 1},
			}
			if len(rep.Rows) != len(want) {
				t.Fatalf("got %d rows %+v, want %d", len(rep.Rows), rep.Rows, len(want))
			}
			for i := range want {
				got := rep.Rows[i]
				if diff := got.MedianLifetimeUsed - want[i].MedianLifetimeUsed; diff > 1e-9 || diff < -1e-9 {
					t.Errorf("row %d median: got %v, want %v", i, got.MedianLifetimeUsed,
						want[i].MedianLifetimeUsed)
				}
				got.MedianLifetimeUsed = want[i].MedianLifetimeUsed
				if got != want[i] {
					t.Errorf("row %d: got %+v, want %+v", i, got, want[i])
				}
			}
			if rep.OperatorActions != 2 {
				t.Errorf("operator actions: got %d, want 2", rep.OperatorActions)
			}
		})
	}
}

// TestMarkForRenewal marks only valid, unexpired certificates matching the
// filter.
func TestMarkForRenewal(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	now := time.Now().UTC()
	err := st.Transact(ctx, func(tx *store.Tx) error {
		for _, c := range []store.Certificate{
			{Serial: "m1", Names: "a.corp", Profile: "default", Status: "valid", NotAfter: now.Add(time.Hour)},
			{Serial: "m2", Names: "b.corp", Profile: "mtls", Status: "valid", NotAfter: now.Add(time.Hour)},
			{Serial: "m3", Names: "c.corp", Profile: "default", Status: "valid", NotAfter: now.Add(-time.Hour)},
			{Serial: "m4", Names: "d.corp", Profile: "default", Status: "revoked", NotAfter: now.Add(time.Hour)},
		} {
			c.DER = []byte{0x30}
			if err := tx.CreateCertificate(&c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var marked []string
	err = st.Transact(ctx, func(tx *store.Tx) error {
		var err error
		marked, err = tx.MarkForRenewal(store.CertificateFilter{Profile: "default", Now: now}, now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(marked) != 1 || marked[0] != "m1" {
		t.Fatalf("got %v marked, want [m1]", marked)
	}
}

func ariID(akiHex, serialHex string) string {
	aki, _ := hex.DecodeString(akiHex + "00")
	serial := []byte(serialHex)
	if b, err := hex.DecodeString(serialHex); err == nil {
		serial = b
	}
	return base64.RawURLEncoding.EncodeToString(aki) + "." + base64.RawURLEncoding.EncodeToString(serial)
}
