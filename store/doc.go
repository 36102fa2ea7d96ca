// Package store keeps acmegate's state in a relational database through GORM.
//
// SQLite (in WAL mode, with a busy timeout and immediate write transactions)
// is the embedded default; PostgreSQL and MySQL/MariaDB are selected by the
// database URL so that several stateless gateway replicas can share one
// database.
//
// All changes go through [Store.Transact], which hands a [Tx] to a function
// and commits only if it returns nil. Every state change is expected to
// append an audit event with [Tx.Audit] inside the same transaction; the
// events form a hash chain (each carries the hash of its predecessor) that
// [Store.VerifyAudit] checks.
//
// The package knows nothing of HTTP or ACME rules: it stores and loads the
// rows the state machine asks for, and reports [ErrNotFound] and
// [ErrConflict] so callers can map them to protocol errors.
package store
