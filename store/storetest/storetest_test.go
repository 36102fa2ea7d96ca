package storetest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

// TestIsolation opens two stores of each dialect and checks that a row
// written through one is invisible to the other.
func TestIsolation(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			a, b := storetest.Open(t, d), storetest.Open(t, d)
			if a.Dialect() != d {
				t.Errorf("Dialect: got %q, want %q", a.Dialect(), d)
			}
			err := a.Transact(ctx, func(tx *store.Tx) error {
				return tx.CreateAccount(&store.Account{ID: "acct-1", KeyThumbprint: "k",
					KeyJWK: "{}", Status: "valid"})
			})
			if err != nil {
				t.Fatalf("CreateAccount: %v", err)
			}
			if _, err := a.Read(ctx).Account("acct-1"); err != nil {
				t.Errorf("account in its own store: %v", err)
			}
			_, err = b.Read(ctx).Account("acct-1")
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("account in the other store: got %v, want ErrNotFound", err)
			}
		})
	}
}
