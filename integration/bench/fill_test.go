package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

// newDataDir returns a data folder holding a CA, as `acmegate serve`
// leaves it on first start.
func newDataDir(t *testing.T) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	res, err := ca.RunCeremony(ca.CeremonyOptions{
		RootDir: filepath.Join(dir, "root"), DataDir: filepath.Join(dir, "data"),
		RootPassphrase: []byte("root pass for tests"), IntermediatePassphrase: []byte("inter pass"),
		Now: time.Now(), Rand: rand.Reader,
	})
	if err != nil {
		t.Fatalf("RunCeremony: %v", err)
	}
	return filepath.Join(dir, "data"), res.Intermediate.SubjectKeyId
}

func TestFillModel(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name           string
		n, accts, days int
	}{
		{"small", 10, 3, 1},
		{"some", 2000, 50, 30},
		{"one account", 500, 1, 90},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newFillModel(7, tc.n, tc.accts, tc.days, now)
			if len(m.certs) != tc.n {
				t.Errorf("certificates: got %d, want %d", len(m.certs), tc.n)
			}
			if len(m.accounts) != tc.accts {
				t.Errorf("accounts: got %d, want %d", len(m.accounts), tc.accts)
			}
			sorted := slices.IsSortedFunc(m.certs, func(a, b plannedCert) int { return a.at.Compare(b.at) })
			if !sorted {
				t.Error("certificates are not in issue order")
			}
			earliest := now.Add(-time.Duration(tc.days) * 24 * time.Hour)
			for _, c := range m.certs {
				if !c.at.Before(now) || c.at.Before(earliest) {
					t.Fatalf("certificate issued at %s: want within [%s, %s)", c.at, earliest, now)
				}
			}
			again := newFillModel(7, tc.n, tc.accts, tc.days, now)
			if !slices.Equal(again.certs, m.certs) {
				t.Error("the same seed planned a different history")
			}
		})
	}
}

func TestFillRequiresCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := fill(context.Background(), fillOptions{data: dir, db: "sqlite://" +
		filepath.Join(dir, "acmegate.db"), n: 10, accounts: 1, days: 1, seed: 1, batch: 10},
		io.Discard)
	if err == nil || !strings.Contains(err.Error(), "acmegate serve") {
		t.Errorf("fill without a CA: got %v, want an error naming acmegate serve", err)
	}
}

// TestFill fills a store of every available dialect with a small history
// and checks it through the store functions the CLI uses.
func TestFill(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			data, keyID := newDataDir(t)
			opts := fillOptions{data: data, db: storetest.URL(t, d), n: 2000, accounts: 40,
				days: 20, seed: 3, batch: 700, audit: true, quiet: true}
			stats, err := fill(context.Background(), opts, io.Discard)
			if err != nil {
				t.Fatalf("fill: %v", err)
			}
			st, err := store.Open(context.Background(), store.Options{URL: opts.db})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { _ = st.Close() })
			checkFillCounts(t, st, stats, opts)
			checkFillInventory(t, st, hex.EncodeToString(keyID))
			checkListbench(t, st)
		})
	}
}

func checkFillCounts(t *testing.T, st *store.Store, stats *fillStats, opts fillOptions) {
	t.Helper()
	db := st.DB()
	for _, c := range []struct {
		model any
		want  int
	}{
		{&store.Certificate{}, opts.n},
		{&store.Account{}, opts.accounts},
		{&store.Order{}, stats.Orders},
		{&store.Authorization{}, stats.Authorizations},
		{&store.Challenge{}, stats.Challenges},
		{&store.BlockedKey{}, stats.BlockedKeys},
	} {
		var n int64
		if err := db.Model(c.model).Count(&n).Error; err != nil {
			t.Fatalf("counting %T: %v", c.model, err)
		}
		if int(n) != c.want {
			t.Errorf("%T rows: got %d, want %d", c.model, n, c.want)
		}
	}
	if stats.Orders < opts.n || stats.Revoked == 0 || stats.Authorizations == 0 {
		t.Errorf("stats %+v: want an order per certificate, some revoked, some authorizations",
			*stats)
	}
	brk, events, err := st.VerifyAudit(context.Background())
	if err != nil || brk != nil {
		t.Errorf("VerifyAudit: got %+v, %v, want an intact chain", brk, err)
	}
	if int(events) != opts.n+stats.Revoked {
		t.Errorf("audit events: got %d, want %d", events, opts.n+stats.Revoked)
	}
}

// checkFillInventory checks that certs list and certs show find what the
// history holds.
func checkFillInventory(t *testing.T, st *store.Store, keyID string) {
	t.Helper()
	r := st.Read(context.Background())
	now := time.Now().UTC()
	all, err := r.ListCertificates(store.CertificateFilter{Now: now, Limit: 1 << 20})
	if err != nil {
		t.Fatalf("ListCertificates: %v", err)
	}
	status := map[string]int{}
	for _, c := range all {
		status[certStatus(c, now)]++
	}
	for _, s := range []string{"valid", "expired", "revoked"} {
		if status[s] == 0 {
			t.Errorf("%s certificates: got none, want some (%v)", s, status)
		}
		rows, err := r.ListCertificates(store.CertificateFilter{Status: s, Now: now, Limit: 1 << 20})
		if err != nil || len(rows) != status[s] {
			t.Errorf("certs list --status %s: got %d rows, %v, want %d", s, len(rows), err, status[s])
		}
	}
	newest := all[0]
	if newest.IssuerKeyID != keyID {
		t.Errorf("issuer of the newest certificate: got %s, want the intermediate's %s",
			newest.IssuerKeyID, keyID)
	}
	c, ok := sampled(&newest)
	if !ok {
		c, _ = sampled(&all[1])
	}
	for _, f := range []store.CertificateFilter{
		cliFilter(c.label, "", "", "", 0, 1000, now),
		cliFilter("", c.account, "", "", 0, 1000, now),
		cliFilter(c.label, c.account, c.profile, "", 0, 1000, now),
	} {
		rows, err := r.ListCertificates(f)
		if err != nil || !slices.ContainsFunc(rows, func(x store.Certificate) bool {
			return x.Serial == c.serial
		}) {
			t.Errorf("ListCertificates(%+v): got %d rows, %v, want %s among them", f, len(rows), err,
				c.serial)
		}
	}
	checkLineage(t, r, all)
}

// checkLineage follows an ARI renewal back to the certificate it replaces
// and the order behind it, as certs show does.
func checkLineage(t *testing.T, r *store.Tx, all []store.Certificate) {
	t.Helper()
	i := slices.IndexFunc(all, func(c store.Certificate) bool { return c.Replaces != "" })
	if i < 0 {
		t.Fatal("no certificate names one it replaces")
	}
	renewal := all[i]
	prev, err := r.Certificate(store.ReplacedSerial(renewal.Replaces))
	if err != nil {
		t.Fatalf("the replaced certificate of %s: %v", renewal.Serial, err)
	}
	next, err := r.CertificatesReplacing(prev.AccountID, prev.Serial)
	if err != nil || len(next) != 1 || next[0].Serial != renewal.Serial {
		t.Errorf("CertificatesReplacing(%s): got %d rows, %v, want %s", prev.Serial, len(next), err,
			renewal.Serial)
	}
	order, err := r.Order(renewal.OrderID)
	if err != nil || order.Status != "valid" || order.CertificateSerial != renewal.Serial {
		t.Fatalf("order of %s: got %+v, %v, want valid with its serial", renewal.Serial, order, err)
	}
	authzIDs, err := r.OrderAuthzIDs(order.ID)
	if err != nil || len(authzIDs) != len(strings.Split(renewal.Names, ",")) {
		t.Errorf("authorizations of order %s: got %v, %v, want one per name", order.ID, authzIDs, err)
	}
	chals, err := r.ChallengesFor(authzIDs)
	if err != nil || !slices.ContainsFunc(chals, func(c store.Challenge) bool {
		return c.Status == "valid"
	}) {
		t.Errorf("challenges of order %s: got %d, %v, want a valid one", order.ID, len(chals), err)
	}
}

// checkListbench runs every case of listbench once on the filled store.
func checkListbench(t *testing.T, st *store.Store) {
	t.Helper()
	res, err := listbench(context.Background(), st, listOptions{queries: 2, limit: 100, seed: 1,
		hot: true})
	if err != nil {
		t.Fatalf("listbench: %v", err)
	}
	if want := len(listCases(100)) + len(hotCases()); len(res) != want {
		t.Errorf("listbench results: got %d, want %d", len(res), want)
	}
}

// certStatus is the status `certs list` shows.
func certStatus(c store.Certificate, now time.Time) string {
	if c.Status == "valid" && !now.Before(c.NotAfter) {
		return "expired"
	}
	return c.Status
}
