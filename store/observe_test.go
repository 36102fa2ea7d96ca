package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

func TestCountCertificates(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		cert := func(serial, status string, notAfter time.Time) *store.Certificate {
			return &store.Certificate{Serial: serial, OrderID: "o", AccountID: "a", DER: []byte{1},
				NotBefore: epoch.Add(-time.Hour), NotAfter: notAfter, Status: status}
		}
		transact(t, s, func(tx *store.Tx) error {
			for _, c := range []*store.Certificate{
				cert("01", "valid", epoch.Add(2*time.Hour)),      // expiring
				cert("02", "valid", epoch.Add(72*time.Hour)),     // valid
				cert("03", "valid", epoch.Add(-time.Minute)),     // expired
				cert("04", "revoked", epoch.Add(2*time.Hour)),    // revoked
				cert("05", "valid", epoch.Add(24*time.Hour)),     // expiring, at the edge
				cert("06", "valid", epoch.Add(24*time.Hour+1e9)), // just outside
			} {
				if err := tx.CreateCertificate(c); err != nil {
					return err
				}
			}
			return nil
		})
		got, err := s.Read(context.Background()).CountCertificates(epoch, 24*time.Hour)
		if err != nil {
			t.Fatalf("CountCertificates: %v", err)
		}
		if want := (store.CertificateCounts{Valid: 4, Expiring: 2}); got != want {
			t.Errorf("CountCertificates: got %+v, want %+v", got, want)
		}
	})
}

func TestTransactObserve(t *testing.T) {
	var mu sync.Mutex
	var calls []error
	s := storetest.OpenWith(t, storetest.Dialects(t)[0], store.Options{
		Observe: func(d time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			if d < 0 {
				t.Errorf("Observe: negative duration %v", d)
			}
			calls = append(calls, err)
		}})
	boom := errors.New("boom")
	_ = s.Transact(context.Background(), func(*store.Tx) error { return nil })
	_ = s.Transact(context.Background(), func(*store.Tx) error { return boom })
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || calls[0] != nil || !errors.Is(calls[1], boom) {
		t.Errorf("Observe: got calls %v, want nil then boom", calls)
	}
}
