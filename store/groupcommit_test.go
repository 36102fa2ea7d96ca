package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// TestGroupCommitFirstJobFails runs transactions one at a time, so each
// is alone in its batch: a failure after writing a row and an audit event
// leaves neither, its caller gets its own error, and the next transaction
// extends the audit chain as if the failed one had never run.
func TestGroupCommitFirstJobFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t, false)
	errBoom := errors.New("boom")
	write := func(nonce string, fail bool) error {
		return st.Transact(ctx, func(tx *store.Tx) error {
			if err := tx.RedeemNonce(nonce, tx.Now()); err != nil {
				return err
			}
			if err := tx.Audit(store.Event{Type: "test.event", Subject: nonce}); err != nil {
				return err
			}
			if fail {
				return errBoom
			}
			return nil
		})
	}
	steps := []struct {
		nonce string
		fail  bool
	}{{"a", false}, {"b", true}, {"c", true}, {"d", false}, {"e", true}, {"f", false}}
	for _, step := range steps {
		err := write(step.nonce, step.fail)
		if step.fail && !errors.Is(err, errBoom) {
			t.Fatalf("failing transaction %s: got %v, want the function's own error", step.nonce, err)
		}
		if !step.fail && err != nil {
			t.Fatalf("transaction %s: %v", step.nonce, err)
		}
	}
	var nonces []string
	if err := st.DB().Model(&store.UsedNonce{}).Order("value").Pluck("value", &nonces).Error; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(nonces) != "[a d f]" {
		t.Errorf("stored nonces %v, want [a d f]", nonces)
	}
	brk, n, err := st.VerifyAudit(ctx)
	if err != nil || brk != nil || n != 3 {
		t.Fatalf("audit: got break %+v, %d events, err %v; want intact with 3", brk, n, err)
	}
	// A nonce the failed transaction wrote can be used again: its row is gone.
	if err := write("b", false); err != nil {
		t.Fatalf("reusing the failed transaction's nonce: %v", err)
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

// TestGroupCommitQueueWaitBounded checks that a write queued behind a batch
// stuck on an external lock fails with ErrBusy after about the busy timeout
// instead of waiting for the stuck batch and then its own lock wait.
func TestGroupCommitQueueWaitBounded(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	st, err := store.Open(context.Background(), store.Options{URL: "sqlite://" + path,
		BusyTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	// Another process holds the write lock for a second.
	lock, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=100")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	conn, err := lock.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(time.Second, func() { conn.ExecContext(context.Background(), "ROLLBACK") })

	var wg sync.WaitGroup
	errs := make([]error, 8)
	start := time.Now()
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.Transact(context.Background(), func(tx *store.Tx) error {
				return tx.RedeemNonce(fmt.Sprint("q", i), time.Now())
			})
		}()
	}
	wg.Wait()
	busy := 0
	for _, err := range errs {
		if err != nil {
			if !store.IsUnavailable(err) {
				t.Errorf("got %v, want an unavailable (busy) error", err)
			}
			busy++
		}
	}
	if busy == 0 {
		t.Fatal("every write succeeded while the database was locked for a second, want busy errors")
	}
	// Behaviour, not speed: nothing may wait for the whole lock plus a
	// queue wait of its own (2s here); a generous bound only catches that.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the writes took %v, want them refused within a few busy timeouts", d)
	}
}

// TestGroupCommitAuditHeadAcrossWriters interleaves audit events of the
// gateway's batched writer with those of another writer on the same
// SQLite file, as an operator command run beside the gateway is: the
// batched writer must notice the other's events and chain after them.
func TestGroupCommitAuditHeadAcrossWriters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	open := func(noGroup bool) *store.Store {
		st, err := store.Open(context.Background(), store.Options{URL: "sqlite://" + path, NoGroupCommit: noGroup})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	gateway, operator := open(false), open(true)
	audit := func(st *store.Store, subject string) {
		t.Helper()
		err := st.Transact(context.Background(), func(tx *store.Tx) error {
			return tx.Audit(store.Event{Type: "test.event", Subject: subject, Outcome: "success"})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		audit(gateway, fmt.Sprint("gateway-", i))
		audit(gateway, fmt.Sprint("gateway-again-", i))
		audit(operator, fmt.Sprint("operator-", i))
	}
	brk, n, err := gateway.VerifyAudit(context.Background())
	if err != nil || brk != nil || n != 15 {
		t.Fatalf("audit: break %+v, %d events, err %v; want intact with 15", brk, n, err)
	}
}

// TestSelectiveSync shows the SELECTIVE level at work: a progress
// transaction commits without syncing when it runs alone, a durable one
// always commits in a synced batch, however the writer mixes them, and
// every transaction commits.
func TestSelectiveSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{
		URL:         "sqlite://" + filepath.Join(t.TempDir(), "db.sqlite"),
		Synchronous: "selective",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// level runs one transaction that records a nonce and returns the
	// synchronous level its batch commits at.
	level := func(durable bool, nonce string) (int, error) {
		var got int
		fn := func(tx *store.Tx) error {
			l, err := tx.SynchronousLevel()
			if err != nil {
				return err
			}
			got = l
			return tx.RedeemNonce(nonce, tx.Now().Add(time.Hour))
		}
		if durable {
			return got, st.Transact(ctx, fn)
		}
		return got, st.TransactProgress(ctx, fn)
	}

	// One at a time, each transaction is a batch of its own.
	for i, durable := range []bool{false, false, true, false, true, true, false} {
		got, err := level(durable, fmt.Sprintf("seq%d", i))
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
		want := 1
		if durable {
			want = 2
		}
		if got != want {
			t.Errorf("transaction %d (durable %v): synchronous %d, want %d", i, durable, got, want)
		}
	}
	synced, unsynced := st.Commits()
	if synced != 3 || unsynced != 4 {
		t.Errorf("after the sequence: %d synced and %d unsynced commits, want 3 and 4", synced, unsynced)
	}

	// Concurrently, batches mix; a durable transaction never lands in a
	// batch that does not sync.
	var wg sync.WaitGroup
	for i := range 120 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			durable := i%3 == 0
			got, err := level(durable, fmt.Sprintf("par%03d", i))
			if err != nil {
				t.Errorf("transaction %d: %v", i, err)
				return
			}
			if durable && got != 2 {
				t.Errorf("durable transaction %d committed at synchronous %d", i, got)
			}
		}()
	}
	wg.Wait()
	var nonces int64
	if err := st.DB().Model(&store.UsedNonce{}).Count(&nonces).Error; err != nil {
		t.Fatal(err)
	}
	if nonces != 127 {
		t.Errorf("got %d nonce rows, want 127", nonces)
	}
	s2, u2 := st.Commits()
	if s2 == synced {
		t.Errorf("no synced commit among 40 concurrent durable transactions")
	}
	t.Logf("120 concurrent transactions: %d synced and %d unsynced batches", s2-synced, u2-unsynced)
}
