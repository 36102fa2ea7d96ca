package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

func TestPurgeExpired(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := storetest.Open(t, d)
			ctx := context.Background()
			now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
			old, fresh := now.Add(-48*time.Hour), now.Add(48*time.Hour)
			err := st.Transact(ctx, func(tx *store.Tx) error {
				for _, a := range []struct {
					id      string
					expires time.Time
				}{{"az-old", old}, {"az-shared", old}, {"az-fresh", fresh}} {
					err := tx.CreateAuthorization(&store.Authorization{ID: a.id, AccountID: "A",
						IdentifierType: "dns", IdentifierValue: a.id + ".x", Status: "pending",
						Expires: a.expires}, []store.Challenge{{ID: "ch-" + a.id, Type: "http-01",
						Token: "t", Status: "pending"}})
					if err != nil {
						return err
					}
				}
				orders := []struct {
					id, status string
					expires    time.Time
					authz      string
				}{
					{"o-dead", "invalid", old, "az-old"},
					{"o-valid", "valid", old, "az-shared"},
					{"o-live", "pending", fresh, "az-fresh"},
				}
				for _, o := range orders {
					err := tx.CreateOrder(&store.Order{ID: o.id, AccountID: "A", Status: o.status,
						Expires: o.expires, Identifiers: "[]"}, []string{o.authz})
					if err != nil {
						return err
					}
				}
				for _, c := range []store.Certificate{
					{Serial: "gone", NotAfter: now.Add(-400 * 24 * time.Hour)},
					{Serial: "kept", NotAfter: now.Add(-time.Hour)},
				} {
					c.DER, c.Status = []byte{0x30}, "valid"
					if err := tx.CreateCertificate(&c); err != nil {
						return err
					}
					// Both were reported as expiring without renewal.
					if err := tx.RecordExpiryNotice(c.Serial, c.NotAfter); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var got store.PurgeCounts
			err = st.Transact(ctx, func(tx *store.Tx) error {
				var err error
				got, err = tx.PurgeExpired(now, now.Add(-365*24*time.Hour))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			want := store.PurgeCounts{Orders: 1, Authorizations: 1, Challenges: 1, Certificates: 1,
				ExpiryNotices: 1}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			r := st.Read(ctx)
			for _, id := range []string{"o-valid", "o-live"} {
				if _, err := r.Order(id); err != nil {
					t.Errorf("order %s: %v, want it kept", id, err)
				}
			}
			if _, err := r.Authorization("az-shared"); err != nil {
				t.Errorf("authorization of a kept order was purged: %v", err)
			}
			if _, err := r.Certificate("kept"); err != nil {
				t.Errorf("recent certificate was purged: %v", err)
			}
			err = st.Transact(ctx, func(tx *store.Tx) error {
				return tx.RecordExpiryNotice("kept", now.Add(-time.Hour))
			})
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("a second notice for the kept certificate: got %v, want ErrConflict "+
					"(its first notice must survive the purge)", err)
			}

			// An authorization that outlives its purged order goes once it
			// expires past a later cutoff.
			err = st.Transact(ctx, func(tx *store.Tx) error {
				err := tx.CreateAuthorization(&store.Authorization{ID: "az-late", AccountID: "A",
					IdentifierType: "dns", IdentifierValue: "late.x", Status: "valid",
					Expires: now.Add(time.Hour)}, []store.Challenge{{ID: "ch-late",
					Type: "http-01", Token: "t", Status: "valid"}})
				if err != nil {
					return err
				}
				return tx.CreateOrder(&store.Order{ID: "o-late", AccountID: "A", Status: "invalid",
					Expires: old, Identifiers: "[]"}, []string{"az-late"})
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range []struct {
				cutoff time.Time
				want   store.PurgeCounts
			}{
				{now, store.PurgeCounts{Orders: 1}},
				{now.Add(2 * time.Hour), store.PurgeCounts{Authorizations: 1, Challenges: 1}},
				{now.Add(3 * time.Hour), store.PurgeCounts{}},
			} {
				err = st.Transact(ctx, func(tx *store.Tx) error {
					var err error
					got, err = tx.PurgeExpired(step.cutoff, time.Time{})
					return err
				})
				if err != nil || got != step.want {
					t.Errorf("purge at %v: got %+v, %v, want %+v", step.cutoff, got, err, step.want)
				}
			}
			if _, err := r.Authorization("az-shared"); err != nil {
				t.Errorf("authorization of a kept order was purged later: %v", err)
			}
		})
	}
}
