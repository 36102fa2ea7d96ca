package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
)

func TestPolicyVersions(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		ctx := context.Background()
		r := s.Read(ctx)
		if _, err := r.LatestPolicy(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LatestPolicy on an empty store: got %v, want ErrNotFound", err)
		}
		if v, err := r.LatestPolicyVersion(); err != nil || v != 0 {
			t.Errorf("LatestPolicyVersion on an empty store: got %d, %v, want 0", v, err)
		}
		for i, doc := range []string{"rules: []\n", "rules: [{name: a}]\n"} {
			row := &store.PolicyVersion{Document: doc, SHA256: "h", Author: "alice"}
			transact(t, s, func(tx *store.Tx) error {
				return tx.SavePolicy(row, store.Event{Type: "policy.changed", Outcome: "success"})
			})
			if row.Version != i+1 {
				t.Errorf("save %d: got version %d, want %d", i, row.Version, i+1)
			}
			clock.Add(time.Minute)
		}
		latest, err := r.LatestPolicy()
		if err != nil || latest.Version != 2 || latest.Document != "rules: [{name: a}]\n" {
			t.Errorf("LatestPolicy: got %+v, %v, want version 2", latest, err)
		}
		first, err := r.Policy(1)
		if err != nil || first.Document != "rules: []\n" || !first.CreatedAt.Equal(epoch) {
			t.Errorf("Policy(1): got %+v, %v, want the first document", first, err)
		}
		list, err := r.PolicyVersions(10)
		if err != nil || len(list) != 2 || list[0].Version != 2 || list[0].Document != "" {
			t.Errorf("PolicyVersions: got %+v, %v, want 2 then 1 without documents", list, err)
		}
		events, err := s.AuditEvents(ctx, 0, time.Time{}, 10)
		if err != nil || len(events) != 2 || events[1].Subject != "policy:v2" {
			t.Errorf("audit: got %+v, %v, want two events, the second for policy:v2", events, err)
		}
	})
}

func TestRecentUsage(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		r := s.Read(context.Background())
		for i, names := range []string{"a.example", "b.example,a.example", "a.example,c.example",
			"x,a.example,y", "ba.example", "a_example"} {
			transact(t, s, func(tx *store.Tx) error {
				o := newOrder(string(rune('p'+i)), "acct-1")
				var ids []string
				for n := range strings.SplitSeq(names, ",") {
					ids = append(ids, `{"type":"dns","value":"`+n+`"}`)
				}
				o.Identifiers = "[" + strings.Join(ids, ",") + "]"
				if err := tx.CreateOrder(o, nil); err != nil {
					return err
				}
				return tx.CreateCertificate(&store.Certificate{Serial: string(rune('a' + i)),
					AccountID: "acct-1", DER: []byte{1}, Names: names, Status: "valid"})
			})
			clock.Add(time.Minute)
		}
		all := store.Window{After: epoch.Add(-time.Second), Limit: 10}
		times, err := r.RecentCertificatesFor("a.example", all)
		if err != nil || len(times) != 4 {
			t.Fatalf("RecentCertificatesFor(a.example): got %d times, %v, want 4", len(times), err)
		}
		if !times[0].Equal(epoch.Add(3*time.Minute)) || !times[3].Equal(epoch) {
			t.Errorf("order: got %v, want newest first", times)
		}
		// ba.example and a_example are other names, not matches.
		if times, _ := r.RecentOrdersFor("a.example", all); len(times) != 4 {
			t.Errorf("RecentOrdersFor(a.example): got %d, want 4", len(times))
		}
		window := store.Window{After: epoch, Before: epoch.Add(3 * time.Minute), Limit: 10}
		if times, _ := r.RecentCertificatesFor("a.example", window); len(times) != 2 {
			t.Errorf("bounded window: got %d, want 2", len(times))
		}
		if times, _ := r.RecentOrders("acct-1", store.Window{After: epoch, Limit: 2}); len(times) != 2 ||
			!times[0].Equal(epoch.Add(5*time.Minute)) {
			t.Errorf("RecentOrders limited: got %v, want the 2 newest", times)
		}
		if times, _ := r.RecentCertificates("acct-1", all); len(times) != 6 {
			t.Errorf("RecentCertificates: got %d, want 6", len(times))
		}

		var seen []string
		var cursor store.OrderCursor
		for {
			page, err := r.OrdersCreatedBetween(epoch, epoch.Add(time.Hour), cursor, 4)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page {
				seen = append(seen, o.ID)
			}
			if len(page) < 4 {
				break
			}
			cursor = store.OrderCursor{CreatedAt: page[3].CreatedAt, ID: page[3].ID}
		}
		if len(seen) != 6 || seen[0] != "p" || seen[5] != "u" {
			t.Errorf("OrdersCreatedBetween pages: got %v, want p to u", seen)
		}
	})
}
