package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// nameSetScanLimit is how many name sets a name filter may match and still
// be read set by set through idx_certificates_names_created, sorting what
// it finds. A pattern matching more sets matches a large part of the
// inventory, and walking the certificates newest first finds the newest
// matches sooner.
const nameSetScanLimit = 100

// NameSetHash returns the [Certificate.NamesHash] of a comma-separated
// list of names: 128 bits of its SHA-256, in hex.
func NameSetHash(names string) string {
	sum := sha256.Sum256([]byte(names))
	return hex.EncodeToString(sum[:16])
}

// NameSetMembers returns the rows that record each distinct name of the
// comma-separated list as a member of its set.
func NameSetMembers(names string) []NameSetMember {
	hash := NameSetHash(names)
	var rows []NameSetMember
	seen := map[string]bool{}
	for n := range strings.SplitSeq(names, ",") {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		rows = append(rows, NameSetMember{Name: n, SetHash: hash})
	}
	return rows
}

// OrderNames returns the identifier values of an order's JSON identifier
// list, joined with commas in their order.
func OrderNames(identifiers string) (string, error) {
	var ids []struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal([]byte(identifiers), &ids); err != nil {
		return "", fmt.Errorf("reading identifiers %q: %w", identifiers, err)
	}
	values := make([]string, len(ids))
	for i, id := range ids {
		values[i] = id.Value
	}
	return strings.Join(values, ","), nil
}

// recordNameSet adds the members of a certificate's name set, which
// renewals usually find already recorded.
func recordNameSet(db *gorm.DB, names string) error {
	members := NameSetMembers(names)
	if len(members) == 0 {
		return nil
	}
	return db.Clauses(clause.OnConflict{DoNothing: true}).Create(&members).Error
}

// matchingNameSets returns the sets with a name matching the LIKE pattern,
// and whether there were more than [nameSetScanLimit] of them, in which
// case the list is cut short.
func (tx *Tx) matchingNameSets(pattern string) ([]string, bool, error) {
	var sets []string
	err := tx.db.Model(&NameSetMember{}).Distinct("set_hash").Where("name LIKE ?", pattern).
		Limit(nameSetScanLimit+1).Pluck("set_hash", &sets).Error
	if err != nil {
		return nil, false, fmt.Errorf("store: matching names %q: %w", pattern, err)
	}
	if len(sets) > nameSetScanLimit {
		return sets[:nameSetScanLimit], true, nil
	}
	return sets, false, nil
}

// setsWhere is the subquery of the sets holding a name that matches cond,
// a condition on the name column with one argument.
func (tx *Tx) setsWhere(cond, arg string) *gorm.DB {
	return tx.db.Session(&gorm.Session{NewDB: true}).Model(&NameSetMember{}).
		Select("set_hash").Where(cond, arg)
}

// migrateNameSets is the step to schema version 3: it gives every stored
// certificate and order its NamesHash and records the members of every
// set.
func migrateNameSets(tx *gorm.DB) error {
	recorded := map[string]bool{}
	record := func(names string) (string, error) {
		hash := NameSetHash(names)
		if recorded[hash] {
			return hash, nil
		}
		recorded[hash] = true
		return hash, recordNameSet(tx, names)
	}
	err := backfillNamesHash(tx, &Certificate{}, "serial", "names",
		[]string{"idx_certificates_names_created", "idx_certificates_created_at"}, record)
	if err != nil {
		return err
	}
	return backfillNamesHash(tx, &Order{}, "id", "identifiers", []string{"idx_orders_names_created"},
		func(identifiers string) (string, error) {
			names, err := OrderNames(identifiers)
			if err != nil {
				return "", err
			}
			return record(names)
		})
}

// backfillNamesHash sets names_hash on every row of model's table to
// hashOf of the row's column, reading the rows in key order, a batch at a
// time. The indexes holding the hash, which AutoMigrate has created (or,
// for the creation time of certificates, holds from version 2 without the
// hash), are built once at the end rather than updated row by row.
func backfillNamesHash(tx *gorm.DB, model any, key, column string, indexes []string,
	hashOf func(text string) (string, error)) error {
	const batch = 5000
	m := tx.Migrator()
	for _, index := range indexes {
		if !m.HasIndex(model, index) {
			continue
		}
		if err := m.DropIndex(model, index); err != nil {
			return fmt.Errorf("dropping index %s: %w", index, err)
		}
	}
	after := ""
	for {
		var rows []map[string]any
		err := tx.Model(model).Select(key, column).Where(key+" > ?", after).
			Order(key).Limit(batch).Find(&rows).Error
		if err != nil {
			return fmt.Errorf("reading %T after %q: %w", model, after, err)
		}
		for _, row := range rows {
			id := asString(row[key])
			hash, err := hashOf(asString(row[column]))
			if err != nil {
				return fmt.Errorf("%T %s: %w", model, id, err)
			}
			if err := tx.Model(model).Where(key+" = ?", id).UpdateColumn("names_hash", hash).Error; err != nil {
				return fmt.Errorf("setting the name set of %T %s: %w", model, id, err)
			}
		}
		if len(rows) < batch {
			break
		}
		after = asString(rows[len(rows)-1][key])
	}
	for _, index := range indexes {
		if err := m.CreateIndex(model, index); err != nil {
			return fmt.Errorf("creating index %s: %w", index, err)
		}
	}
	return nil
}

// asString returns a text column read into a map: a string, or the bytes
// some drivers give for text.
func asString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
