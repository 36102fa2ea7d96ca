// Package storetest opens isolated, migrated [store.Store] instances for
// tests, on SQLite always and on PostgreSQL and MySQL/MariaDB when the
// environment names a server.
//
// The server databases may be shared with tests of other packages running
// at the same time, so each call gets its own namespace: a fresh schema on
// PostgreSQL (selected through search_path) and a fresh database on MySQL.
// The namespace is dropped when the test ends.
//
// Set these variables to include the server databases:
//
//	ACMEGATE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//	ACMEGATE_TEST_MYSQL=mysql://root@tcp(127.0.0.1:3306)/test
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	// Registers the "pgx" database/sql driver used for schema management.
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/acmegate/acmegate/store"
)

// Environment variables holding the server DSNs, in the URL forms
// [store.Options] accepts.
const (
	PostgresEnv = "ACMEGATE_TEST_POSTGRES"
	MySQLEnv    = "ACMEGATE_TEST_MYSQL"
)

// Dialects returns every dialect the store supports, SQLite first. Tests
// run one subtest per dialect and call [Open] in it; Open skips the
// subtest, naming the missing variable, when a server is not configured,
// so `go test -v` shows which databases were covered.
func Dialects(t testing.TB) []store.Dialect {
	t.Helper()
	return []store.Dialect{store.SQLite, store.Postgres, store.MySQL}
}

// Available reports whether tests can run on d in this environment.
func Available(d store.Dialect) bool {
	switch d {
	case store.SQLite:
		return true
	case store.Postgres:
		return os.Getenv(PostgresEnv) != ""
	case store.MySQL:
		return os.Getenv(MySQLEnv) != ""
	}
	return false
}

// Open returns a migrated store on a fresh, empty database of dialect d.
// The store is closed and its database dropped when the test ends. It skips
// the test when d is not configured and fails it on any other error.
func Open(t testing.TB, d store.Dialect) *store.Store {
	t.Helper()
	return OpenWith(t, d, store.Options{})
}

// OpenWith is [Open] with options such as a fixed clock; opts.URL is
// replaced by the URL of the fresh database.
func OpenWith(t testing.TB, d store.Dialect, opts store.Options) *store.Store {
	t.Helper()
	opts.URL = URL(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatalf("opening %s store: %v", d, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing %s store: %v", d, err)
		}
	})
	return s
}

// URL creates a fresh, empty database of dialect d and returns the URL to
// pass to [store.Open]; nothing is migrated yet. The database is dropped
// when the test ends, after cleanups registered later (such as closing a
// store opened on it) have run. It skips the test when d is not configured.
func URL(t testing.TB, d store.Dialect) string {
	t.Helper()
	switch d {
	case store.SQLite:
		return filepath.Join(t.TempDir(), "acmegate.db")
	case store.Postgres:
		return postgresURL(t, env(t, PostgresEnv, "PostgreSQL"))
	case store.MySQL:
		return mysqlURL(t, env(t, MySQLEnv, "MySQL"))
	}
	t.Fatalf("storetest: unknown dialect %q", d)
	return ""
}

func env(t testing.TB, name, product string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s not set: skipping %s store tests", name, product)
	}
	return v
}

// postgresURL creates a schema and returns base with search_path set to
// it, so that every connection of the store sees only that schema.
func postgresURL(t testing.TB, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parsing %s: %v", PostgresEnv, err)
	}
	schema := "acmegate_t_" + randomSuffix(t)
	admin := adminDB(t, "pgx", base)
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() { dropNamespace(t, "pgx", base, "DROP SCHEMA "+schema+" CASCADE") })

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// mysqlURL creates a database and returns base with its name replaced.
func mysqlURL(t testing.TB, base string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(strings.TrimPrefix(base, "mysql://"))
	if err != nil {
		t.Fatalf("parsing %s: %v", MySQLEnv, err)
	}
	adminDSN := cfg.FormatDSN()
	name := "acmegate_t_" + randomSuffix(t)
	admin := adminDB(t, "mysql", adminDSN)
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() { dropNamespace(t, "mysql", adminDSN, "DROP DATABASE "+name) })

	cfg.DBName = name
	return "mysql://" + cfg.FormatDSN()
}

func adminDB(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("connecting to %s: %v", driver, err)
	}
	return db
}

func dropNamespace(t testing.TB, driver, dsn, stmt string) {
	t.Helper()
	db := adminDB(t, driver, dsn)
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Errorf("cleaning up (%s): %v", stmt, err)
	}
}

func randomSuffix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("generating database name: %v", err)
	}
	return hex.EncodeToString(b)
}
