package store

import (
	"fmt"

	"gorm.io/gorm"
)

// indexChange names one index of a model that a migration step adds or
// removes.
type indexChange struct {
	model any
	name  string
}

// inventoryIndexes (schema version 2) are the indexes that keep the
// inventory and the issuance path fast with a million certificates
// (BENCHMARKS.md, "One million certificates"):
//
//   - certificates by status, account or profile, each with the creation
//     time, so that `certs list` walks one index newest first and stops at
//     its limit, and rate limits count an account's recent certificates;
//   - orders by account with status and expiry, for the pending-order
//     limit of every new order, and by account with ID, for the orders
//     list (RFC 8555, Section 7.1.2.1);
//   - challenges by status, for the upkeep that looks for interrupted
//     validations.
var inventoryIndexes = []indexChange{
	{&Certificate{}, "idx_certificates_status_created"},
	{&Certificate{}, "idx_certificates_account_created"},
	{&Certificate{}, "idx_certificates_profile_created"},
	{&Order{}, "idx_orders_account_pending"},
	{&Order{}, "idx_orders_account_page"},
	{&Challenge{}, "idx_challenges_status"},
}

// supersededIndexes are the single-column indexes of schema version 1
// that an index of [inventoryIndexes] starts with, and so replaces.
var supersededIndexes = []indexChange{
	{&Certificate{}, "idx_certificates_status"},
	{&Certificate{}, "idx_certificates_account_id"},
	{&Certificate{}, "idx_certificates_profile"},
}

// migrateInventoryIndexes is the step to schema version 2. AutoMigrate has
// usually created the new indexes already, from the model tags; the step
// makes sure of them and drops the superseded ones, which AutoMigrate
// never removes. It is safe to run again.
func migrateInventoryIndexes(tx *gorm.DB) error {
	m := tx.Migrator()
	for _, ix := range inventoryIndexes {
		if m.HasIndex(ix.model, ix.name) {
			continue
		}
		if err := m.CreateIndex(ix.model, ix.name); err != nil {
			return fmt.Errorf("creating index %s: %w", ix.name, err)
		}
	}
	for _, ix := range supersededIndexes {
		if !m.HasIndex(ix.model, ix.name) {
			continue
		}
		if err := m.DropIndex(ix.model, ix.name); err != nil {
			return fmt.Errorf("dropping index %s: %w", ix.name, err)
		}
	}
	return nil
}
