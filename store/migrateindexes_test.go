package store_test

import (
	"context"
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
			if v, err := second.SchemaVersion(context.Background()); err != nil || v != 2 {
				t.Errorf("SchemaVersion: got %d, %v, want 2, nil", v, err)
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
		{"name", store.CertificateFilter{NamePattern: "%x%"}, "idx_certificates_created_at", false},
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
		if len(plans) != 1 {
			t.Fatalf("%s: got %d queries, want 1", tc.name, len(plans))
		}
		plan := plans[0]
		if !strings.Contains(plan+" ", "INDEX "+tc.index+" ") {
			t.Errorf("%s: plan %q: want it to read %s", tc.name, plan, tc.index)
		}
		if !tc.sorted && strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: plan %q: want rows in index order, without a sort", tc.name, plan)
		}
	}
}
