package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

// epoch is where every fake clock starts: whole seconds, so that times
// survive MySQL's millisecond columns unchanged.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock moves only when told to.
type fakeClock = storetest.Clock

func newClock() *fakeClock { return storetest.NewClock(epoch) }

// eachDialect runs fn as a parallel subtest on a fresh store of every
// dialect, with a fake clock.
func eachDialect(t *testing.T, fn func(t *testing.T, s *store.Store, clock *fakeClock)) {
	t.Helper()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			clock := newClock()
			s := storetest.OpenWith(t, d, store.Options{Now: clock.Now})
			fn(t, s, clock)
		})
	}
}

// transact runs fn in a transaction and fails the test on error.
func transact(t testing.TB, s *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := s.Transact(context.Background(), fn); err != nil {
		t.Fatalf("transaction: %v", err)
	}
}

// race starts n goroutines running fn together and returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// checkOneWinner fails the test unless exactly one error is nil and every
// other one wraps want.
func checkOneWinner(t *testing.T, errs []error, want error) {
	t.Helper()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, want):
			t.Errorf("goroutine %d: got error %v, want one wrapping %v", i, err, want)
		}
	}
	if wins != 1 {
		t.Errorf("got %d successful goroutines, want exactly 1", wins)
	}
}

// checkErr fails the test unless err wraps want (or is nil when want is).
func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: got error %v, want nil", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want one wrapping %v", what, err, want)
	}
}

func newAccount(id string) *store.Account {
	return &store.Account{
		ID:            id,
		KeyThumbprint: "thumb-" + id,
		KeyJWK:        `{"kty":"EC"}`,
		Status:        "valid",
		Contacts:      `["mailto:admin@example.com"]`,
	}
}

func newOrder(id, accountID string) *store.Order {
	return &store.Order{
		ID:          id,
		AccountID:   accountID,
		Status:      "pending",
		Expires:     epoch.Add(7 * 24 * time.Hour),
		Identifiers: `[{"type":"dns","value":"www.example.com"}]`,
	}
}

// auditEvent returns a distinct event for writer w, number i.
func auditEvent(w, i int) store.Event {
	return store.Event{
		Type:    "order.created",
		Actor:   fmt.Sprintf("account-%d", w),
		Subject: fmt.Sprintf("order-%d-%d", w, i),
		Outcome: "success",
		Reason:  fmt.Sprintf("writer %d event %d", w, i),
		Data:    map[string]int{"writer": w, "event": i},
	}
}

// verifyIntact fails the test unless the audit chain is intact with want
// events.
func verifyIntact(t *testing.T, s *store.Store, want int64) {
	t.Helper()
	brk, n, err := s.VerifyAudit(context.Background())
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	if brk != nil {
		t.Errorf("VerifyAudit: got break at %d (%s), want intact chain", brk.Seq, brk.Reason)
	}
	if n != want {
		t.Errorf("VerifyAudit: got %d events, want %d", n, want)
	}
}
