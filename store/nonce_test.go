package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
)

// TestRedeemNonceRace replays one nonce from 50 requests at once: exactly
// one may redeem it (RFC 8555, Section 6.5).
func TestRedeemNonceRace(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		expires := epoch.Add(time.Hour)
		errs := race(50, func(int) error {
			return s.Transact(context.Background(), func(tx *store.Tx) error {
				return tx.RedeemNonce("nonce-1", expires)
			})
		})
		checkOneWinner(t, errs, store.ErrConflict)

		// Outside a transaction the rule is the same.
		err := s.Read(context.Background()).RedeemNonce("nonce-1", expires)
		checkErr(t, "redeeming again", err, store.ErrConflict)
	})
}

func TestPurgeNonces(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		ctx := context.Background()
		transact(t, s, func(tx *store.Tx) error {
			for i, d := range []time.Duration{-2 * time.Hour, -time.Minute, time.Minute} {
				if err := tx.RedeemNonce(string(rune('a'+i)), epoch.Add(d)); err != nil {
					return err
				}
			}
			return nil
		})
		n, err := s.Read(ctx).PurgeNonces(epoch)
		if err != nil || n != 2 {
			t.Errorf("PurgeNonces: got %d, %v, want 2", n, err)
		}
		tests := []struct {
			value string
			want  error
		}{
			{"a", nil}, // purged, so the row is free again
			{"c", store.ErrConflict},
		}
		for _, tt := range tests {
			err := s.Read(ctx).RedeemNonce(tt.value, epoch.Add(time.Hour))
			checkErr(t, "redeeming "+tt.value, err, tt.want)
		}
	})
}

// TestSharedSecret starts 20 replicas' worth of callers at once: all must
// get the one stored value.
func TestSharedSecret(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		const n = 20
		secrets := make([][]byte, n)
		errs := race(n, func(i int) error {
			var err error
			secrets[i], err = s.SharedSecret("nonce-key", 32)
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("caller %d: %v", i, err)
			}
		}
		if len(secrets[0]) != 32 {
			t.Errorf("secret length: got %d, want 32", len(secrets[0]))
		}
		for i, sec := range secrets {
			if !bytes.Equal(sec, secrets[0]) {
				t.Errorf("caller %d: got %x, want %x like caller 0", i, sec, secrets[0])
			}
		}
		again, err := s.SharedSecret("nonce-key", 32)
		if err != nil || !bytes.Equal(again, secrets[0]) {
			t.Errorf("later call: got %x, %v, want %x", again, err, secrets[0])
		}
		other, err := s.SharedSecret("other-key", 16)
		if err != nil || len(other) != 16 || bytes.Equal(other, secrets[0][:16]) {
			t.Errorf("other name: got %x, %v, want a distinct 16-byte secret", other, err)
		}
	})
}
