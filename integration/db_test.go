package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certificate"

	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

// TestDatabaseLego runs lego's whole flow (register, obtain over http-01
// and dns-01, revoke) with the gateway on each server database, in a fresh
// database of its own. It skips a database whose variable
// (ACMEGATE_TEST_POSTGRES, ACMEGATE_TEST_MYSQL) is not set.
func TestDatabaseLego(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.Postgres, store.MySQL} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			url := storetest.URL(t, d)
			g := startGateway(t, withConfig(fmt.Sprintf("db: %q\n", url)), withDataDir(newDataDir(t)))
			if out := g.output.String(); !strings.Contains(out, "database="+string(d)) {
				t.Errorf("start-up log does not name database=%s", d)
			}
			if _, err := os.Stat(filepath.Join(g.DataDir, "acmegate.db")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("SQLite file in the data folder: got stat error %v, want none created", err)
			}
			st := openStore(t, url)

			tests := []struct {
				challenge string
				names     []string
			}{
				{challHTTP01, []string{"db-http.test.internal", "www.db-http.test.internal"}},
				{challDNS01, []string{"*.db-dns.test.internal", "db-dns.test.internal"}},
			}
			for _, tt := range tests {
				t.Run(tt.challenge, func(t *testing.T) {
					pointAt(g, tt.names...)
					client, _ := newRegisteredLegoClient(t, g, tt.challenge)
					start := time.Now()
					res := obtain(t, client, certificate.ObtainRequest{Domains: tt.names})
					leaf := checkLegoResource(t, g, res, start, wantCert{identifiers: tt.names})
					row := storedCertificate(t, st, leaf)
					if row.Status != "valid" {
						t.Errorf("stored status: got %q, want valid", row.Status)
					}

					if err := client.Certificate.Revoke(res.Certificate); err != nil {
						t.Fatalf("Revoke: %v", err)
					}
					if row := storedCertificate(t, st, leaf); row.Status != "revoked" || row.RevokedAt == nil {
						t.Errorf("stored after revocation: got status %q revoked at %v, want revoked with a time",
							row.Status, row.RevokedAt)
					}
					err := client.Certificate.Revoke(res.Certificate)
					wantProblem(t, err, "alreadyRevoked", http.StatusBadRequest)
				})
			}
			auditVerify(t, url)
		})
	}
}

// openStore opens the gateway's database from the test, for checks the
// ACME API cannot make. The database must already be migrated by a
// gateway; opening it again only confirms the schema.
func openStore(t *testing.T, url string) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: url})
	if err != nil {
		t.Fatalf("opening the gateway's database: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// storedCertificate fails the test unless the database holds leaf, byte for
// byte, under its serial, and returns the row.
func storedCertificate(t *testing.T, st *store.Store, leaf *x509.Certificate) *store.Certificate {
	t.Helper()
	serial := hex.EncodeToString(leaf.SerialNumber.Bytes())
	row, err := st.Read(t.Context()).Certificate(serial)
	if err != nil {
		t.Fatalf("certificate %s in the database: %v", serial, err)
	}
	if !bytes.Equal(row.DER, leaf.Raw) {
		t.Errorf("certificate %s in the database: got different DER than the client received", serial)
	}
	return row
}

// auditVerify runs `acmegate audit verify` on the database and fails the
// test unless the chain is intact.
func auditVerify(t *testing.T, url string) {
	t.Helper()
	out := runGateway(t, "audit", "verify", "--db", url)
	if !bytes.Contains(out, []byte("audit chain intact")) {
		t.Errorf("audit verify: got %q, want an intact chain", out)
	}
	t.Logf("audit verify: %s", bytes.TrimSpace(out))
}

// newECKey returns a fresh P-256 key; unlike newKey it can run off the test
// goroutine.
func newECKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	return key, nil
}
