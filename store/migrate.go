package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// schemaVersion is the version the code expects. Each change to the models
// that AutoMigrate cannot apply by itself gets a numbered step in
// [migrations] and raises this number.
const schemaVersion = 3

// migrations holds the steps that follow AutoMigrate, indexed from version 2.
// Version 1 is the initial schema created by AutoMigrate.
var migrations = map[int]func(tx *gorm.DB) error{
	2: migrateInventoryIndexes,
	3: migrateNameSets,
}

// migrationLockID is the advisory lock key that serialises migrations
// across replicas on PostgreSQL and MySQL ("acmegate" in ASCII).
const migrationLockID = 0x61636d6567617465

// Migrate brings the schema to the current version. It holds a
// database-wide lock while it runs, so replicas starting together migrate
// once. It is called by [Open]; `acmegate migrate` runs it explicitly.
func (s *Store) Migrate(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	// A dedicated connection keeps the lock and the migration on the same
	// session.
	return db.Connection(func(conn *gorm.DB) error {
		// Connection hands over a handle whose chained calls share one
		// statement, so a Where from one query would leak into the next
		// (the schema_version upsert became ambiguous). A new session
		// starts each query afresh on the same connection.
		conn = conn.Session(&gorm.Session{NewDB: true})
		if s.dialect == SQLite {
			// SQLite has no advisory lock, and AutoMigrate checks for a
			// table before creating it. One write transaction (BEGIN
			// IMMEDIATE, from the DSN) holds the write lock throughout, so
			// processes opening a new file together migrate in turn;
			// nested transactions of later steps become savepoints.
			//
			// A step that rewrites many rows runs in a savepoint whose
			// journal keeps the original of every page it changes; in
			// memory (the temp_store of serving connections) that took
			// over a gigabyte for a million certificates, so the
			// migration keeps temporary data in files.
			if err := conn.Exec("PRAGMA temp_store = FILE").Error; err != nil {
				return fmt.Errorf("store: setting temp_store for the migration: %w", err)
			}
			defer conn.Exec("PRAGMA temp_store = MEMORY")
			return conn.Transaction(s.migrate)
		}
		unlock, err := s.lock(conn)
		if err != nil {
			return err
		}
		defer unlock()
		return s.migrate(conn)
	})
}

func (s *Store) migrate(conn *gorm.DB) error {
	if err := conn.AutoMigrate(allModels()...); err != nil {
		return fmt.Errorf("store: migrating schema: %w", err)
	}
	// The audit head must exist before the first event: concurrent first
	// writers would otherwise each try to insert it, and all but one would
	// fail (or deadlock on MySQL's gap locks).
	err := conn.Clauses(clause.OnConflict{DoNothing: true}).Create(&AuditHead{ID: 1}).Error
	if err != nil {
		return fmt.Errorf("store: creating audit head: %w", err)
	}
	return s.applySteps(conn)
}

// lock takes the advisory migration lock of PostgreSQL or MySQL on conn and
// returns the function that releases it.
func (s *Store) lock(conn *gorm.DB) (func(), error) {
	if s.dialect == Postgres {
		if err := conn.Exec("SELECT pg_advisory_lock(?)", migrationLockID).Error; err != nil {
			return nil, fmt.Errorf("store: taking migration lock: %w", err)
		}
		return func() { conn.Exec("SELECT pg_advisory_unlock(?)", migrationLockID) }, nil
	}
	// GET_LOCK answers 1 when it got the lock, 0 when it timed out and
	// NULL on error; only 1 means the migration may proceed.
	var got sql.NullInt64
	if err := conn.Raw("SELECT GET_LOCK('acmegate_migrate', 60)").Row().Scan(&got); err != nil {
		return nil, fmt.Errorf("store: taking migration lock: %w", err)
	}
	if got.Int64 != 1 {
		return nil, errors.New("store: taking migration lock: timed out after 60s")
	}
	return func() { conn.Exec("SELECT RELEASE_LOCK('acmegate_migrate')") }, nil
}

func (s *Store) applySteps(conn *gorm.DB) error {
	var current Setting
	err := conn.Where("name = ?", "schema_version").Limit(1).Find(&current).Error
	if err != nil {
		return fmt.Errorf("store: reading schema version: %w", err)
	}
	version := 1
	if len(current.Value) > 0 {
		if _, err := fmt.Sscan(string(current.Value), &version); err != nil {
			return fmt.Errorf("store: parsing schema version %q: %w", current.Value, err)
		}
	}
	if version > schemaVersion {
		return fmt.Errorf("store: database schema version %d is newer than this binary's %d",
			version, schemaVersion)
	}
	for v := version + 1; v <= schemaVersion; v++ {
		step := migrations[v]
		if err := conn.Transaction(step); err != nil {
			return fmt.Errorf("store: migration to version %d: %w", v, err)
		}
	}
	return conn.Save(&Setting{Name: "schema_version", Value: fmt.Append(nil, schemaVersion)}).Error
}

// SchemaVersion returns the schema version recorded in the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var row Setting
	if err := s.db.WithContext(ctx).Where("name = ?", "schema_version").Take(&row).Error; err != nil {
		return 0, fmt.Errorf("store: reading schema version: %w", translate(err))
	}
	var v int
	if _, err := fmt.Sscan(string(row.Value), &v); err != nil {
		return 0, fmt.Errorf("store: parsing schema version: %w", err)
	}
	return v, nil
}
