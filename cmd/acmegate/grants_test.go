package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

// runGrants runs `acmegate grants ARGS...` on the database and returns its
// standard output.
func runGrants(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	cmd := grantsCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(append([]string{"--db", db, "--data", filepath.Dir(strings.TrimPrefix(db,
		"sqlite://"))}, args...))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestGrantsCommand(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "acmegate.db")
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{URL: db})
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	err = st.Transact(ctx, func(tx *store.Tx) error {
		return tx.CreateAccount(&store.Account{ID: "acct-1", KeyThumbprint: "thumb",
			KeyJWK: `{"kty":"EC"}`, Status: "valid"})
	})
	st.Close()
	if err != nil {
		t.Fatalf("storing an account: %v", err)
	}

	out, err := runGrants(t, db, "add", "--account", "acct-1",
		"--identifier", "*.Team-A.corp.internal", "--identifier", "10.1.0.0/16",
		"--reason", "team-a owns its zone", "--owner", "team-a", "--expires", "720h")
	if err != nil {
		t.Fatalf("grants add: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "*.team-a.corp.internal") {
		t.Fatalf("grants add: got %q, want two grants, the first for *.team-a.corp.internal", out)
	}
	id, _, _ := strings.Cut(lines[0], "\t")

	refusals := [][]string{
		{"add", "--identifier", "a.test", "--reason", "r", "--owner", "o", "--expires", "1h"},
		{"add", "--account", "acct-1", "--eab-key", "k", "--identifier", "a.test",
			"--reason", "r", "--owner", "o", "--expires", "1h"},
		{"add", "--account", "acct-1", "--identifier", "a.test", "--owner", "o", "--expires", "1h"},
		{"add", "--account", "nope", "--identifier", "a.test", "--reason", "r", "--owner", "o",
			"--expires", "1h"},
		{"revoke", "grant_nope"},
	}
	for _, args := range refusals {
		if _, err := runGrants(t, db, args...); err == nil {
			t.Errorf("grants %q: got no error, want one", args)
		}
	}

	if out, err := runGrants(t, db, "revoke", id, "--reason", "moved"); err != nil ||
		!strings.Contains(out, "revoked "+id) {
		t.Fatalf("grants revoke: got %q, %v", out, err)
	}
	out, err = runGrants(t, db, "list")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "revoked") ||
		!strings.Contains(out, "account:acct-1") {
		t.Errorf("grants list: got %q, %v; want the revoked grant", out, err)
	}
	out, err = runGrants(t, db, "list", "--active")
	if err != nil || strings.Contains(out, id) || !strings.Contains(out, "10.1.0.0/16") {
		t.Errorf("grants list --active: got %q, %v; want only the active grant", out, err)
	}

	st, err = store.Open(ctx, store.Options{URL: db})
	if err != nil {
		t.Fatalf("reopening the store: %v", err)
	}
	defer st.Close()
	for typ, want := range map[string]int64{state.EventGrantCreated: 2, state.EventGrantRevoked: 1} {
		var n int64
		if err := st.DB().Model(&store.AuditEvent{}).Where("type = ?", typ).Count(&n).Error; err != nil {
			t.Fatalf("counting %s events: %v", typ, err)
		}
		if n != want {
			t.Errorf("got %d %s events, want %d", n, typ, want)
		}
	}
}

func TestDNSPersistConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  DNSPersistConfig
		caa  []string
		ok   bool
	}{
		{"disabled ignores the rest", DNSPersistConfig{IssuerDomainNames: []string{"BAD"}}, nil, true},
		{"enabled", DNSPersistConfig{Enabled: true, IssuerDomainNames: []string{"ca.corp.internal"}},
			nil, true},
		{"among caa identities", DNSPersistConfig{Enabled: true,
			IssuerDomainNames: []string{"ca.corp.internal"}}, []string{"CA.corp.internal."}, true},
		{"not among caa identities", DNSPersistConfig{Enabled: true,
			IssuerDomainNames: []string{"ca.corp.internal"}}, []string{"other.corp.internal"}, false},
		{"no issuer names", DNSPersistConfig{Enabled: true}, nil, false},
		{"upper-case issuer name", DNSPersistConfig{Enabled: true,
			IssuerDomainNames: []string{"CA.corp.internal"}}, nil, false},
		{"relative prefix", DNSPersistConfig{Enabled: true,
			IssuerDomainNames: []string{"ca.corp.internal"}, AccountHashPrefix: "/hash/"}, nil, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.validate(tt.caa); (err == nil) != tt.ok {
			t.Errorf("%s: got %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
