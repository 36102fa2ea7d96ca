package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// committer batches concurrent transactions into one SQLite transaction,
// each in its own savepoint, so that one commit (and one fsync, with
// synchronous=FULL) makes many of them durable. SQLite admits one writer at
// a time anyway; batching changes only how often the journal is synced.
// A transaction whose function fails is rolled back to its savepoint and
// does not affect the others in its batch.
type committer struct {
	db   *gorm.DB  // bound to conn
	conn *sql.Conn // the writer's own connection
	// head is the audit head the last batch committed, and version the
	// connection's data_version when it ran; only the run goroutine
	// uses them.
	head     *AuditHead
	version  int64
	store    *Store
	jobs     chan *commitJob
	maxBatch int
	// maxWait is the longest a job may wait in the queue before it is
	// failed with ErrBusy instead of run: the busy timeout, so a write
	// waits about as long as it would without batching.
	maxWait time.Duration
	// held is a durable job that arrived during a batch that commits
	// without syncing, kept to open the next batch; syncing is the
	// writer connection's level (true for FULL). Only run uses them,
	// and only on a selective store.
	held    *commitJob
	syncing bool
	// synced and unsynced count the committed batches by whether the
	// commit waited for the disk.
	synced, unsynced atomic.Int64
	stop             chan struct{}
	wg               sync.WaitGroup
}

type commitJob struct {
	ctx context.Context
	fn  func(tx *Tx) error
	// durable asks for the batch's commit to be synced even when the
	// store is selective.
	durable bool
	done    chan error
	queued  time.Time
}

// ErrBusy reports a transaction that waited in the group-commit queue
// longer than the busy timeout, because the database stayed locked by
// another process. It is not run, so callers can retry it safely.
var ErrBusy = errors.New("store: database busy: the write waited longer than the busy timeout")

// newCommitter starts the writer on a connection of its own. Besides
// sparing the pool, that keeps the writer's page cache: SQLite drops a
// connection's cached pages whenever another connection has written, so
// a writer that changed connections would read its pages again for
// nearly every batch.
func newCommitter(db *gorm.DB, s *Store, maxBatch int, maxWait time.Duration) (*committer, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: getting connection pool: %w", err)
	}
	conn, err := sqlDB.Conn(context.Background())
	if err != nil {
		return nil, fmt.Errorf("store: opening the writer's connection: %w", err)
	}
	writer := db.Session(&gorm.Session{NewDB: true, Context: context.Background()})
	writer.Statement.ConnPool = conn
	c := &committer{db: writer, conn: conn, store: s, jobs: make(chan *commitJob, 4*maxBatch),
		maxBatch: maxBatch, maxWait: maxWait, stop: make(chan struct{}),
		syncing: true} // connections open with synchronous=FULL (dialectorFor)
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// submit queues fn and waits for its outcome. It always waits for the
// batch to finish, even when ctx ends: returning early could report a
// failure for a transaction that then commits.
func (c *committer) submit(ctx context.Context, durable bool, fn func(tx *Tx) error) error {
	job := &commitJob{ctx: ctx, fn: fn, durable: durable, done: make(chan error, 1), queued: time.Now()}
	select {
	case c.jobs <- job:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return fmt.Errorf("store: closed")
	}
	return <-job.done
}

func (c *committer) run() {
	defer c.wg.Done()
	for {
		first := c.held
		c.held = nil
		if first == nil {
			select {
			case first = <-c.jobs:
			case <-c.stop:
				c.drain()
				return
			}
		}
		c.execute(first)
	}
}

// next returns a queued job without waiting, or nil. When the queue is
// empty it first yields once: a transaction whose goroutine is about to
// submit then still joins this batch instead of paying for a commit of
// its own.
func (c *committer) next() *commitJob {
	for yielded := false; ; yielded = true {
		select {
		case j := <-c.jobs:
			return j
		default:
		}
		if yielded {
			return nil
		}
		runtime.Gosched()
	}
}

// drain fails the jobs still queued when the store closes.
func (c *committer) drain() {
	for {
		select {
		case j := <-c.jobs:
			j.done <- fmt.Errorf("store: closed")
		default:
			return
		}
	}
}

// execute runs first and the jobs that queue while the batch runs, up to
// maxBatch, in one transaction, and reports every job's outcome after
// the commit.
func (c *committer) execute(first *commitJob) {
	if c.store.selective && first.durable != c.syncing {
		// SQLite takes the synchronous level only between transactions.
		level := "NORMAL"
		if first.durable {
			level = "FULL"
		}
		if err := setSynchronous(c.conn, level); err != nil {
			first.done <- err
			return
		}
		c.syncing = first.durable
	}
	batch := []*commitJob{first}
	var results []error
	state := &batchState{}
	err := c.db.Transaction(func(tx *gorm.DB) error {
		if err := c.resumeHead(tx, state); err != nil {
			return err
		}
		open := true
		for i := 0; i < len(batch); i++ {
			res, fatal := c.runJob(tx, state, batch[i])
			if fatal != nil {
				return fatal
			}
			results = append(results, res)
			if open && len(batch) < c.maxBatch {
				j := c.next()
				switch {
				case j == nil:
				case c.store.selective && j.durable && !c.syncing:
					// A durable job cannot join a batch that commits
					// without syncing: it opens the next batch, which
					// syncs and takes whatever queues meanwhile.
					c.held, open = j, false
				default:
					batch = append(batch, j)
				}
			}
		}
		return state.flush(tx)
	})
	switch {
	case err != nil:
	case c.syncing:
		c.synced.Add(1)
	default:
		c.unsynced.Add(1)
	}
	// The head as committed is where the next batch goes on, unless the
	// commit failed.
	c.head = nil
	if err == nil && state.head != nil {
		h := *state.head
		c.head = &h
	}
	for i, j := range batch {
		if err != nil {
			j.done <- translate(fmt.Errorf("store: committing: %w", err))
			continue
		}
		j.done <- translate(results[i])
	}
}

// setSynchronous sets the synchronous level of the writer's connection,
// through conn or a transaction on it.
func setSynchronous(conn gorm.ConnPool, level string) error {
	if _, err := conn.ExecContext(context.Background(), "PRAGMA synchronous = "+level); err != nil {
		return fmt.Errorf("store: setting synchronous=%s on the writer: %w", level, err)
	}
	return nil
}

// resumeHead gives the batch the audit head the previous batch
// committed, when no other connection has written since: SQLite's
// data_version changes only for commits by other connections, and the
// batch holds the write lock, so none can come in before it commits.
func (c *committer) resumeHead(tx *gorm.DB, state *batchState) error {
	var version int64
	if err := tx.Raw("PRAGMA data_version").Scan(&version).Error; err != nil {
		return fmt.Errorf("store: reading data_version: %w", err)
	}
	if c.head != nil && version == c.version {
		h := *c.head
		state.head, state.loadedSeq = &h, h.Seq
	}
	c.version = version
	return nil
}

// runJob runs one job of a batch in its savepoint, unless its caller gave
// up or it waited too long.
func (c *committer) runJob(tx *gorm.DB, state *batchState, j *commitJob) (err, fatal error) {
	if err := j.ctx.Err(); err != nil {
		return err, nil
	}
	if c.maxWait > 0 && time.Since(j.queued) > c.maxWait {
		return ErrBusy, nil
	}
	return runSavepoint(tx, c.store, state, j.fn)
}

// batchState is what the transactions of one batch share: the audit
// head, read once and written once per batch instead of per event. The
// batch holds SQLite's write lock from start to commit, so no other
// writer can move the head meanwhile.
type batchState struct {
	// head is the newest event's head as the batch has it, nil until
	// the batch's first audit event reads the row.
	head *AuditHead
	// loadedSeq is the head row's sequence number as read.
	loadedSeq int64
}

// flush writes the batch's audit head, if an event moved it.
func (b *batchState) flush(tx *gorm.DB) error {
	if b.head == nil || b.head.Seq == b.loadedSeq {
		return nil
	}
	return moveAuditHead(tx, b.loadedSeq, AuditEvent{Seq: b.head.Seq, Hash: b.head.Hash})
}

// jobSavepoint names the savepoint of each job. The name is fixed, not
// unique per job as GORM's nested transactions make them, so that its
// statements are compiled once per connection (sqlitedriver.go) instead
// of filling the statement cache with names used once.
const jobSavepoint = "acmegate_job"

// runSavepoint runs fn in a savepoint, turning a panic into an error so
// that one bad function cannot stop the writer. When fn fails its
// savepoint is rolled back, and so is its share of the batch state; the
// batch goes on. fatal reports a savepoint that could not be opened,
// rolled back or released: the batch must then roll back as a whole.
func runSavepoint(tx *gorm.DB, s *Store, state *batchState, fn func(tx *Tx) error) (err, fatal error) {
	saved := *state
	// The savepoint statements go to the transaction directly, past
	// GORM's statement building, which costs more than they do.
	exec := func(q string) error {
		_, err := tx.Statement.ConnPool.ExecContext(context.Background(), q)
		return err
	}
	if err := exec("SAVEPOINT " + jobSavepoint); err != nil {
		return nil, fmt.Errorf("store: opening a savepoint: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: transaction panicked: %v", r)
		}
		if err != nil {
			*state = saved
			if rbErr := exec("ROLLBACK TO " + jobSavepoint); rbErr != nil {
				fatal = fmt.Errorf("store: rolling back a savepoint: %w", rbErr)
				return
			}
		}
		if relErr := exec("RELEASE " + jobSavepoint); relErr != nil {
			fatal = fmt.Errorf("store: releasing a savepoint: %w", relErr)
		}
	}()
	return fn(&Tx{db: tx.Session(&gorm.Session{NewDB: true}), store: s, batch: state}), nil
}

func (c *committer) close() {
	close(c.stop)
	c.wg.Wait()
	_ = c.conn.Close()
}
