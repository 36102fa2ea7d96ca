package policy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/policy"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/store"
)

const limitPolicy = `
rules:
  - name: limited
    owner: team-a
    match: {default: true}
    rate_limits:
      - {scope: account, kind: orders, limit: 3, window: 1h}
      - {scope: identifier, kind: certificates, limit: 2, window: 24h}
      - {scope: identifier, kind: orders, limit: 4, window: 1h}
exceptions:
  - rule: limited
    identifier: busy.example
    lifts: [rate_limits]
    owner: team-a
    reason: load test
    expires: 2026-03-10T00:00:00Z
`

// seedOrder stores an order of the account for the names at the clock's
// current time.
func seedOrder(t *testing.T, s *store.Store, id, account string, names ...string) {
	t.Helper()
	ids, err := json.Marshal(dns(names...))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Transact(context.Background(), func(tx *store.Tx) error {
		return tx.CreateOrder(&store.Order{ID: id, AccountID: account, Status: "pending",
			Expires: epoch.Add(48 * time.Hour), Identifiers: string(ids)}, nil)
	})
	if err != nil {
		t.Fatalf("storing order %s: %v", id, err)
	}
}

// seedCertificate stores a certificate of the account for the names at the
// clock's current time.
func seedCertificate(t *testing.T, s *store.Store, serial, account, names string) {
	t.Helper()
	err := s.Transact(context.Background(), func(tx *store.Tx) error {
		return tx.CreateCertificate(&store.Certificate{Serial: serial, AccountID: account,
			DER: []byte{0x30}, Names: names, Status: "valid", NotBefore: epoch,
			NotAfter: epoch.Add(24 * time.Hour)})
	})
	if err != nil {
		t.Fatalf("storing certificate %s: %v", serial, err)
	}
}

// TestAccountOrderLimit fills the account's window and checks the refusal,
// its Retry-After and the moment the window frees a slot.
func TestAccountOrderLimit(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := openStore(t, clock)
	e := engineFor(t, limitPolicy)
	counter := policy.StoreCounter{Store: s}
	decide := func(names ...string) error {
		req := policy.OrderRequest{Subject: policy.Subject{AccountID: "acct",
			Identifiers: dns(names...), Now: clock.Now()}}
		_, err := e.DecideOrder(context.Background(), req, counter)
		return err
	}
	// Orders at 0, 10 and 20 minutes fill the limit of 3 per hour.
	for i := range 3 {
		if err := decide(fmt.Sprintf("n%d.example", i)); err != nil {
			t.Fatalf("order %d: got %v, want allowed", i, err)
		}
		seedOrder(t, s, fmt.Sprintf("o%d", i), "acct", fmt.Sprintf("n%d.example", i))
		clock.Add(10 * time.Minute)
	}

	// At 30 minutes the oldest order leaves the window in another 30.
	pe := wantProblem(t, decide("n9.example"), problem.RateLimited,
		"limited (owner: team-a)", "3 orders per 1h0m0s for the account reached")
	if pe.RetryAfter != 1800 {
		t.Errorf("Retry-After: got %d, want 1800", pe.RetryAfter)
	}
	if problem.Status(pe.Type) != 429 {
		t.Errorf("status: got %d, want 429", problem.Status(pe.Type))
	}

	// One second before the slot frees the order is still refused, with
	// one second to wait; at the hour it passes.
	clock.Add(30*time.Minute - time.Second)
	pe = wantProblem(t, decide("n9.example"), problem.RateLimited)
	if pe.RetryAfter != 1 {
		t.Errorf("Retry-After one second before: got %d, want 1", pe.RetryAfter)
	}
	clock.Add(time.Second)
	if err := decide("n9.example"); err != nil {
		t.Errorf("at the end of the window: got %v, want allowed", err)
	}

	// Another account is not affected.
	req := policy.OrderRequest{Subject: policy.Subject{AccountID: "other",
		Identifiers: dns("x.example"), Now: epoch.Add(30 * time.Minute)}}
	if _, err := e.DecideOrder(context.Background(), req, counter); err != nil {
		t.Errorf("other account: got %v, want allowed", err)
	}
}

// TestIdentifierLimits counts certificates and orders naming an identifier
// across accounts, and lets an exception lift them.
func TestIdentifierLimits(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := openStore(t, clock)
	e := engineFor(t, limitPolicy)
	seedCertificate(t, s, "01", "acct-1", "a.example,b.example")
	clock.Add(time.Hour)
	seedCertificate(t, s, "02", "acct-2", "c.example,a.example")
	seedCertificate(t, s, "03", "acct-2", "busy.example")
	seedCertificate(t, s, "04", "acct-2", "busy.example")
	seedCertificate(t, s, "05", "acct-2", "10.0.0.1,xa.example,a.examplex")
	clock.Add(30 * time.Minute)
	for i := range 4 {
		seedOrder(t, s, fmt.Sprintf("o%d", i), fmt.Sprintf("acct-%d", i), "hot.example", "z.example")
	}
	clock.Add(30 * time.Minute)

	tests := []struct {
		name      string
		ids       []policy.Identifier
		wantRetry int
		fragments []string
	}{
		{name: "certificates for a name", ids: dns("a.example"),
			// The older of the two certificates, two hours ago, frees a slot
			// in 22 hours.
			wantRetry: 22 * 3600, fragments: []string{"2 certificates per 1d for a.example reached"}},
		{name: "one certificate is below the limit", ids: dns("b.example")},
		{name: "names are matched whole", ids: dns("example")},
		{name: "orders for a name", ids: dns("hot.example"), wantRetry: 1800,
			fragments: []string{"4 orders per 1h0m0s for hot.example reached"}},
		{name: "longest wait wins", ids: dns("hot.example", "a.example"), wantRetry: 22 * 3600,
			fragments: []string{"also reached: 4 orders per 1h0m0s for hot.example"}},
		{name: "exception lifts the identifier's limits", ids: dns("busy.example")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := policy.OrderRequest{Subject: policy.Subject{AccountID: "acct-9",
				Identifiers: tc.ids, Now: clock.Now()}}
			d, err := e.DecideOrder(context.Background(), req, policy.StoreCounter{Store: s})
			if tc.wantRetry == 0 {
				if err != nil {
					t.Fatalf("got %v, want allowed", err)
				}
				return
			}
			pe := wantProblem(t, err, problem.RateLimited, tc.fragments...)
			if pe.RetryAfter != tc.wantRetry {
				t.Errorf("Retry-After: got %d, want %d", pe.RetryAfter, tc.wantRetry)
			}
			if d.Rule != "limited" {
				t.Errorf("rule: got %s, want limited", d.Rule)
			}
		})
	}
}
