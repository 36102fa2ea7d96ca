package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

var allModels = []any{
	&store.Account{}, &store.Order{}, &store.OrderAuthorization{}, &store.Authorization{},
	&store.Challenge{}, &store.SerialReservation{}, &store.Certificate{}, &store.UsedNonce{},
	&store.Setting{}, &store.EABKey{}, &store.AuditEvent{}, &store.AuditHead{},
	&store.RetiredAccountKey{},
}

func TestOpenCreatesSchema(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		for _, m := range allModels {
			if !s.DB().Migrator().HasTable(m) {
				t.Errorf("table for %T: got missing, want created", m)
			}
		}
		v, err := s.SchemaVersion(context.Background())
		if err != nil {
			t.Fatalf("SchemaVersion: %v", err)
		}
		if v != 3 {
			t.Errorf("SchemaVersion: got %d, want 3", v)
		}
		if err := s.Ping(context.Background()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}

// TestOpenIdempotent opens the same database twice in a row and checks that
// the second migration keeps the data of the first.
func TestOpenIdempotent(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := storetest.URL(t, d)
			first := openURL(t, url)
			if first.Dialect() != d {
				t.Errorf("Dialect: got %q, want %q", first.Dialect(), d)
			}
			transact(t, first, func(tx *store.Tx) error {
				return tx.CreateAccount(newAccount("acct-1"))
			})

			second := openURL(t, url)
			if _, err := second.Read(ctx).Account("acct-1"); err != nil {
				t.Errorf("account after reopening: %v", err)
			}
			v, err := second.SchemaVersion(ctx)
			if err != nil || v != 3 {
				t.Errorf("SchemaVersion after reopening: got %d, %v, want 3, nil", v, err)
			}
		})
	}
}

// TestOpenConcurrentMigrate starts three replicas (or, on SQLite, three
// processes sharing a file) on one empty database at once; the migration
// lock must let all of them succeed, and must be released afterwards so a
// fourth can start.
func TestOpenConcurrentMigrate(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			url := storetest.URL(t, d)
			errs := race(3, func(int) error {
				s, err := store.Open(context.Background(), store.Options{URL: url})
				if err != nil {
					return err
				}
				t.Cleanup(func() { _ = s.Close() })
				return nil
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("replica %d: Open: %v", i, err)
				}
			}

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := store.Open(ctx, store.Options{URL: url})
			if err != nil {
				t.Fatalf("fourth Open after concurrent migrations: %v", err)
			}
			defer s.Close()
			for _, m := range allModels {
				if !s.DB().Migrator().HasTable(m) {
					t.Errorf("table for %T: got missing, want created", m)
				}
			}
		})
	}
}

func openURL(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{URL: url})
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		opts store.Options
		want string
	}{
		{"no URL", store.Options{}, "no database URL"},
		{"bad synchronous", store.Options{URL: "sqlite://DIR/a.db", Synchronous: "OFF"},
			"synchronous must be FULL, SELECTIVE or NORMAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.URL = strings.ReplaceAll(tt.opts.URL, "DIR", t.TempDir())
			s, err := store.Open(context.Background(), tt.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open: got nil error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open: got error %q, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestSQLitePragmas checks the pragmas on several pooled connections at
// once: they come from the DSN, so every connection must carry them.
// SECURITY-CATALOGUE J3, J4: WAL, synchronous FULL by default (and on
// every pooled connection with SELECTIVE, where only the writer's
// progress batches go without a sync: TestSelectiveSync), a busy timeout
// and immediate write transactions are in force.
func TestSQLitePragmas(t *testing.T) {
	tests := []struct {
		name        string
		opts        store.Options
		synchronous int // 1 is NORMAL, 2 is FULL
		busy        int
	}{
		{"defaults", store.Options{}, 2, 10000},
		{"selective sync", store.Options{Synchronous: "SELECTIVE"}, 2, 10000},
		{"normal sync", store.Options{Synchronous: "normal", BusyTimeout: 3 * time.Second},
			1, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := storetest.OpenWith(t, store.SQLite, tt.opts)
			sqlDB, err := s.DB().DB()
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				conn, err := sqlDB.Conn(ctx)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				// Keep every connection checked out so the next is new.
				defer conn.Close()
				var mode string
				var busy, sync, fk int
				for _, p := range []struct {
					pragma string
					dest   any
				}{
					{"journal_mode", &mode}, {"busy_timeout", &busy},
					{"synchronous", &sync}, {"foreign_keys", &fk},
				} {
					err := conn.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(p.dest)
					if err != nil {
						t.Fatalf("connection %d: PRAGMA %s: %v", i, p.pragma, err)
					}
				}
				if mode != "wal" {
					t.Errorf("connection %d: journal_mode: got %q, want wal", i, mode)
				}
				if busy != tt.busy {
					t.Errorf("connection %d: busy_timeout: got %d, want %d", i, busy, tt.busy)
				}
				if sync != tt.synchronous {
					t.Errorf("connection %d: synchronous: got %d, want %d", i, sync, tt.synchronous)
				}
				if fk != 1 {
					t.Errorf("connection %d: foreign_keys: got %d, want 1", i, fk)
				}
			}
		})
	}
}

var errBoom = errors.New("boom")

// TestTransactRollback writes rows and an audit event, then fails: nothing
// may remain, and the next audit event must still be number 1.
func TestTransactRollback(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		ctx := context.Background()
		err := s.Transact(ctx, func(tx *store.Tx) error {
			if err := tx.CreateAccount(newAccount("acct-1")); err != nil {
				return err
			}
			err := tx.CreateOrder(newOrder("order-1", "acct-1"), []string{"authz-1"})
			if err != nil {
				return err
			}
			if err := tx.Audit(auditEvent(0, 0)); err != nil {
				return err
			}
			return fmt.Errorf("deciding: %w", errBoom)
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Transact: got %v, want the error of fn", err)
		}

		for _, m := range []any{&store.Account{}, &store.Order{}, &store.OrderAuthorization{},
			&store.AuditEvent{}} {
			var n int64
			if err := s.DB().Model(m).Count(&n).Error; err != nil {
				t.Fatalf("counting %T: %v", m, err)
			}
			if n != 0 {
				t.Errorf("rows of %T after rollback: got %d, want 0", m, n)
			}
		}
		var head store.AuditHead
		if err := s.DB().Take(&head).Error; err != nil || head.Seq != 0 || head.Hash != "" {
			t.Errorf("audit head after rollback: got %+v, %v, want seq 0", head, err)
		}
		verifyIntact(t, s, 0)

		transact(t, s, func(tx *store.Tx) error { return tx.Audit(auditEvent(0, 1)) })
		events, err := s.AuditEvents(ctx, 0, time.Time{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].Seq != 1 {
			t.Errorf("events after rollback and one commit: got %+v, want one with seq 1", events)
		}
	})
}

// TestSQLiteConcurrentWriters runs 50 writers at once, each a transaction
// that inserts an order and appends an audit event. WAL mode, immediate
// transactions and the busy timeout must spare every one of them a
// "database is locked" error, whatever the pool size.
func TestSQLiteConcurrentWriters(t *testing.T) {
	tests := []struct {
		name    string
		maxOpen int
	}{
		{"default pool", 0},
		{"one connection per writer", 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := storetest.OpenWith(t, store.SQLite, store.Options{MaxOpenConns: tt.maxOpen})
			const writers = 50
			var readErrs sync.Map
			errs := race(writers, func(i int) error {
				ctx := context.Background()
				err := s.Transact(ctx, func(tx *store.Tx) error {
					id := fmt.Sprintf("order-%02d", i)
					if err := tx.CreateOrder(newOrder(id, "acct-1"), nil); err != nil {
						return err
					}
					return tx.Audit(auditEvent(i, 0))
				})
				// Readers outside transactions run alongside the writers.
				if _, rerr := s.Read(ctx).AccountOrders("acct-1", "", 100); rerr != nil {
					readErrs.Store(i, rerr)
				}
				return err
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("writer %d: %v", i, err)
				}
			}
			readErrs.Range(func(k, v any) bool {
				t.Errorf("reader %d: %v", k, v)
				return true
			})

			orders, err := s.Read(context.Background()).AccountOrders("acct-1", "", 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(orders) != writers {
				t.Errorf("orders: got %d, want %d", len(orders), writers)
			}
			verifyIntact(t, s, writers)
		})
	}
}

// BenchmarkTransactAudit measures the cost of the common write: one
// transaction with an order insert and its audit event, on SQLite.
func BenchmarkTransactAudit(b *testing.B) {
	s := storetest.Open(b, store.SQLite)
	ctx := context.Background()
	n := 0
	for b.Loop() {
		n++
		err := s.Transact(ctx, func(tx *store.Tx) error {
			id := fmt.Sprintf("order-%d", n)
			if err := tx.CreateOrder(newOrder(id, "acct-1"), []string{"authz-" + id}); err != nil {
				return err
			}
			return tx.Audit(store.Event{
				Type: "order.created", Actor: "acct-1", Subject: id, Outcome: "success",
			})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
