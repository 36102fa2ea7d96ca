package nonce

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

// fakeClock moves only when told.
type fakeClock = storetest.Clock

func newService(t *testing.T, st *store.Store, clock *fakeClock, key []byte) *Service {
	t.Helper()
	s, err := New(StoreRedeemer{Store: st}, key, clock.Now, rand.Reader, time.Hour)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// TestMemoryRedeemer covers the single-process redeemer: once only, even
// under concurrency, and forgotten after expiry.
func TestMemoryRedeemer(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := New(&MemoryRedeemer{}, testKey(3), clock.Now, rand.Reader, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := s.Nonce()
	var accepted atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.Redeem(context.Background(), n) == nil {
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	if accepted.Load() != 1 {
		t.Fatalf("got %d accepted, want 1", accepted.Load())
	}
	clock.Add(2 * time.Hour)
	if got, err := s.Purge(context.Background()); err != nil || got != 1 {
		t.Fatalf("purge: got %d, %v; want 1, nil", got, err)
	}
	// Expired, so refused on its timestamp even though it is forgotten.
	wantBadNonce(t, s.Redeem(context.Background(), n))
}

// TestRestartInvalidatesMemoryNonces shows that a new process key makes
// nonces of the previous process fail, so forgetting them is safe.
func TestRestartInvalidatesMemoryNonces(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	before, _ := New(&MemoryRedeemer{}, testKey(4), clock.Now, rand.Reader, time.Hour)
	after, _ := New(&MemoryRedeemer{}, testKey(5), clock.Now, rand.Reader, time.Hour)
	n, _ := before.Nonce()
	wantBadNonce(t, after.Redeem(context.Background(), n))
}

func testKey(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b
	}
	return k
}

func wantBadNonce(t *testing.T, err error) {
	t.Helper()
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Type != problem.BadNonce {
		t.Fatalf("got %v, want a badNonce problem", err)
	}
}

func TestRedeemOnce(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := storetest.Open(t, d)
			clock := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			s := newService(t, st, clock, testKey(1))
			n, err := s.Nonce()
			if err != nil {
				t.Fatal(err)
			}
			if len(n) != EncodedLen {
				t.Fatalf("got nonce length %d, want %d", len(n), EncodedLen)
			}
			if err := s.Redeem(context.Background(), n); err != nil {
				t.Fatalf("first redeem: %v", err)
			}
			// SECURITY-CATALOGUE B1: the same nonce twice is refused.
			wantBadNonce(t, s.Redeem(context.Background(), n))
		})
	}
}

func TestRedeemRefuses(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	clock := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newService(t, st, clock, testKey(1))
	other := newService(t, st, clock, testKey(2))
	good, _ := s.Nonce()
	forged, _ := other.Nonce()
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	raw[len(raw)-1] ^= 1
	tampered := base64.RawURLEncoding.EncodeToString(raw)

	tests := []struct {
		name  string
		nonce string
	}{
		{"empty (B4)", ""},
		{"wrong length (B4)", good[:10]},
		{"not base64url (B4)", good[:EncodedLen-1] + "*"},
		{"other key (forged)", forged},
		{"tampered MAC", tampered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantBadNonce(t, s.Redeem(context.Background(), tc.nonce))
		})
	}
	// A refused forgery does not burn the real nonce.
	if err := s.Redeem(context.Background(), good); err != nil {
		t.Fatalf("redeeming the untouched nonce: %v", err)
	}
}

func TestRedeemExpired(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	clock := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newService(t, st, clock, testKey(1))
	n, _ := s.Nonce()
	clock.Add(time.Hour + time.Second)
	// SECURITY-CATALOGUE B4: an expired nonce is refused.
	wantBadNonce(t, s.Redeem(context.Background(), n))
}

// TestRedeemAcrossReplicas shows that two services sharing the store and the
// key, as replicas do, accept a nonce once in all (SECURITY-CATALOGUE B2).
func TestRedeemAcrossReplicas(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := storetest.Open(t, d)
			clock := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			replicas := []*Service{newService(t, st, clock, testKey(7)), newService(t, st, clock, testKey(7))}
			n, _ := replicas[0].Nonce()
			var accepted, refused atomic.Int32
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := replicas[i%2].Redeem(context.Background(), n)
					var pe *problem.Error
					switch {
					case err == nil:
						accepted.Add(1)
					case errors.As(err, &pe) && pe.Type == problem.BadNonce:
						refused.Add(1)
					default:
						t.Errorf("redeem: unexpected error %v", err)
					}
				}()
			}
			wg.Wait()
			if accepted.Load() != 1 || refused.Load() != 49 {
				t.Fatalf("got %d accepted and %d refused, want 1 and 49", accepted.Load(), refused.Load())
			}
		})
	}
}

func TestPurge(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	clock := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newService(t, st, clock, testKey(1))
	for range 5 {
		n, _ := s.Nonce()
		if err := s.Redeem(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Purge(context.Background()); err != nil || n != 0 {
		t.Fatalf("purge before expiry: got %d, %v; want 0, nil", n, err)
	}
	clock.Add(2 * time.Hour)
	if n, err := s.Purge(context.Background()); err != nil || n != 5 {
		t.Fatalf("purge after expiry: got %d, %v; want 5, nil", n, err)
	}
}

func TestNewRefusesShortKey(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, make([]byte, 16), time.Now, rand.Reader, 0); err == nil {
		t.Fatal("got nil error for a 16-byte key, want an error")
	}
}

func BenchmarkIssueAndRedeem(b *testing.B) {
	st := storetest.Open(b, store.SQLite)
	s, err := New(StoreRedeemer{Store: st}, testKey(1), time.Now, rand.Reader, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		n, err := s.Nonce()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Redeem(context.Background(), n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	s, err := New(nil, testKey(1), time.Now, rand.Reader, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Nonce(); err != nil {
			b.Fatal(err)
		}
	}
}
