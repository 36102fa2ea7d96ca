package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Errors returned by the store. Callers test them with errors.Is.
var (
	// ErrNotFound means the requested row does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a unique constraint or a compare-and-swap failed.
	ErrConflict = errors.New("store: conflict")
)

// defaultBusyTimeout is how long an SQLite writer waits for the lock when
// Options.BusyTimeout is zero.
const defaultBusyTimeout = 10 * time.Second

// Dialect names the database engine behind a [Store].
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql"
)

// Options configure [Open].
type Options struct {
	// URL selects the database: a file path or "sqlite://PATH" for SQLite,
	// "postgres://..." for PostgreSQL, "mysql://user:pass@tcp(host:port)/db"
	// for MySQL or MariaDB.
	URL string
	// BusyTimeout is how long an SQLite writer waits for the lock; zero
	// means 10s.
	BusyTimeout time.Duration
	// Synchronous says which SQLite commits wait for the disk:
	//
	//   - "FULL" (the default): every commit; nothing answered is lost
	//     to a power loss.
	//   - "SELECTIVE": commits through [Store.Transact] wait for the
	//     disk; commits through [Store.TransactProgress] do not, and
	//     become durable with the next commit that does (the WAL is
	//     synced as a whole) or the next checkpoint. A power loss can
	//     undo the latest progress steps, never a synced commit, and
	//     never leaves a gap: the WAL is replayed up to its first
	//     incomplete frame. Needs group commit; without it SELECTIVE
	//     syncs every commit like FULL.
	//   - "NORMAL": no commit waits; a power loss can undo the latest
	//     transactions of any kind. A crash of the process alone loses
	//     nothing in any mode.
	Synchronous string
	// MaxOpenConns bounds the connection pool; zero means 8 for SQLite and
	// 20 otherwise.
	MaxOpenConns int
	// NoGroupCommit makes every SQLite transaction commit on its own
	// instead of in batches with concurrent ones.
	NoGroupCommit bool
	// Now is the clock used for row timestamps; nil means time.Now.
	Now func() time.Time
	// Observe, when set, is called after every [Store.Transact] with its
	// wall-clock duration and result, for latency metrics.
	Observe func(d time.Duration, err error)
}

// Store is a handle on the database. It is safe for concurrent use.
type Store struct {
	db        *gorm.DB
	dialect   Dialect
	now       func() time.Time
	committer *committer
	observe   func(time.Duration, error)
	// selective is set when progress transactions commit without
	// syncing (Synchronous "SELECTIVE" with group commit).
	selective bool
}

// Open connects to the database named by opts.URL, applies the SQLite
// pragmas where relevant and runs the migrations under a lock, so several
// replicas may start at once.
func Open(ctx context.Context, opts Options) (*Store, error) {
	// Times are kept in UTC: SQLite compares them as text, so mixed zones
	// would order wrongly.
	clock := opts.Now
	if clock == nil {
		clock = time.Now
	}
	now := func() time.Time { return clock().UTC() }
	dialect, dialector, err := dialectorFor(opts)
	if err != nil {
		return nil, err
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Discard,
		TranslateError:         true,
		SkipDefaultTransaction: true,
		// SQLite connections keep their compiled statements themselves
		// (sqlitedriver.go); pgx caches statements per connection too.
		PrepareStmt: dialect == MySQL,
		NowFunc:     now,
	})
	if err != nil {
		return nil, fmt.Errorf("store: opening %s database: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: getting connection pool: %w", err)
	}
	configurePool(sqlDB, dialect, opts.MaxOpenConns)
	s := &Store{db: db, dialect: dialect, now: now, observe: opts.Observe}
	if dialect == SQLite {
		if err := s.checkSQLite(ctx); err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
	}
	if err := s.Migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	if dialect == SQLite && !opts.NoGroupCommit {
		busy := opts.BusyTimeout
		if busy <= 0 {
			busy = defaultBusyTimeout
		}
		s.selective = strings.EqualFold(opts.Synchronous, "SELECTIVE")
		if s.committer, err = newCommitter(db, s, 64, busy); err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
	}
	return s, nil
}

func configurePool(db *sql.DB, d Dialect, maxOpen int) {
	if maxOpen <= 0 {
		maxOpen = 20
		if d == SQLite {
			maxOpen = 8
		}
	}
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(maxOpen)
	db.SetConnMaxIdleTime(5 * time.Minute)
}

// dialectorFor turns the URL into a GORM dialector.
func dialectorFor(opts Options) (Dialect, gorm.Dialector, error) {
	raw := opts.URL
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return Postgres, postgres.Open(raw), nil
	case strings.HasPrefix(raw, "mysql://"):
		dsn := strings.TrimPrefix(raw, "mysql://")
		if !strings.Contains(dsn, "parseTime=") {
			dsn += sep(dsn) + "parseTime=true"
		}
		// Compare-and-swap updates check RowsAffected; MySQL must count
		// matched rows, not only changed ones, or an update that leaves
		// a row as it was looks like a lost race.
		if !strings.Contains(dsn, "clientFoundRows=") {
			dsn += sep(dsn) + "clientFoundRows=true"
		}
		return MySQL, mysql.Open(dsn), nil
	case raw == "":
		return "", nil, errors.New("store: no database URL configured")
	}
	path := strings.TrimPrefix(raw, "sqlite://")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", nil, fmt.Errorf("store: creating database folder: %w", err)
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = defaultBusyTimeout
	}
	syncMode := strings.ToUpper(opts.Synchronous)
	switch syncMode {
	case "", "SELECTIVE":
		// Every connection starts durable; the writer's connection
		// turns to NORMAL for progress batches (Open).
		syncMode = "FULL"
	case "FULL", "NORMAL":
	default:
		return "", nil, fmt.Errorf("store: synchronous must be FULL, SELECTIVE or NORMAL, got %q", opts.Synchronous)
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", fmt.Sprint(busy.Milliseconds()))
	q.Set("_txlock", "immediate")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", syncMode)
	dsn := "file:" + path + "?" + q.Encode()
	return SQLite, sqlite.New(sqlite.Config{DriverName: sqliteDriverName, DSN: dsn}), nil
}

func sep(dsn string) string {
	if strings.Contains(dsn, "?") {
		return "&"
	}
	return "?"
}

// checkSQLite verifies at start that the pragmas took effect: WAL mode and
// a busy timeout are what keep concurrent writers from failing with
// "database is locked".
func (s *Store) checkSQLite(ctx context.Context) error {
	var mode string
	if err := s.db.WithContext(ctx).Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil {
		return fmt.Errorf("store: reading journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: sqlite journal mode is %q, want wal", mode)
	}
	var timeout int
	if err := s.db.WithContext(ctx).Raw("PRAGMA busy_timeout").Scan(&timeout).Error; err != nil {
		return fmt.Errorf("store: reading busy timeout: %w", err)
	}
	if timeout <= 0 {
		return errors.New("store: sqlite busy timeout is not set")
	}
	return nil
}

// Dialect reports the database engine.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks that the database answers; readiness probes call it.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("store: getting connection pool: %w", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Close releases the connection pool.
func (s *Store) Close() error {
	if s.committer != nil {
		s.committer.close()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("store: getting connection pool: %w", err)
	}
	return sqlDB.Close()
}

// Transact runs fn inside one database transaction and commits when fn
// returns nil. On SQLite the transaction takes the write lock at its start,
// so fn never fails half-way with "database is locked".
//
// On SQLite, concurrent calls are committed in batches (each call in its own
// savepoint) so one journal sync covers many; a call still sees only its own
// outcome. fn must not call Transact itself.
func (s *Store) Transact(ctx context.Context, fn func(tx *Tx) error) error {
	return s.transact(ctx, true, fn)
}

// TransactProgress runs fn like [Store.Transact], for a step of the
// protocol that a client repeats when it is lost: a new order, a
// challenge claimed or validated, an order moved to processing. With
// Synchronous "SELECTIVE" its commit does not wait for the disk; it is
// durable once a later [Store.Transact] commits, or at the next WAL
// checkpoint. Anything a client cannot recreate by asking again (an
// issued certificate, an account, a revocation) goes through Transact.
func (s *Store) TransactProgress(ctx context.Context, fn func(tx *Tx) error) error {
	return s.transact(ctx, false, fn)
}

func (s *Store) transact(ctx context.Context, durable bool, fn func(tx *Tx) error) (err error) {
	if s.observe != nil {
		start := time.Now()
		defer func() { s.observe(time.Since(start), err) }()
	}
	if s.committer != nil {
		return s.committer.submit(ctx, durable, fn)
	}
	err = s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		return fn(&Tx{db: db, store: s})
	})
	return translate(err)
}

// Commits reports how many batches the SQLite writer has committed since
// the store opened, with a sync of the journal and without one. Both are
// zero where there is no writer (other databases, NoGroupCommit).
func (s *Store) Commits() (synced, unsynced int64) {
	if s.committer == nil {
		return 0, 0
	}
	return s.committer.synced.Load(), s.committer.unsynced.Load()
}

// Read returns a [Tx] that runs each query on its own, outside any
// transaction. Use it for lookups that need no consistency across queries.
func (s *Store) Read(ctx context.Context) *Tx {
	return &Tx{db: s.db.WithContext(ctx), store: s}
}

// DB exposes the GORM handle for tests and administrative tools that need
// queries this package does not offer.
func (s *Store) DB() *gorm.DB { return s.db }

// Tx is a unit of work: either a transaction from [Store.Transact] or
// independent queries from [Store.Read].
type Tx struct {
	db    *gorm.DB
	store *Store
	// batch is set for the transactions of a group-commit batch.
	batch *batchState
}

// Now returns the store's clock reading.
func (tx *Tx) Now() time.Time { return tx.store.now() }

func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}
