package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acmegate/acmegate/store"
)

func openSQLite(tb testing.TB, noGroup bool) *store.Store {
	tb.Helper()
	st, err := store.Open(context.Background(), store.Options{
		URL:           "sqlite://" + filepath.Join(tb.TempDir(), "db.sqlite"),
		NoGroupCommit: noGroup,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// TestGroupCommitIsolatesFailures runs many concurrent transactions, a third
// of which fail after writing; the failures leave no rows and no audit
// events, the others all commit, and the audit chain stays intact.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	st := openSQLite(t, false)
	errBoom := errors.New("boom")
	var wg sync.WaitGroup
	var ok, failed atomic.Int32
	for i := range 90 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := st.Transact(context.Background(), func(tx *store.Tx) error {
				if err := tx.RedeemNonce(fmt.Sprintf("n%03d", i), tx.Now()); err != nil {
					return err
				}
				if err := tx.Audit(store.Event{Type: "test.event", Subject: fmt.Sprint(i)}); err != nil {
					return err
				}
				if i%3 == 0 {
					return errBoom
				}
				return nil
			})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, errBoom):
				failed.Add(1)
			default:
				t.Errorf("transaction %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 60 || failed.Load() != 30 {
		t.Fatalf("got %d committed and %d failed, want 60 and 30", ok.Load(), failed.Load())
	}
	var nonces int64
	st.DB().Model(&store.UsedNonce{}).Count(&nonces)
	if nonces != 60 {
		t.Errorf("got %d nonce rows, want 60", nonces)
	}
	brk, n, err := st.VerifyAudit(context.Background())
	if err != nil || brk != nil || n != 60 {
		t.Fatalf("audit: got break %+v, %d events, err %v; want intact with 60", brk, n, err)
	}
}

// TestGroupCommitPanic shows a panicking transaction is reported as an
// error and does not stop later transactions.
func TestGroupCommitPanic(t *testing.T) {
	t.Parallel()
	st := openSQLite(t, false)
	err := st.Transact(context.Background(), func(tx *store.Tx) error { panic("bad") })
	if err == nil {
		t.Fatal("got nil error from a panicking transaction, want an error")
	}
	err = st.Transact(context.Background(), func(tx *store.Tx) error {
		return tx.RedeemNonce("after", tx.Now())
	})
	if err != nil {
		t.Fatalf("transaction after the panic: %v", err)
	}
}

func benchmarkTransactParallel(b *testing.B, noGroup bool) {
	st := openSQLite(b, noGroup)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			err := st.Transact(context.Background(), func(tx *store.Tx) error {
				if err := tx.RedeemNonce(fmt.Sprint("b", i), tx.Now()); err != nil {
					return err
				}
				return tx.Audit(store.Event{Type: "bench.event"})
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTransactParallel compares batched and single commits with 16
// concurrent writers on SQLite with synchronous=FULL.
func BenchmarkTransactParallel(b *testing.B) {
	b.Run("group", func(b *testing.B) { benchmarkTransactParallel(b, false) })
	b.Run("single", func(b *testing.B) { benchmarkTransactParallel(b, true) })
}
