package policy_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/policy"
	"github.com/acmegate/acmegate/acme/problem"
)

const decidePolicy = `
rules:
  - name: payments-prod
    owner: team-payments
    match: {eab_key_id: eab_pay}
    allow_names: [payments.corp.example, "*.svc.cluster.local"]
    deny_names: [admin.payments.corp.example, "*.secret.svc.cluster.local"]
    allow_ips: [10.20.0.0/16]
    deny_ips: [10.20.99.0/24]
    profiles: [default, mtls]
    max_lifetime: 24h
    key_types: [ecdsa-p256, rsa-3072+]
    challenge_types: [dns-01]
  - name: vip
    owner: pki-team
    match: {account_id: acct_vip}
  - name: corp
    owner: pki-team
    match: {default: true}
    allow_names: [corp.example]
    allow_permanent_ids: ["dev-*"]
exceptions:
  - rule: payments-prod
    identifier: legacy.billing.example
    owner: team-payments
    reason: CHG-1
    expires: 2026-03-02T00:00:00Z
  - rule: corp
    account_id: acct_long
    lifts: [identifiers]
    owner: pki-team
    reason: CHG-2
    expires: 2026-03-01T00:00:00Z
`

func TestDecideOrder(t *testing.T) {
	t.Parallel()
	e := engineFor(t, decidePolicy)
	notAfter := func(d time.Duration) *time.Time { v := epoch.Add(d); return &v }
	pay := func(ids ...policy.Identifier) policy.OrderRequest {
		return policy.OrderRequest{Subject: policy.Subject{AccountID: "acct_p", EABKeyID: "eab_pay",
			Identifiers: ids, Now: epoch}, Profile: "default"}
	}
	ip := func(v string) policy.Identifier { return policy.Identifier{Type: policy.TypeIP, Value: v} }
	tests := []struct {
		name     string
		req      policy.OrderRequest
		wantRule string
		// wantType is empty when the order must be allowed.
		wantType  problem.Type
		fragments []string
		wantSubs  int
	}{
		{name: "allowed suffix", req: pay(dns("api.payments.corp.example")...),
			wantRule: "payments-prod"},
		{name: "allowed apex", req: pay(dns("payments.corp.example")...), wantRule: "payments-prod"},
		{name: "refused names the rule",
			req: pay(dns("www.other.example")...), wantRule: "payments-prod",
			wantType: problem.RejectedIdentifier,
			fragments: []string{"www.other.example", "payments-prod (owner: team-payments)",
				"no allowed name pattern"}},
		{name: "deny beats allow", req: pay(dns("x.admin.payments.corp.example")...),
			wantRule: "payments-prod", wantType: problem.RejectedIdentifier,
			fragments: []string{"denied name pattern admin.payments.corp.example"}},
		{name: "star pattern allows below", req: pay(dns("web.shop.svc.cluster.local")...),
			wantRule: "payments-prod"},
		{name: "star pattern excludes its base", req: pay(dns("svc.cluster.local")...),
			wantRule: "payments-prod", wantType: problem.RejectedIdentifier},
		{name: "wildcard identifier under star pattern", req: pay(dns("*.shop.svc.cluster.local")...),
			wantRule: "payments-prod"},
		{name: "wildcard identifier reaching a denied name", req: pay(dns("*.payments.corp.example")...),
			wantRule: "payments-prod", wantType: problem.RejectedIdentifier,
			fragments: []string{"denied name pattern admin.payments.corp.example"}},
		{name: "wildcard identifier inside a denied star",
			req:      pay(dns("*.a.secret.svc.cluster.local")...),
			wantRule: "payments-prod", wantType: problem.RejectedIdentifier},
		{name: "ip in range", req: pay(ip("10.20.1.2")), wantRule: "payments-prod"},
		{name: "ip outside range", req: pay(ip("10.30.1.2")), wantRule: "payments-prod",
			wantType: problem.RejectedIdentifier, fragments: []string{"no allowed range"}},
		{name: "ip in denied range", req: pay(ip("10.20.99.7")), wantRule: "payments-prod",
			wantType: problem.RejectedIdentifier, fragments: []string{"denied range 10.20.99.0/24"}},
		{name: "several refused give subproblems",
			req:      pay(append(dns("a.other.example", "api.payments.corp.example"), ip("192.0.2.1"))...),
			wantRule: "payments-prod", wantType: problem.RejectedIdentifier, wantSubs: 2,
			fragments: []string{"2 identifiers are refused by policy rule payments-prod"}},
		{name: "exception lets an identifier through", req: pay(dns("legacy.billing.example")...),
			wantRule: "payments-prod"},
		{name: "profile not allowed",
			req: func() policy.OrderRequest {
				r := pay(dns("payments.corp.example")...)
				r.Profile = "shortlived"
				return r
			}(),
			wantRule: "payments-prod", wantType: problem.InvalidProfile,
			fragments: []string{`"shortlived"`, "payments-prod (owner: team-payments)", "default, mtls"}},
		{name: "lifetime within max",
			req: func() policy.OrderRequest {
				r := pay(dns("payments.corp.example")...)
				r.NotAfter = notAfter(24 * time.Hour)
				return r
			}(),
			wantRule: "payments-prod"},
		{name: "lifetime above max",
			req: func() policy.OrderRequest {
				r := pay(dns("payments.corp.example")...)
				r.NotAfter = notAfter(48 * time.Hour)
				return r
			}(),
			wantRule: "payments-prod", wantType: problem.Malformed,
			fragments: []string{"48h0m0s", "24h0m0s", "payments-prod"}},
		{name: "account binding beats EAB binding",
			req: policy.OrderRequest{Subject: policy.Subject{AccountID: "acct_vip", EABKeyID: "eab_pay",
				Identifiers: dns("anything.example"), Now: epoch}},
			wantRule: "vip"},
		{name: "default rule for others",
			req: policy.OrderRequest{Subject: policy.Subject{AccountID: "acct_x",
				Identifiers: dns("www.corp.example"), Now: epoch}},
			wantRule: "corp"},
		{name: "default rule refuses ip without an ip allow list",
			req: policy.OrderRequest{Subject: policy.Subject{AccountID: "acct_x",
				Identifiers: []policy.Identifier{ip("10.0.0.1")}, Now: epoch}},
			wantRule: "corp", wantType: problem.RejectedIdentifier,
			fragments: []string{"allows no IP addresses"}},
		{name: "permanent identifier prefix",
			req: policy.OrderRequest{Subject: policy.Subject{AccountID: "acct_x", Now: epoch,
				Identifiers: []policy.Identifier{{Type: policy.TypePermanentID, Value: "dev-42"}}}},
			wantRule: "corp"},
		{name: "lapsed account exception",
			req: policy.OrderRequest{Subject: policy.Subject{AccountID: "acct_long",
				Identifiers: dns("www.other.example"), Now: epoch}},
			wantRule: "corp", wantType: problem.RejectedIdentifier},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := e.DecideOrder(context.Background(), tc.req, noUsage{})
			if d == nil || d.Rule != tc.wantRule {
				t.Fatalf("decision: got %+v, want rule %s", d, tc.wantRule)
			}
			if tc.wantType == "" {
				if err != nil {
					t.Fatalf("got %v, want the order allowed", err)
				}
				return
			}
			pe := wantProblem(t, err, tc.wantType, tc.fragments...)
			if got := len(pe.Subproblems); got != tc.wantSubs {
				t.Errorf("subproblems: got %d, want %d", got, tc.wantSubs)
			}
			if tc.wantType == problem.RejectedIdentifier && tc.wantSubs == 0 && pe.Identifier == nil {
				t.Errorf("problem: got no identifier, want the refused one")
			}
		})
	}
}

func TestExceptionLapses(t *testing.T) {
	t.Parallel()
	e := engineFor(t, decidePolicy)
	req := policy.OrderRequest{Subject: policy.Subject{AccountID: "acct_p", EABKeyID: "eab_pay",
		Identifiers: dns("legacy.billing.example")}, Profile: "default"}
	expiry := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		now     time.Time
		allowed bool
	}{
		{"well before expiry", epoch, true},
		{"one second before expiry", expiry.Add(-time.Second), true},
		{"at expiry", expiry, false},
		{"after expiry", expiry.Add(time.Hour), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := req
			r.Now = tc.now
			d, err := e.DecideOrder(context.Background(), r, noUsage{})
			if !tc.allowed {
				wantProblem(t, err, problem.RejectedIdentifier, "legacy.billing.example")
				return
			}
			if err != nil {
				t.Fatalf("got %v, want allowed by the exception", err)
			}
			if len(d.Exceptions) != 1 {
				t.Errorf("exceptions applied: got %v, want the one exception", d.Exceptions)
			}
		})
	}
}

func TestCheckKey(t *testing.T) {
	t.Parallel()
	e := engineFor(t, decidePolicy)
	d := e.Decide(policy.Subject{AccountID: "acct_p", EABKeyID: "eab_pay", Now: epoch})
	tests := []struct {
		name string
		key  crypto.PublicKey
		ok   bool
	}{
		{"ecdsa p256", ecKey(t, elliptic.P256()), true},
		{"ecdsa p384", ecKey(t, elliptic.P384()), false},
		{"rsa 2048 below the bound", rsaKey(t, 2048), false},
		{"rsa 3072 at the bound", rsaKey(t, 3072), true},
		{"ed25519", edKey(t), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := d.CheckKey(tc.key)
			if tc.ok {
				if err != nil {
					t.Fatalf("got %v, want the key accepted", err)
				}
				return
			}
			wantProblem(t, err, problem.BadCSR, "payments-prod (owner: team-payments)",
				"ecdsa-p256, rsa-3072+")
		})
	}
	other := e.Decide(policy.Subject{AccountID: "acct_x", Now: epoch})
	if got := other.CheckKey(edKey(t)); got != nil {
		t.Errorf("rule without key types: got %v, want any key accepted", got)
	}
}

func TestDecideParameters(t *testing.T) {
	t.Parallel()
	e := engineFor(t, decidePolicy)
	d := e.Decide(policy.Subject{AccountID: "acct_p", EABKeyID: "eab_pay", Now: epoch})
	if !slices.Equal(d.ChallengeTypes, []string{"dns-01"}) || !d.AllowsChallenge("dns-01") ||
		d.AllowsChallenge("http-01") {
		t.Errorf("challenge types: got %v, want dns-01 only", d.ChallengeTypes)
	}
	if got := d.CapLifetime(7 * 24 * time.Hour); got != 24*time.Hour {
		t.Errorf("CapLifetime(7d): got %s, want 24h", got)
	}
	if got := d.CapLifetime(time.Hour); got != time.Hour {
		t.Errorf("CapLifetime(1h): got %s, want 1h", got)
	}
	if got, want := d.Explain(), "payments-prod (owner: team-payments)"; got != want {
		t.Errorf("Explain: got %q, want %q", got, want)
	}
	if got := d.AuditData()["version"]; got != 1 {
		t.Errorf("audit version: got %v, want 1", got)
	}
	other := e.Decide(policy.Subject{AccountID: "acct_x", Now: epoch})
	if other.ChallengeTypes != nil || !other.AllowsChallenge("http-01") || other.MaxLifetime != 0 {
		t.Errorf("default rule: got %+v, want no restriction on challenges and lifetime", other)
	}
}

func TestBuiltInRule(t *testing.T) {
	t.Parallel()
	e := policy.New(policy.Options{})
	req := policy.OrderRequest{Subject: policy.Subject{AccountID: "a",
		Identifiers: dns("anything.example"), Now: epoch}, Profile: "whatever"}
	d, err := e.DecideOrder(context.Background(), req, noUsage{})
	if err != nil || d.Rule != policy.BuiltInRule || d.Version != 0 {
		t.Fatalf("got %+v, %v, want allowed by the built-in rule at version 0", d, err)
	}
	// A document without a default rule leaves other accounts under it.
	e = engineFor(t, "rules:\n  - {name: one, owner: o, match: {account_id: x}, allow_names: [a.example]}\n")
	d, err = e.DecideOrder(context.Background(), req, noUsage{})
	if err != nil || d.Rule != policy.BuiltInRule {
		t.Fatalf("got %+v, %v, want allowed by the built-in rule", d, err)
	}
}

func ecKey(t *testing.T, c elliptic.Curve) crypto.PublicKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

func rsaKey(t *testing.T, bits int) crypto.PublicKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

func edKey(t *testing.T) crypto.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
