package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
)

// leaseTTL is the lease lifetime of the tests below.
const leaseTTL = 10 * time.Second

func TestLeaseTable(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		if !s.DB().Migrator().HasTable(&store.Lease{}) {
			t.Errorf("table for %T: got missing, want created", &store.Lease{})
		}
	})
}

// TestTryLease walks two replicas through a lease's life on the fake
// clock: first claim, refusal, renewal, expiry and take-over.
func TestTryLease(t *testing.T) {
	steps := []struct {
		name    string
		advance time.Duration // moved on the clock before the call
		lease   string
		holder  string
		want    bool
	}{
		{name: "a takes the free lease", lease: "upkeep", holder: "a", want: true},
		{name: "b is refused", lease: "upkeep", holder: "b", want: false},
		{name: "another lease is free for b", lease: "other", holder: "b", want: true},
		{name: "a renews", advance: 8 * time.Second, lease: "upkeep", holder: "a", want: true},
		{name: "b is refused after the first expiry, renewed",
			advance: 4 * time.Second, lease: "upkeep", holder: "b", want: false},
		{name: "b is refused at the exact expiry",
			advance: 6 * time.Second, lease: "upkeep", holder: "b", want: false},
		{name: "b takes over once expired", advance: time.Second, lease: "upkeep", holder: "b", want: true},
		{name: "a is refused after losing it", lease: "upkeep", holder: "a", want: false},
		{name: "b renews", advance: 5 * time.Second, lease: "upkeep", holder: "b", want: true},
		{name: "a is refused within the renewal",
			advance: 9 * time.Second, lease: "upkeep", holder: "a", want: false},
		{name: "a takes it back after b stops renewing",
			advance: 2 * time.Second, lease: "upkeep", holder: "a", want: true},
	}
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		ctx := context.Background()
		for _, st := range steps {
			clock.Add(st.advance)
			got, err := s.TryLease(ctx, st.lease, st.holder, leaseTTL)
			if err != nil {
				t.Fatalf("%s: TryLease: %v", st.name, err)
			}
			if got != st.want {
				t.Errorf("%s: TryLease(%q, %q): got %v, want %v", st.name, st.lease, st.holder, got, st.want)
			}
		}
		var row store.Lease
		if err := s.DB().Where("name = ?", "upkeep").Take(&row).Error; err != nil {
			t.Fatalf("reading the lease row: %v", err)
		}
		if want := clock.Now().Add(leaseTTL); row.Holder != "a" || !row.ExpiresAt.Equal(want) {
			t.Errorf("lease row: got holder %q until %v, want a until %v", row.Holder, row.ExpiresAt, want)
		}
	})
}

// TestTryLeaseRace lets 20 replicas claim a free lease at once, then an
// expired one: exactly one may win each time.
func TestTryLeaseRace(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		for round, name := range []string{"free", "expired"} {
			got := make([]bool, 20)
			errs := race(len(got), func(i int) error {
				var err error
				got[i], err = s.TryLease(context.Background(), "upkeep",
					fmt.Sprintf("replica-%d-%d", round, i), leaseTTL)
				return err
			})
			wins := 0
			for i, err := range errs {
				if err != nil {
					t.Errorf("%s lease, replica %d: %v", name, i, err)
				}
				if got[i] {
					wins++
				}
			}
			if wins != 1 {
				t.Errorf("%s lease: got %d holders, want exactly 1", name, wins)
			}
			clock.Add(leaseTTL + time.Second)
		}
	})
}
