package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

func openCaching(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open(sqliteDriverName, "file:"+filepath.Join(t.TempDir(), "c.db")+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	// One connection, so that every query below meets the same cache.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER); CREATE TABLE other (x INTEGER);"); err != nil {
		t.Fatalf("multi-statement exec: %v", err)
	}
	return db
}

// TestCachingDriverReusesStatements checks that a cached statement sees
// the writes made between two runs and binds its new arguments.
func TestCachingDriverReusesStatements(t *testing.T) {
	db := openCaching(t)
	for i := range 5 {
		if _, err := db.Exec("INSERT INTO kv (k, v) VALUES (?, ?)", fmt.Sprint("k", i), i); err != nil {
			t.Fatal(err)
		}
		var n, sum int
		if err := db.QueryRow("SELECT count(*), coalesce(sum(v), 0) FROM kv").Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		if n != i+1 || sum != i*(i+1)/2 {
			t.Fatalf("after %d inserts: count %d sum %d", i+1, n, sum)
		}
	}
	var v int
	if err := db.QueryRow("SELECT v FROM kv WHERE k = ?", "k3").Scan(&v); err != nil || v != 3 {
		t.Fatalf("k3: %d, %v", v, err)
	}
	if err := db.QueryRow("SELECT v FROM kv WHERE k = ?", "k4").Scan(&v); err != nil || v != 4 {
		t.Fatalf("k4: %d, %v", v, err)
	}
	if err := db.QueryRow("SELECT v FROM kv WHERE k = ?", "none").Scan(&v); err != sql.ErrNoRows {
		t.Fatalf("missing key: got %v, want sql.ErrNoRows", err)
	}
}

// TestCachingDriverNestedSameQuery runs a query while rows of the same
// query are still open on the connection: the inner one must not reset
// the outer one's statement.
func TestCachingDriverNestedSameQuery(t *testing.T) {
	db := openCaching(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := db.Exec("INSERT INTO kv (k, v) VALUES (?, ?)", fmt.Sprint("k", i), i); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	const q = "SELECT k, v FROM kv WHERE v >= ? ORDER BY v"
	outer, err := tx.Query(q, 0)
	if err != nil {
		t.Fatal(err)
	}
	var seen []int
	for outer.Next() {
		var k string
		var v int
		if err := outer.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, v)
		inner, err := tx.Query(q, 2)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for inner.Next() {
			n++
		}
		if err := inner.Close(); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("inner query found %d rows, want 1", n)
		}
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[0 1 2]" {
		t.Fatalf("outer rows %v, want [0 1 2]: the inner query disturbed them", seen)
	}
}

// TestCachingDriverArgumentCount refuses a wrong number of arguments, as
// go-sqlite3 does, instead of binding the missing ones as NULL.
func TestCachingDriverArgumentCount(t *testing.T) {
	db := openCaching(t)
	const q = "INSERT INTO kv (k, v) VALUES (?, ?)"
	if _, err := db.Exec(q, "a", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(q, "b"); err == nil {
		t.Fatal("an insert with one argument for two parameters succeeded")
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM kv WHERE k = 'b'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("row b: count %d, %v", n, err)
	}
}

// TestCachingDriverBounded keeps at most maxCachedStatements statements
// on a connection however many distinct queries run.
func TestCachingDriverBounded(t *testing.T) {
	db := openCaching(t)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	for i := range 3 * maxCachedStatements {
		var v int
		if err := conn.QueryRowContext(context.Background(), fmt.Sprintf("SELECT %d", i)).Scan(&v); err != nil || v != i {
			t.Fatalf("SELECT %d: %d, %v", i, v, err)
		}
	}
	err = conn.Raw(func(dc any) error {
		c := dc.(*cachingConn)
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.stmts) > maxCachedStatements {
			return fmt.Errorf("%d statements cached, want at most %d", len(c.stmts), maxCachedStatements)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCachingDriverTempStoreInMemory checks the pragma every connection
// gets: savepoint sub-journals stay in memory.
func TestCachingDriverTempStoreInMemory(t *testing.T) {
	db := openCaching(t)
	var mode int
	if err := db.QueryRow("PRAGMA temp_store").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != 2 {
		t.Fatalf("temp_store = %d, want 2 (memory)", mode)
	}
}
