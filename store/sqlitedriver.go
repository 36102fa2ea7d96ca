package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"sync"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// sqliteDriverName is go-sqlite3 with a cache of prepared statements on
// each connection.
//
// Without it every statement is compiled anew: database/sql hands a query
// to the connection, go-sqlite3 prepares, runs and finalizes it. GORM's
// own statement cache does not help inside transactions (a statement first
// prepared in one transaction is re-prepared in every later one), and
// nearly every write of the gateway runs in a transaction. Compiling is a
// large share of a short statement's cost, so the connection keeps the
// compiled statements of the queries it has run and only binds and steps
// them. SQLite recompiles a cached statement by itself when the schema
// changes.
const sqliteDriverName = "sqlite3-stmtcache"

// maxCachedStatements bounds one connection's cache. The gateway runs a
// few dozen distinct queries; queries whose text varies (IN lists of
// different lengths) would otherwise grow it without end.
const maxCachedStatements = 256

func init() {
	sql.Register(sqliteDriverName, &cachingDriver{base: &sqlite3.SQLiteDriver{}})
}

type cachingDriver struct {
	base *sqlite3.SQLiteDriver
}

// openBusyRetries and openBusyPause bound how long opening a connection
// waits out a busy database file (about five seconds).
const (
	openBusyRetries = 100
	openBusyPause   = 50 * time.Millisecond
)

func (d *cachingDriver) Open(dsn string) (driver.Conn, error) {
	c, err := d.base.Open(dsn)
	// Opening switches a new file to WAL, which needs the file to itself.
	// When two processes open one new file at once, each may hold the
	// read lock the other waits for; SQLite then answers SQLITE_BUSY at
	// once instead of calling the busy handler, so the wait is here.
	for i := 0; i < openBusyRetries && isBusy(err); i++ {
		time.Sleep(openBusyPause)
		c, err = d.base.Open(dsn)
	}
	if err != nil {
		return nil, err
	}
	conn := c.(*sqlite3.SQLiteConn)
	// The group committer runs each transaction of a batch in a
	// savepoint, and SQLite keeps the original of every page a savepoint
	// changes in a sub-journal. In a file that is two writes per page;
	// in memory it is a copy. The sub-journal is never needed after a
	// crash (the WAL is), so memory loses nothing.
	if _, err := conn.Exec("PRAGMA temp_store = MEMORY", nil); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &cachingConn{SQLiteConn: conn, stmts: map[string]*cachedStmt{}}, nil
}

// cachingConn is a go-sqlite3 connection whose ExecContext and
// QueryContext reuse compiled statements. database/sql uses a connection
// from one goroutine at a time, but rows may still be open when the next
// query starts, so a statement whose rows are open is not reused: the
// query is then compiled on its own, as without the cache.
type cachingConn struct {
	*sqlite3.SQLiteConn
	mu    sync.Mutex
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	stmt *sqlite3.SQLiteStmt
	busy bool // rows of the statement are open
}

// cacheable reports whether query is one statement; go-sqlite3 runs the
// statements of a multi-statement text one after the other, which a
// single compiled statement cannot do.
func cacheable(query string) bool {
	return !strings.Contains(strings.TrimRight(query, "; \t\n"), ";")
}

// acquire returns the compiled statement of query, compiling it on first
// use, or nil when it cannot be shared now (rows open, or not cacheable).
func (c *cachingConn) acquire(ctx context.Context, query string, args int) *cachedStmt {
	if !cacheable(query) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cs, ok := c.stmts[query]
	if !ok {
		st, err := c.SQLiteConn.PrepareContext(ctx, query)
		if err != nil {
			// The uncached path reports the error.
			return nil
		}
		if len(c.stmts) >= maxCachedStatements {
			c.evictLocked()
		}
		cs = &cachedStmt{stmt: st.(*sqlite3.SQLiteStmt)}
		c.stmts[query] = cs
	}
	// A wrong argument count must fail as it does uncached, not bind
	// the missing parameters as NULL.
	if cs.busy || cs.stmt.NumInput() != args {
		return nil
	}
	return cs
}

// evictLocked closes the idle statements; the busy ones stay until their
// rows close.
func (c *cachingConn) evictLocked() {
	for q, cs := range c.stmts {
		if !cs.busy {
			_ = cs.stmt.Close()
			delete(c.stmts, q)
		}
	}
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs := c.acquire(ctx, query, len(args))
	if cs == nil {
		return c.SQLiteConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs := c.acquire(ctx, query, len(args))
	if cs == nil {
		return c.SQLiteConn.QueryContext(ctx, query, args)
	}
	c.mu.Lock()
	cs.busy = true
	c.mu.Unlock()
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		c.release(cs)
		return nil, err
	}
	return &cachedRows{SQLiteRows: rows.(*sqlite3.SQLiteRows), conn: c, cs: cs}, nil
}

func (c *cachingConn) release(cs *cachedStmt) {
	c.mu.Lock()
	cs.busy = false
	c.mu.Unlock()
}

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	for q, cs := range c.stmts {
		_ = cs.stmt.Close()
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	return c.SQLiteConn.Close()
}

// cachedRows resets its statement for the next use when closed, instead
// of finalizing it.
type cachedRows struct {
	*sqlite3.SQLiteRows
	conn *cachingConn
	cs   *cachedStmt
	once sync.Once
}

func (r *cachedRows) Close() error {
	err := r.SQLiteRows.Close()
	r.once.Do(func() { r.conn.release(r.cs) })
	return err
}
