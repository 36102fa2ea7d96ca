package store_test

import (
	"context"
	"testing"

	"github.com/acmegate/acmegate/store"
)

func TestBindEABKey(t *testing.T) {
	tests := []struct {
		name     string
		reusable bool
		revoked  bool
		// binds lists the wanted outcome of each successive bind.
		binds        []error
		wantBindings int
	}{
		{"single use", false, false, []error{nil, store.ErrConflict, store.ErrConflict}, 1},
		{"reusable", true, false, []error{nil, nil, nil}, 3},
		{"revoked single use", false, true, []error{store.ErrConflict}, 0},
		{"revoked reusable", true, true, []error{store.ErrConflict}, 0},
	}
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		ctx := context.Background()
		for _, tt := range tests {
			k := &store.EABKey{ID: "kid-" + tt.name, Label: tt.name, MACKey: []byte("secret-mac"),
				Reusable: tt.reusable}
			transact(t, s, func(tx *store.Tx) error {
				if err := tx.CreateEABKey(k); err != nil {
					return err
				}
				if tt.revoked {
					return tx.RevokeEABKey(k.ID, epoch)
				}
				return nil
			})
			for i, want := range tt.binds {
				err := s.Transact(ctx, func(tx *store.Tx) error { return tx.BindEABKey(k.ID) })
				checkErr(t, tt.name+" bind "+string(rune('1'+i)), err, want)
			}
			got, err := s.Read(ctx).EABKey(k.ID)
			if err != nil {
				t.Fatalf("%s: EABKey: %v", tt.name, err)
			}
			if got.Bindings != tt.wantBindings || string(got.MACKey) != "secret-mac" ||
				got.Reusable != tt.reusable || (got.RevokedAt != nil) != tt.revoked {
				t.Errorf("%s: got %+v, want %d bindings", tt.name, got, tt.wantBindings)
			}
		}

		others := []struct {
			name string
			fn   func(tx *store.Tx) error
			want error
		}{
			{"bind unknown", func(tx *store.Tx) error { return tx.BindEABKey("nope") },
				store.ErrConflict},
			{"revoke unknown", func(tx *store.Tx) error { return tx.RevokeEABKey("nope", epoch) },
				store.ErrNotFound},
			{"revoke twice", func(tx *store.Tx) error {
				return tx.RevokeEABKey("kid-revoked reusable", epoch)
			}, store.ErrNotFound},
			{"load unknown", func(tx *store.Tx) error { _, err := tx.EABKey("nope"); return err },
				store.ErrNotFound},
			{"duplicate ID", func(tx *store.Tx) error {
				return tx.CreateEABKey(&store.EABKey{ID: "kid-reusable", MACKey: []byte("x")})
			}, store.ErrConflict},
		}
		for _, tt := range others {
			checkErr(t, tt.name, s.Transact(ctx, tt.fn), tt.want)
		}

		keys, err := s.Read(ctx).EABKeys()
		if err != nil || len(keys) != len(tests) {
			t.Fatalf("EABKeys: got %d, %v, want %d", len(keys), err, len(tests))
		}
		for _, k := range keys {
			if k.MACKey != nil {
				t.Errorf("EABKeys: key %s: got MAC key loaded, want it omitted", k.ID)
			}
		}
	})
}

// TestBindEABKeyRace binds one single-use key from 10 new-account requests
// at once: only one account may get it.
func TestBindEABKeyRace(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		transact(t, s, func(tx *store.Tx) error {
			return tx.CreateEABKey(&store.EABKey{ID: "kid-1", MACKey: []byte("secret-mac")})
		})
		errs := race(10, func(int) error {
			return s.Transact(context.Background(), func(tx *store.Tx) error {
				return tx.BindEABKey("kid-1")
			})
		})
		checkOneWinner(t, errs, store.ErrConflict)
	})
}
