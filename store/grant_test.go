package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
)

func TestGrants(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		ctx := context.Background()
		grants := []*store.OwnershipGrant{
			{ID: "grant_acct", AccountID: "acct-1", Pattern: "*.team-a.corp.internal"},
			{ID: "grant_eab", EABKeyID: "eab-1", Pattern: "10.1.0.0/16"},
			{ID: "grant_other", AccountID: "acct-2", Pattern: "x.corp.internal"},
			{ID: "grant_expired", AccountID: "acct-1", Pattern: "old.corp.internal",
				Expires: epoch.Add(-time.Second)},
			{ID: "grant_revoked", AccountID: "acct-1", Pattern: "gone.corp.internal"},
		}
		transact(t, s, func(tx *store.Tx) error {
			for _, g := range grants {
				g.Reason, g.Owner = "test", "team-a"
				if g.Expires.IsZero() {
					g.Expires = epoch.Add(time.Hour)
				}
				if err := tx.CreateGrant(g); err != nil {
					return err
				}
			}
			return tx.RevokeGrant("grant_revoked", epoch)
		})

		ids := func(rows []store.OwnershipGrant) []string {
			var out []string
			for _, g := range rows {
				out = append(out, g.ID)
			}
			slices.Sort(out)
			return out
		}
		tests := []struct {
			name, account, eab string
			at                 time.Time
			want               []string
		}{
			{"account alone", "acct-1", "", epoch, []string{"grant_acct"}},
			{"account and its EAB key", "acct-1", "eab-1", epoch, []string{"grant_acct", "grant_eab"}},
			{"EAB key of another account", "acct-3", "eab-1", epoch, []string{"grant_eab"}},
			{"no EAB key matches no EAB grant", "acct-3", "", epoch, nil},
			{"all expired", "acct-1", "eab-1", epoch.Add(time.Hour), nil},
		}
		for _, tt := range tests {
			rows, err := s.Read(ctx).ActiveGrants(tt.account, tt.eab, tt.at)
			if err != nil {
				t.Fatalf("%s: ActiveGrants: %v", tt.name, err)
			}
			if got := ids(rows); !slices.Equal(got, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
			}
		}

		all, err := s.Read(ctx).Grants()
		if err != nil || len(all) != len(grants) {
			t.Fatalf("Grants: got %d rows and %v, want %d", len(all), err, len(grants))
		}
		g, err := s.Read(ctx).Grant("grant_revoked")
		if err != nil || g.RevokedAt == nil || g.Active(epoch) {
			t.Errorf("Grant(grant_revoked): got %+v, %v; want revoked and inactive", g, err)
		}
		err = s.Transact(ctx, func(tx *store.Tx) error { return tx.RevokeGrant("grant_revoked", epoch) })
		checkErr(t, "revoke twice", err, store.ErrNotFound)
		_, err = s.Read(ctx).Grant("nope")
		checkErr(t, "load unknown", err, store.ErrNotFound)
	})
}

func TestGrantedAuthorizations(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		transact(t, s, func(tx *store.Tx) error {
			for _, a := range []*store.Authorization{
				{ID: "az-1", Status: "valid", GrantID: "grant_1", Method: "grant"},
				{ID: "az-2", Status: "deactivated", GrantID: "grant_1", Method: "grant"},
				{ID: "az-3", Status: "valid"},
			} {
				a.AccountID, a.IdentifierType, a.IdentifierValue = "acct-1", "dns", a.ID+".test"
				a.Expires = epoch.Add(time.Hour)
				if err := tx.CreateAuthorization(a, nil); err != nil {
					return err
				}
			}
			return nil
		})
		rows, err := s.Read(context.Background()).GrantedAuthorizations("grant_1", []string{"valid"})
		if err != nil || len(rows) != 1 || rows[0].ID != "az-1" || rows[0].Method != "grant" {
			t.Errorf("got %+v, %v; want only az-1 made by the grant", rows, err)
		}
	})
}

// TestRevokeGrantWaitsForOrders checks that a revocation sees the
// authorization an order is making from the grant at that moment: the
// order read the grant first, so the revocation waits for it to commit and
// then finds its authorization (on SQLite the single writer orders them).
func TestRevokeGrantWaitsForOrders(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		ctx := context.Background()
		transact(t, s, func(tx *store.Tx) error {
			return tx.CreateGrant(&store.OwnershipGrant{ID: "grant_1", AccountID: "acct-1",
				Pattern: "*.corp.internal", Reason: "test", Owner: "team",
				Expires: epoch.Add(time.Hour)})
		})
		read := make(chan struct{})
		ordered := make(chan error, 1)
		go func() {
			ordered <- s.Transact(ctx, func(tx *store.Tx) error {
				grants, err := tx.ActiveGrants("acct-1", "", epoch)
				if err != nil || len(grants) != 1 {
					return fmt.Errorf("ActiveGrants: got %d grants, %v; want 1", len(grants), err)
				}
				close(read)
				// The revocation starts now, and must wait for this commit.
				time.Sleep(200 * time.Millisecond)
				return tx.CreateAuthorization(&store.Authorization{ID: "az-granted",
					AccountID: "acct-1", IdentifierType: "dns", IdentifierValue: "a.corp.internal",
					Status: "valid", Method: "grant", GrantID: "grant_1",
					Expires: epoch.Add(time.Hour)}, nil)
			})
		}()
		<-read
		var seen []store.Authorization
		transact(t, s, func(tx *store.Tx) error {
			if err := tx.RevokeGrant("grant_1", epoch); err != nil {
				return err
			}
			var err error
			seen, err = tx.GrantedAuthorizations("grant_1", []string{"valid", "pending"})
			return err
		})
		if err := <-ordered; err != nil {
			t.Fatalf("the order's transaction: %v", err)
		}
		if len(seen) != 1 || seen[0].ID != "az-granted" {
			t.Errorf("the revocation saw %v, want the order's authorization az-granted", seen)
		}
	})
}
