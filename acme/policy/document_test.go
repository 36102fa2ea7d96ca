package policy_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/policy"
)

func TestParseRefusals(t *testing.T) {
	t.Parallel()
	// rule is a valid rule that cases extend with one more field.
	const rule = "rules:\n  - name: r\n    owner: o\n    match: {default: true}\n"
	exception := func(fields string) string {
		return rule + "exceptions:\n  - {rule: " + fields + "}\n"
	}
	const until = ", expires: 2026-01-01T00:00:00Z"
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"unknown field", rule + "    alow_names: [a]\n", "alow_names"},
		{"second document", rule + "---\nrules: []\n", "more than one"},
		{"no owner", "rules:\n  - name: r\n    match: {default: true}\n", "rules[0] (r).owner"},
		{"bad name", "rules:\n  - {name: Payments Prod, owner: o, match: {default: true}}\n",
			"name"},
		{"reserved name", "rules:\n  - {name: built-in, owner: o, match: {default: true}}\n",
			"reserved"},
		{"no binding", "rules:\n  - name: r\n    owner: o\n", "match: set exactly one"},
		{"two bindings", "rules:\n  - {name: r, owner: o, match: {default: true, account_id: a}}\n",
			"match: set exactly one"},
		{"duplicate name", rule + "  - {name: r, owner: o, match: {account_id: a}}\n",
			"used by an earlier rule"},
		{"duplicate binding", rule + "  - {name: s, owner: o, match: {default: true}}\n",
			"already binds the default"},
		{"bad pattern", rule + "    allow_names: [\"a..b\"]\n", "rules[0] (r).allow_names[0]"},
		{"bad cidr", rule + "    deny_ips: [10.0.0.0/33]\n", "rules[0] (r).deny_ips[0]"},
		{"bad key type", rule + "    key_types: [dsa-1024]\n", "rules[0] (r).key_types[0]"},
		{"small rsa", rule + "    key_types: [rsa-1024+]\n", "2048"},
		{"bad challenge", rule + "    challenge_types: [http-02]\n", "challenge_types[0]"},
		{"bad duration", rule + "    max_lifetime: forever\n", "duration"},
		{"short lifetime", rule + "    max_lifetime: 1s\n", "max_lifetime"},
		{"bad scope", rule + "    rate_limits: [{scope: planet, kind: orders, limit: 1, window: 1h}]\n",
			"rate_limits[0].scope"},
		{"zero limit", rule + "    rate_limits: [{scope: account, kind: orders, limit: 0, window: 1h}]\n",
			"rate_limits[0].limit"},
		{"no window", rule + "    rate_limits: [{scope: account, kind: orders, limit: 1}]\n",
			"rate_limits[0].window"},
		{"exception unknown rule", exception("x, identifier: a.example, owner: o, reason: r" + until),
			"exceptions[0].rule"},
		{"exception no expiry", exception("r, identifier: a.example, owner: o, reason: r"),
			"exceptions[0].expires"},
		{"exception no reason", exception("r, identifier: a.example, owner: o" + until),
			"exceptions[0].reason"},
		{"exception no owner", exception("r, identifier: a.example, reason: r" + until),
			"exceptions[0].owner"},
		{"account exception without lifts", exception("r, account_id: a, owner: o, reason: r" + until),
			"exceptions[0].lifts"},
		{"identifier exception lifting keys",
			exception("r, identifier: a.example, lifts: [key_types], owner: o, reason: r" + until),
			"exceptions[0].lifts[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := policy.Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("got no error, want one mentioning %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got error %q, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseFullDocument(t *testing.T) {
	t.Parallel()
	doc, err := policy.Parse([]byte(`
rules:
  - name: payments-prod
    owner: team-payments
    match: {eab_key_id: eab_1}
    allow_names: [payments.corp.example, "*.svc.cluster.local"]
    deny_names: [admin.payments.corp.example]
    allow_ips: [10.20.0.0/16]
    allow_permanent_ids: ["serial-*"]
    profiles: [default]
    max_lifetime: 2d
    key_types: [ecdsa-p256, rsa-2048+, ed25519]
    challenge_types: [dns-01, http-01]
    rate_limits:
      - {scope: identifier, kind: certificates, limit: 5, window: 7d}
exceptions:
  - rule: payments-prod
    identifier: legacy.example
    owner: team-payments
    reason: CHG-1
    expires: 2026-06-30T00:00:00Z
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	r := doc.Rules[0]
	if got, want := time.Duration(r.MaxLifetime), 48*time.Hour; got != want {
		t.Errorf("max_lifetime: got %s, want %s", got, want)
	}
	if got, want := r.RateLimits[0].Window.String(), "7d"; got != want {
		t.Errorf("window: got %s, want %s", got, want)
	}
	x := doc.Exceptions[0]
	want := "legacy.example past payments-prod (owner: team-payments, until 2026-06-30T00:00:00Z)"
	if got := x.Label(); got != want {
		t.Errorf("Label: got %q, want %q", got, want)
	}
	if !x.InForce(epoch) || x.InForce(x.Expires) {
		t.Errorf("InForce: got in force at expiry or not before it")
	}
}

func TestParseEmpty(t *testing.T) {
	t.Parallel()
	doc, err := policy.Parse(nil)
	if err != nil || len(doc.Rules) != 0 {
		t.Fatalf("Parse(empty): got %+v, %v, want an empty document", doc, err)
	}
}

// TestExampleDocument parses the documented example, so it never drifts
// from the code.
func TestExampleDocument(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile("../../configs/policy/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := policy.Parse(text)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(doc.Rules) != 3 || len(doc.Exceptions) != 2 {
		t.Errorf("got %d rules and %d exceptions, want 3 and 2", len(doc.Rules), len(doc.Exceptions))
	}
}
