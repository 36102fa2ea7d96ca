package store_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	"github.com/acmegate/acmegate/store"
)

func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("store: loading account x: %w", err) }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"not found", store.ErrNotFound, false},
		{"conflict", wrap(store.ErrConflict), false},
		{"other", errors.New("boom"), false},
		{"sqlite busy", wrap(sqlite3.Error{Code: sqlite3.ErrBusy}), true},
		{"sqlite locked", wrap(sqlite3.Error{Code: sqlite3.ErrLocked}), true},
		{"sqlite full", wrap(sqlite3.Error{Code: sqlite3.ErrFull}), true},
		{"sqlite constraint", wrap(sqlite3.Error{Code: sqlite3.ErrConstraint}), false},
		{"postgres connection failure", wrap(&pgconn.PgError{Code: "08006"}), true},
		{"postgres shutting down", wrap(&pgconn.PgError{Code: "57P01"}), true},
		{"postgres too many connections", wrap(&pgconn.PgError{Code: "53300"}), true},
		{"postgres unique violation", wrap(&pgconn.PgError{Code: "23505"}), false},
		{"mysql too many connections", wrap(&mysql.MySQLError{Number: 1040}), true},
		{"mysql syntax", wrap(&mysql.MySQLError{Number: 1064}), false},
		{"mysql invalid connection", wrap(mysql.ErrInvalidConn), true},
		{"network", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), true},
		{"broken connection", wrap(io.ErrUnexpectedEOF), true},
		{"bad connection", wrap(driver.ErrBadConn), true},
		{"closed connection", wrap(sql.ErrConnDone), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := store.IsUnavailable(tt.err); got != tt.want {
				t.Errorf("IsUnavailable(%v): got %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestIsUnavailableLockedSQLite checks the classification on the error a
// real transaction gets when another connection holds the write lock past
// the busy timeout.
func TestIsUnavailableLockedSQLite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "acmegate.db")
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{URL: path, BusyTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	locker, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	conn, err := locker.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = conn.ExecContext(ctx, "ROLLBACK") }()

	err = s.Transact(ctx, func(tx *store.Tx) error {
		return tx.RedeemNonce("locked-nonce", time.Now().Add(time.Hour))
	})
	if err == nil {
		t.Fatal("Transact while another connection holds the lock: got nil, want an error")
	}
	if !store.IsUnavailable(err) {
		t.Errorf("IsUnavailable(%v): got false, want true", err)
	}
}
