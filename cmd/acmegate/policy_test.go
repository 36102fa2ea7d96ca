package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
)

const (
	cliPolicyV1 = `rules:
  - name: corp
    owner: pki-team
    match: {default: true}
    allow_names: [corp.example]
exceptions:
  - rule: corp
    identifier: old.other.example
    owner: team-a
    reason: CHG-1 migration
    expires: 2099-01-01T00:00:00Z
  - rule: corp
    account_id: acct-9
    lifts: [rate_limits]
    owner: team-b
    reason: CHG-0 load test
    expires: 2020-01-01T00:00:00Z
`
	cliPolicyV2 = `rules:
  - name: corp
    owner: pki-team
    match: {default: true}
    allow_names: [corp.example]
    deny_names: [legacy.corp.example]
    profiles: [default, nonexistent]
`
)

// runPolicy runs `acmegate policy ARGS...` on the database and returns
// its standard output and error.
func runPolicy(t *testing.T, db string, args ...string) (string, string, error) {
	t.Helper()
	cmd := policyCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"--db", db, "--data", filepath.Dir(strings.TrimPrefix(db,
		"sqlite://"))}, args...))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPolicyCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "acmegate.db")
	v1 := writeFile(t, dir, "v1.yaml", cliPolicyV1)
	v2 := writeFile(t, dir, "v2.yaml", cliPolicyV2)
	bad := writeFile(t, dir, "bad.yaml", "rules:\n  - name: x\n    match: {default: true}\n")

	steps := []struct {
		name    string
		args    []string
		wantOut []string
		wantErr string
		// wantStderr are fragments of the warnings.
		wantStderr []string
	}{
		{name: "show before any save", args: []string{"show"}, wantErr: "no policy version"},
		{name: "set refuses an invalid file", args: []string{"set", bad, "--author", "alice"},
			wantErr: "rules[0] (x).owner"},
		{name: "set first version", args: []string{"set", v1, "--author", "alice"},
			wantOut:    []string{"saved policy version 1 (1 rules, 2 exceptions)"},
			wantStderr: []string{"warning: exception account acct-9 past corp", "lapsed"}},
		{name: "set the same again", args: []string{"set", v1, "--author", "alice"},
			wantOut: []string{"unchanged: the document is version 1"}},
		{name: "dry run of the candidate", args: []string{"test", v2, "--days", "7"},
			wantOut: []string{"replayed 3 orders of the last 7 days against version 1: 1 would change",
				"legacy-order", "allowed by corp", "rejectedIdentifier by corp",
				"denied name pattern legacy.corp.example"}},
		{name: "set second version", args: []string{"set", v2, "--author", "bob"},
			wantOut:    []string{"saved policy version 2"},
			wantStderr: []string{`profile "nonexistent"`}},
		{name: "show the newest", args: []string{"show"},
			wantOut: []string{"# policy version 2, saved by bob", "deny_names: [legacy.corp.example]"}},
		{name: "show version 1", args: []string{"show", "--version", "1"},
			wantOut: []string{"# policy version 1, saved by alice", "old.other.example"}},
		{name: "show a missing version", args: []string{"show", "--version", "9"},
			wantErr: "policy version 9 does not exist"},
		{name: "versions", args: []string{"versions"},
			wantOut: []string{"VERSION", "2  ", "bob", "alice"}},
		{name: "exceptions of version 1", args: []string{"exceptions", "--version", "1"},
			wantOut: []string{"1 exceptions in force, 1 lapsed",
				"in force  corp", "old.other.example", "team-a", "CHG-1 migration",
				"lapsed    corp", "acct-9", "rate_limits", "2020-01-01T00:00:00Z"}},
		{name: "exceptions of the newest", args: []string{"exceptions"},
			wantOut: []string{"policy version 2: 0 exceptions in force, 0 lapsed"}},
	}

	// Three orders of the last days, one of which the candidate denies.
	st, err := store.Open(context.Background(), store.Options{URL: db})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct{ id, name string }{
		{"www-order", "www.corp.example"}, {"legacy-order", "legacy.corp.example"},
		{"api-order", "api.corp.example"},
	} {
		err := st.Transact(context.Background(), func(tx *store.Tx) error {
			return tx.CreateOrder(&store.Order{ID: o.id, AccountID: "acct-1", Status: "valid",
				Expires: time.Now().Add(time.Hour), Profile: "default",
				Identifiers: `[{"type":"dns","value":"` + o.name + `"}]`}, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	for _, step := range steps {
		out, errOut, err := runPolicy(t, db, step.args...)
		if step.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), step.wantErr) {
				t.Errorf("%s: got error %v, want one mentioning %q", step.name, err, step.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: got error %v, want none", step.name, err)
			continue
		}
		for _, f := range step.wantOut {
			if !strings.Contains(out, f) {
				t.Errorf("%s: output %q: want it to contain %q", step.name, out, f)
			}
		}
		for _, f := range step.wantStderr {
			if !strings.Contains(errOut, f) {
				t.Errorf("%s: warnings %q: want them to contain %q", step.name, errOut, f)
			}
		}
	}
}
