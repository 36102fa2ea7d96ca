package acmetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/acmegate/acmegate/store"
)

// snapshotTables are the rows a refused request must leave alone, with the
// columns that carry their state. Used nonces are left out: redeeming the
// nonce of a request that is refused after its signature was checked is
// expected.
var snapshotTables = []struct {
	name  string
	model any
	cols  string
	order string
}{
	{"accounts", &store.Account{}, "id, status, key_thumbprint, contacts, eab_key_id", "id"},
	{"orders", &store.Order{}, "id, status, error, certificate_serial", "id"},
	{"order_authorizations", &store.OrderAuthorization{}, "order_id, authz_id", "order_id, authz_id"},
	{"authorizations", &store.Authorization{}, "id, status, expires", "id"},
	{"challenges", &store.Challenge{}, "id, status, error, validated_at", "id"},
	{"serial_reservations", &store.SerialReservation{}, "serial", "serial"},
	{"certificates", &store.Certificate{}, "serial, status, revocation_reason", "serial"},
	{"eab_keys", &store.EABKey{}, "id, bindings, revoked_at", "id"},
	{"blocked_keys", &store.BlockedKey{}, "key_hash", "key_hash"},
	{"audit_events", &store.AuditEvent{}, "seq, type", "seq"},
}

// Snapshot is the state of the rows that matter for the "nothing changed"
// check of a refused request: per table, the number of rows and their
// state columns.
type Snapshot struct {
	Counts map[string]int
	rows   map[string]string
}

// Snapshot reads the current state.
func (g *Gateway) Snapshot(t testing.TB) Snapshot {
	t.Helper()
	s := Snapshot{Counts: map[string]int{}, rows: map[string]string{}}
	for _, tbl := range snapshotTables {
		var rows []map[string]any
		err := g.Store.DB().Model(tbl.model).Select(tbl.cols).Order(tbl.order).Find(&rows).Error
		if err != nil {
			t.Fatalf("reading %s: %v", tbl.name, err)
		}
		s.Counts[tbl.name] = len(rows)
		var b strings.Builder
		for _, r := range rows {
			fmt.Fprintln(&b, formatRow(r))
		}
		s.rows[tbl.name] = b.String()
	}
	return s
}

func formatRow(r map[string]any) string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v ", k, r[k])
	}
	return b.String()
}

// Diff names the tables whose rows differ between s and later, with the
// counts; it returns "" when nothing changed.
func (s Snapshot) Diff(later Snapshot) string {
	var out []string
	for _, tbl := range snapshotTables {
		if s.rows[tbl.name] != later.rows[tbl.name] {
			out = append(out, fmt.Sprintf("%s (%d rows, then %d)",
				tbl.name, s.Counts[tbl.name], later.Counts[tbl.name]))
		}
	}
	return strings.Join(out, ", ")
}
