package store_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

// TestMigrateInventoryIndexes turns a migrated database back into schema
// version 1 (the single-column indexes, none of the composite ones) and
// reopens it: the step to version 2 must restore the composite indexes and
// drop the single-column ones they replace.
func TestMigrateInventoryIndexes(t *testing.T) {
	t.Parallel()
	newIndexes := []struct {
		model any
		name  string
	}{
		{&store.Certificate{}, "idx_certificates_status_created"},
		{&store.Certificate{}, "idx_certificates_account_created"},
		{&store.Certificate{}, "idx_certificates_profile_created"},
		{&store.Order{}, "idx_orders_account_pending"},
		{&store.Order{}, "idx_orders_account_page"},
		{&store.Challenge{}, "idx_challenges_status"},
	}
	oldIndexes := []struct{ name, table, column string }{
		{"idx_certificates_status", "certificates", "status"},
		{"idx_certificates_account_id", "certificates", "account_id"},
		{"idx_certificates_profile", "certificates", "profile"},
	}
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			url := storetest.URL(t, d)
			first := openURL(t, url)
			m := first.DB().Migrator()
			for _, ix := range newIndexes {
				if err := m.DropIndex(ix.model, ix.name); err != nil {
					t.Fatalf("dropping %s: %v", ix.name, err)
				}
			}
			for _, ix := range oldIndexes {
				err := first.DB().Exec("CREATE INDEX " + ix.name + " ON " + ix.table +
					" (" + ix.column + ")").Error
				if err != nil {
					t.Fatalf("creating %s: %v", ix.name, err)
				}
			}
			err := first.DB().Model(&store.Setting{}).Where("name = ?", "schema_version").
				Update("value", []byte("1")).Error
			if err != nil {
				t.Fatalf("setting schema version 1: %v", err)
			}

			second := openURL(t, url)
			m = second.DB().Migrator()
			for _, ix := range newIndexes {
				if !m.HasIndex(ix.model, ix.name) {
					t.Errorf("index %s: got missing, want created", ix.name)
				}
			}
			for _, ix := range oldIndexes {
				if m.HasIndex(&store.Certificate{}, ix.name) {
					t.Errorf("index %s: got present, want dropped", ix.name)
				}
			}
			if v, err := second.SchemaVersion(context.Background()); err != nil || v != 3 {
				t.Errorf("SchemaVersion: got %d, %v, want 3, nil", v, err)
			}
		})
	}
}

// TestListCertificatesPlans checks on SQLite, whose planner has no
// statistics, that each inventory filter reads the index meant for it and
// that the lists which stop at their limit need no sort.
func TestListCertificatesPlans(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t, store.SQLite)
	var plans []string
	err := s.DB().Callback().Query().After("gorm:query").Register("test:plan", func(db *gorm.DB) {
		var details []string
		rows, err := s.DB().Raw("EXPLAIN QUERY PLAN "+db.Statement.SQL.String(),
			db.Statement.Vars...).Rows()
		if err != nil {
			t.Errorf("explaining %s: %v", db.Statement.SQL.String(), err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Errorf("reading the plan: %v", err)
				return
			}
			details = append(details, detail)
		}
		plans = append(plans, strings.Join(details, "; "))
	})
	if err != nil {
		t.Fatalf("registering the plan callback: %v", err)
	}
	now := time.Now().UTC()
	// One set holds "one.example"; more sets hold a "many-" name than a
	// list reads set by set.
	err = s.Transact(context.Background(), func(tx *store.Tx) error {
		for i := range 150 {
			names := fmt.Sprintf("many-%d.example", i)
			if i == 0 {
				names += ",one.example"
			}
			err := tx.CreateCertificate(&store.Certificate{Serial: fmt.Sprintf("%04x", i),
				Names: names, DER: []byte{0x30, 0x00}, Status: "valid", CreatedAt: now})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("storing certificates: %v", err)
	}
	tests := []struct {
		name   string
		filter store.CertificateFilter
		index  string
		sorted bool // whether the plan may sort
	}{
		{"none", store.CertificateFilter{}, "idx_certificates_created_at", false},
		{"expired", store.CertificateFilter{Status: "expired"}, "idx_certificates_created_at", false},
		{"revoked", store.CertificateFilter{Status: "revoked"}, "idx_certificates_status_created",
			false},
		{"account", store.CertificateFilter{AccountID: "a"}, "idx_certificates_account_created",
			false},
		{"account expired", store.CertificateFilter{AccountID: "a", Status: "expired"},
			"idx_certificates_account_created", false},
		{"profile", store.CertificateFilter{Profile: "p"}, "idx_certificates_profile_created", false},
		{"name", store.CertificateFilter{NamePattern: "%one.%"}, "idx_certificates_names_created",
			true},
		{"name of many sets", store.CertificateFilter{NamePattern: "%many-%"},
			"idx_certificates_created_at", false},
		{"valid", store.CertificateFilter{Status: "valid", AccountID: "a"},
			"idx_certificates_not_after", true},
		{"expiring", store.CertificateFilter{Status: "valid", ExpiresBefore: now.Add(time.Hour)},
			"idx_certificates_not_after", true},
	}
	for _, tc := range tests {
		plans = plans[:0]
		tc.filter.Now = now
		if _, err := s.Read(context.Background()).ListCertificates(tc.filter); err != nil {
			t.Fatalf("%s: ListCertificates: %v", tc.name, err)
		}
		if len(plans) == 0 {
			t.Fatalf("%s: got no query", tc.name)
		}
		// A name filter first matches names; the list is the last query.
		plan := plans[len(plans)-1]
		if !regexp.MustCompile(`INDEX ` + tc.index + `\b`).MatchString(plan) {
			t.Errorf("%s: plan %q: want it to read %s", tc.name, plan, tc.index)
		}
		if !tc.sorted && strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: plan %q: want rows in index order, without a sort", tc.name, plan)
		}
	}
}

// TestMigrateNameSets turns a database with certificates and orders back
// into schema version 2 (no name set hashes, no members) and reopens it:
// the step to version 3 must give every row its hash back, record the
// sets, and leave the rows otherwise as they were.
func TestMigrateNameSets(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := storetest.URL(t, d)
			first := openURL(t, url)
			created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			err := first.Transact(ctx, func(tx *store.Tx) error {
				for i := range 12 {
					names := fmt.Sprintf("host-%d.example,shared.example", i%3)
					o := &store.Order{ID: fmt.Sprintf("o%02d", i), AccountID: "a", Status: "valid",
						Expires: created.Add(time.Hour), CreatedAt: created, UpdatedAt: created,
						Identifiers: fmt.Sprintf(`[{"type":"dns","value":"host-%d.example"},`+
							`{"type":"dns","value":"shared.example"}]`, i%3)}
					if err := tx.CreateOrder(o, nil); err != nil {
						return err
					}
					err := tx.CreateCertificate(&store.Certificate{Serial: fmt.Sprintf("%02x", i),
						OrderID: o.ID, AccountID: "a", DER: []byte{0x30, 0x00}, Names: names,
						Status: "valid", CreatedAt: created})
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("storing: %v", err)
			}
			db := first.DB()
			steps := []*gorm.DB{
				db.Exec("UPDATE certificates SET names_hash = ''"),
				db.Exec("UPDATE orders SET names_hash = ''"),
				db.Exec("DELETE FROM name_set_members"),
				db.Model(&store.Setting{}).Where("name = ?", "schema_version").
					Update("value", []byte("2")),
			}
			for _, s := range steps {
				if s.Error != nil {
					t.Fatalf("undoing version 3: %v", s.Error)
				}
			}

			second := openURL(t, url)
			if v, err := second.SchemaVersion(ctx); err != nil || v != 3 {
				t.Fatalf("SchemaVersion: got %d, %v, want 3, nil", v, err)
			}
			var members int64
			if err := second.DB().Model(&store.NameSetMember{}).Count(&members).Error; err != nil {
				t.Fatal(err)
			}
			if members != 6 { // three sets of two names
				t.Errorf("name set members: got %d, want 6", members)
			}
			r := second.Read(ctx)
			all := store.Window{After: created.Add(-time.Second), Limit: 100}
			for _, tc := range []struct {
				name string
				want int
			}{{"shared.example", 12}, {"host-1.example", 4}, {"host-9.example", 0}} {
				certs, err := r.RecentCertificatesFor(tc.name, all)
				if err != nil || len(certs) != tc.want {
					t.Errorf("RecentCertificatesFor(%s): got %d, %v, want %d", tc.name, len(certs),
						err, tc.want)
				}
				orders, err := r.RecentOrdersFor(tc.name, all)
				if err != nil || len(orders) != tc.want {
					t.Errorf("RecentOrdersFor(%s): got %d, %v, want %d", tc.name, len(orders),
						err, tc.want)
				}
			}
			o, err := r.Order("o05")
			if err != nil {
				t.Fatal(err)
			}
			if !o.UpdatedAt.Equal(created) {
				t.Errorf("order updated_at: got %v, want it unchanged at %v", o.UpdatedAt, created)
			}
			rows, err := r.ListCertificates(store.CertificateFilter{NamePattern: "%host-2%"})
			if err != nil || len(rows) != 4 {
				t.Errorf("ListCertificates(host-2): got %d, %v, want 4", len(rows), err)
			}
		})
	}
}
