package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

// TestAuditConcurrent writes 100 events from 10 writers, each event in its
// own transaction: the chain must come out linear and intact. It runs on
// the real clock, whose sub-millisecond readings must survive every
// database's timestamp columns for the hashes to verify.
func TestAuditConcurrent(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			testAuditConcurrent(t, storetest.Open(t, d))
		})
	}
}

func testAuditConcurrent(t *testing.T, s *store.Store) {
	const writers, perWriter = 10, 10
	errs := race(writers, func(w int) error {
		for i := range perWriter {
			err := s.Transact(context.Background(), func(tx *store.Tx) error {
				return tx.Audit(auditEvent(w, i))
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	for w, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", w, err)
		}
	}
	verifyIntact(t, s, writers*perWriter)

	events, err := s.AuditEvents(context.Background(), 0, time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Errorf("event %d: got seq %d, want %d", i, e.Seq, i+1)
		}
		seen[e.Subject] = true
	}
	if len(seen) != writers*perWriter {
		t.Errorf("distinct subjects: got %d, want %d", len(seen), writers*perWriter)
	}
}

func TestAuditEvents(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		for i := range 5 {
			transact(t, s, func(tx *store.Tx) error { return tx.Audit(auditEvent(0, i)) })
			clock.Add(time.Minute)
		}
		tests := []struct {
			name     string
			afterSeq int64
			since    time.Time
			limit    int
			want     []int64
		}{
			{"all", 0, time.Time{}, 10, []int64{1, 2, 3, 4, 5}},
			{"after seq", 3, time.Time{}, 10, []int64{4, 5}},
			{"limit", 1, time.Time{}, 2, []int64{2, 3}},
			{"since", 0, epoch.Add(2 * time.Minute), 10, []int64{3, 4, 5}},
		}
		for _, tt := range tests {
			events, err := s.AuditEvents(context.Background(), tt.afterSeq, tt.since, tt.limit)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var got []int64
			for _, e := range events {
				got = append(got, e.Seq)
			}
			if !equalInts(got, tt.want) {
				t.Errorf("%s: got seqs %v, want %v", tt.name, got, tt.want)
			}
		}

		events, err := s.AuditEvents(context.Background(), 1, time.Time{}, 1)
		if err != nil || len(events) != 1 {
			t.Fatalf("AuditEvents: got %d, %v, want 1", len(events), err)
		}
		e := events[0]
		var data map[string]int
		if err := json.Unmarshal([]byte(e.Data), &data); err != nil || data["event"] != 1 {
			t.Errorf("Data: got %q, %v, want the event's JSON", e.Data, err)
		}
		if e.Type != "order.created" || e.Actor != "account-0" || e.Outcome != "success" ||
			!e.Time.Equal(epoch.Add(time.Minute)) {
			t.Errorf("event 2: got %+v, want the second event at %v", e, epoch.Add(time.Minute))
		}
	})
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestAuditTamper changes a chain of 10 events behind the store's back in
// each way an intruder might, and checks that VerifyAudit names the first
// event that no longer fits.
//
// SECURITY-CATALOGUE J9: any edit, deletion or reordering breaks the chain.
func TestAuditTamper(t *testing.T) {
	const events = 10
	tests := []struct {
		name    string
		tamper  func(t *testing.T, db *gorm.DB)
		wantSeq int64
		reason  string
	}{
		{"edit reason", func(t *testing.T, db *gorm.DB) {
			update(t, db, 4, map[string]any{"reason": "nothing to see"})
		}, 4, "edited"},
		{"edit time", func(t *testing.T, db *gorm.DB) {
			update(t, db, 7, map[string]any{"time": epoch.Add(time.Hour)})
		}, 7, "edited"},
		{"edit and rehash", func(t *testing.T, db *gorm.DB) {
			e := load(t, db, 4)
			e.Outcome = "failure"
			update(t, db, 4, map[string]any{"outcome": e.Outcome, "hash": e.ComputeHash()})
		}, 5, "previous-hash"},
		{"delete middle", func(t *testing.T, db *gorm.DB) { remove(t, db, 5) }, 5, "missing"},
		{"delete first", func(t *testing.T, db *gorm.DB) { remove(t, db, 1) }, 1, "missing"},
		{"delete last", func(t *testing.T, db *gorm.DB) { remove(t, db, events) },
			events, "removed"},
		{"swap two rows", func(t *testing.T, db *gorm.DB) {
			a, b := load(t, db, 3), load(t, db, 4)
			a.Seq, b.Seq = 4, 3
			for _, e := range []*store.AuditEvent{a, b} {
				if err := db.Save(e).Error; err != nil {
					t.Fatal(err)
				}
			}
		}, 3, "previous-hash"},
		{"rehash last", func(t *testing.T, db *gorm.DB) {
			e := load(t, db, events)
			e.Reason = "rewritten"
			update(t, db, events, map[string]any{"reason": e.Reason, "hash": e.ComputeHash()})
		}, events, "head"},
		{"append without head", func(t *testing.T, db *gorm.DB) {
			last := load(t, db, events)
			forged := store.AuditEvent{Seq: events + 1, Time: last.Time, Type: "policy.changed",
				Outcome: "success", PrevHash: last.Hash}
			forged.Hash = forged.ComputeHash()
			if err := db.Create(&forged).Error; err != nil {
				t.Fatal(err)
			}
		}, events + 1, "head"},
	}
	for _, d := range storetest.Dialects(t) {
		for _, tt := range tests {
			t.Run(string(d)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				clock := newClock()
				s := storetest.OpenWith(t, d, store.Options{Now: clock.Now})
				for i := range events {
					transact(t, s, func(tx *store.Tx) error { return tx.Audit(auditEvent(0, i)) })
					clock.Add(time.Second)
				}
				verifyIntact(t, s, events)

				tt.tamper(t, s.DB())
				brk, _, err := s.VerifyAudit(context.Background())
				if err != nil {
					t.Fatalf("VerifyAudit: %v", err)
				}
				if brk == nil {
					t.Fatalf("VerifyAudit: got intact chain, want break at %d", tt.wantSeq)
				}
				if brk.Seq != tt.wantSeq || !strings.Contains(brk.Reason, tt.reason) {
					t.Errorf("VerifyAudit: got break at %d (%s), want at %d mentioning %q",
						brk.Seq, brk.Reason, tt.wantSeq, tt.reason)
				}
			})
		}
	}
}

func load(t *testing.T, db *gorm.DB, seq int64) *store.AuditEvent {
	t.Helper()
	var e store.AuditEvent
	if err := db.Where("seq = ?", seq).Take(&e).Error; err != nil {
		t.Fatalf("loading event %d: %v", seq, err)
	}
	return &e
}

func update(t *testing.T, db *gorm.DB, seq int64, cols map[string]any) {
	t.Helper()
	err := db.Model(&store.AuditEvent{}).Where("seq = ?", seq).Updates(cols).Error
	if err != nil {
		t.Fatalf("editing event %d: %v", seq, err)
	}
}

func remove(t *testing.T, db *gorm.DB, seq int64) {
	t.Helper()
	if err := db.Where("seq = ?", seq).Delete(&store.AuditEvent{}).Error; err != nil {
		t.Fatalf("deleting event %d: %v", seq, err)
	}
}
