package store_test

import (
	"context"
	"errors"
	"slices"
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

// TestCertificatesReplacing checks that renewals are found by the serial
// their ARI replaces field names, however the ID spells it, within the
// account, oldest first.
func TestCertificatesReplacing(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		// Serial 0x8a01 in DER takes a leading zero octet; the ID may
		// also carry it or not.
		const aki = "AQID"
		canonical := aki + ".AIoB" // 00 8a 01
		minimal := aki + ".igE"    // 8a 01
		other := aki + ".AQI"      // 01 02
		certs := []struct {
			serial, account, replaces string
		}{
			{"8a01", "a", ""},
			{"10", "a", canonical},
			{"11", "a", other},
			{"12", "b", canonical}, // another account
			{"13", "a", minimal},
			{"14", "a", "not an ID"},
		}
		for _, c := range certs {
			transact(t, s, func(tx *store.Tx) error {
				return tx.CreateCertificate(&store.Certificate{Serial: c.serial, OrderID: "o",
					AccountID: c.account, DER: []byte{1}, NotBefore: epoch,
					NotAfter: epoch.Add(time.Hour), Status: "valid", Replaces: c.replaces})
			})
			clock.Add(time.Second)
		}
		got, err := s.Read(context.Background()).CertificatesReplacing("a", "8a01")
		if err != nil {
			t.Fatalf("CertificatesReplacing: %v", err)
		}
		var serials []string
		for _, c := range got {
			serials = append(serials, c.Serial)
			if len(c.DER) == 0 {
				t.Errorf("certificate %s: loaded without its DER", c.Serial)
			}
		}
		if want := []string{"10", "13"}; !slices.Equal(serials, want) {
			t.Errorf("CertificatesReplacing: got %v, want %v", serials, want)
		}
		none, err := s.Read(context.Background()).CertificatesReplacing("a", "99")
		if err != nil || len(none) != 0 {
			t.Errorf("CertificatesReplacing of an unreplaced serial: got %v, %v; want none", none, err)
		}
	})
}
