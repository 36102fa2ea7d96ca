package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
)

func TestAccounts(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		ctx := context.Background()
		transact(t, s, func(tx *store.Tx) error {
			if err := tx.CreateAccount(newAccount("acct-1")); err != nil {
				return err
			}
			return tx.CreateAccount(newAccount("acct-2"))
		})

		sameKey := newAccount("acct-3")
		sameKey.KeyThumbprint = "thumb-acct-1"
		sameID := newAccount("acct-1")
		sameID.KeyThumbprint = "thumb-other"
		moved := newAccount("acct-2")
		moved.KeyThumbprint = "thumb-acct-1"
		tests := []struct {
			name string
			fn   func(tx *store.Tx) error
			want error
		}{
			{"duplicate thumbprint", func(tx *store.Tx) error { return tx.CreateAccount(sameKey) },
				store.ErrConflict},
			{"duplicate ID", func(tx *store.Tx) error { return tx.CreateAccount(sameID) },
				store.ErrConflict},
			{"key change to a bound key",
				func(tx *store.Tx) error { return tx.UpdateAccount(moved) }, store.ErrConflict},
			{"unknown ID", func(tx *store.Tx) error {
				_, err := tx.Account("acct-nope")
				return err
			}, store.ErrNotFound},
			{"unknown thumbprint", func(tx *store.Tx) error {
				_, err := tx.AccountByThumbprint("acme", "thumb-nope")
				return err
			}, store.ErrNotFound},
		}
		for _, tt := range tests {
			err := s.Transact(ctx, tt.fn)
			checkErr(t, tt.name, err, tt.want)
			if tt.want == store.ErrNotFound {
				checkErr(t, tt.name+" (read)", tt.fn(s.Read(ctx)), tt.want)
			}
		}

		got, err := s.Read(ctx).AccountByThumbprint("acme", "thumb-acct-1")
		if err != nil {
			t.Fatalf("AccountByThumbprint: %v", err)
		}
		if got.ID != "acct-1" || got.Status != "valid" || got.KeyJWK != `{"kty":"EC"}` ||
			got.Contacts != `["mailto:admin@example.com"]` || !got.CreatedAt.Equal(epoch) {
			t.Errorf("AccountByThumbprint: got %+v, want acct-1 as created at %v", got, epoch)
		}

		update := newAccount("acct-2")
		update.Status = "deactivated"
		update.KeyThumbprint = "thumb-rolled"
		update.Contacts = "[]"
		update.TermsAgreed = true
		transact(t, s, func(tx *store.Tx) error { return tx.UpdateAccount(update) })
		got, err = s.Read(ctx).Account("acct-2")
		if err != nil {
			t.Fatalf("Account: %v", err)
		}
		if got.Status != "deactivated" || got.KeyThumbprint != "thumb-rolled" ||
			got.Contacts != "[]" || !got.TermsAgreed {
			t.Errorf("Account after update: got %+v, want the updated fields", got)
		}
	})
}

// TestRetiredAccountKeys checks the key history of an account: most
// recently retired first, a key retired twice listed once at its later
// time, other accounts apart.
func TestRetiredAccountKeys(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		for _, k := range []struct{ account, thumbprint string }{
			{"A", "k1"}, {"A", "k2"}, {"B", "k9"}, {"A", "k1"}, {"A", "k3"},
		} {
			transact(t, s, func(tx *store.Tx) error {
				return tx.RetireAccountKey(k.account, k.thumbprint)
			})
			clock.Add(time.Minute)
		}
		got, err := s.Read(context.Background()).RetiredAccountKeys("A")
		if err != nil {
			t.Fatalf("RetiredAccountKeys: %v", err)
		}
		if want := []string{"k3", "k1", "k2"}; !slices.Equal(got, want) {
			t.Errorf("RetiredAccountKeys(A): got %v, want %v", got, want)
		}
		none, err := s.Read(context.Background()).RetiredAccountKeys("C")
		if err != nil || len(none) != 0 {
			t.Errorf("RetiredAccountKeys(C): got %v, %v; want none", none, err)
		}
	})
}
