package policy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/policy"
	"github.com/acmegate/acmegate/store"
)

const (
	policyV1 = "rules:\n  - {name: corp, owner: pki, match: {default: true}, allow_names: [corp.example]}\n"
	policyV2 = policyV1 + "exceptions:\n  - {rule: corp, identifier: x.other.example, owner: pki, " +
		"reason: CHG-7, expires: 2026-04-01T00:00:00Z}\n"
)

func TestSaveVersionsAndAudits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newClock()
	s := openStore(t, clock)

	v1, err := policy.Save(ctx, s, []byte(policyV1), "alice")
	if err != nil || v1 != 1 {
		t.Fatalf("first Save: got %d, %v, want version 1", v1, err)
	}
	v2, err := policy.Save(ctx, s, []byte(policyV2), "bob")
	if err != nil || v2 != 2 {
		t.Fatalf("second Save: got %d, %v, want version 2", v2, err)
	}
	v, err := policy.Save(ctx, s, []byte(policyV2), "carol")
	if !errors.Is(err, policy.ErrUnchanged) || v != 2 {
		t.Errorf("unchanged Save: got %d, %v, want 2 and ErrUnchanged", v, err)
	}
	if _, err := policy.Save(ctx, s, []byte("rules: [{name: x}]\n"), "mallory"); err == nil {
		t.Errorf("invalid Save: got no error, want one")
	}

	// Version 1 stays readable as it was written.
	row, err := s.Read(ctx).Policy(1)
	if err != nil || row.Document != policyV1 || row.Author != "alice" {
		t.Fatalf("Policy(1): got %+v, %v, want alice's document", row, err)
	}
	latest, err := s.Read(ctx).LatestPolicy()
	if err != nil || latest.Version != 2 || latest.Author != "bob" {
		t.Fatalf("LatestPolicy: got %+v, %v, want bob's version 2", latest, err)
	}

	// Each saved version wrote one policy.changed event; the second one
	// records the exception it added.
	events, err := s.AuditEvents(ctx, 0, time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var changed []store.AuditEvent
	for _, ev := range events {
		if ev.Type == policy.EventChanged {
			changed = append(changed, ev)
		}
	}
	if len(changed) != 2 {
		t.Fatalf("policy.changed events: got %d, want 2", len(changed))
	}
	ev := changed[1]
	if ev.Actor != "bob" || ev.Subject != "policy:v2" {
		t.Errorf("event: got actor %q subject %q, want bob and policy:v2", ev.Actor, ev.Subject)
	}
	var data struct {
		Added    []string `json:"exceptions_added"`
		Previous int      `json:"previous_version"`
	}
	if err := json.Unmarshal([]byte(ev.Data), &data); err != nil {
		t.Fatal(err)
	}
	if data.Previous != 1 || len(data.Added) != 1 || !strings.Contains(data.Added[0], "CHG-7") {
		t.Errorf("event data: got %+v, want the CHG-7 exception added after version 1", data)
	}
	if brk, _, err := s.VerifyAudit(ctx); err != nil || brk != nil {
		t.Errorf("audit chain: got %+v, %v, want intact", brk, err)
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, newClock())
	e := policy.New(policy.Options{Store: s})

	if changed, err := e.Reload(ctx); err != nil || changed || e.Version() != 0 {
		t.Fatalf("Reload with nothing saved: got %v, %v, version %d, want no change",
			changed, err, e.Version())
	}
	if _, err := policy.Save(ctx, s, []byte(policyV1), "alice"); err != nil {
		t.Fatal(err)
	}
	if changed, err := e.Reload(ctx); err != nil || !changed || e.Version() != 1 {
		t.Fatalf("Reload after Save: got %v, %v, version %d, want version 1", changed, err,
			e.Version())
	}
	if changed, _ := e.Reload(ctx); changed {
		t.Errorf("second Reload: got a change, want none")
	}

	// A stored version that no longer parses leaves version 1 in force.
	err := s.Transact(ctx, func(tx *store.Tx) error {
		return tx.SavePolicy(&store.PolicyVersion{Document: "rules: [{nme: x}]", SHA256: "x"},
			store.Event{Type: policy.EventChanged, Outcome: "success"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Reload(ctx); err == nil || e.Version() != 1 {
		t.Errorf("Reload of a broken version: got %v, version %d, want an error and version 1",
			err, e.Version())
	}
}

// TestConcurrentDecisions decides while versions are swapped in, for the
// race detector.
func TestConcurrentDecisions(t *testing.T) {
	t.Parallel()
	e := engineFor(t, policyV1)
	docs := []string{policyV1, policyV2}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				if i == 0 {
					doc, _ := policy.Parse([]byte(docs[j%2]))
					_ = e.Install(doc, j+2)
					continue
				}
				req := policy.OrderRequest{Subject: policy.Subject{AccountID: "a",
					Identifiers: dns("www.corp.example"), Now: epoch}}
				if _, err := e.DecideOrder(context.Background(), req, noUsage{}); err != nil {
					t.Errorf("DecideOrder: %v", err)
				}
			}
		})
	}
	wg.Wait()
}

// TestReplay stores orders allowed today and checks that a candidate
// reports those it would decide differently.
func TestReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newClock()
	s := openStore(t, clock)
	err := s.Transact(ctx, func(tx *store.Tx) error {
		return tx.CreateAccount(&store.Account{ID: "acct-eab", KeyThumbprint: "t1", KeyJWK: "{}",
			Status: "valid", EABKeyID: "eab_1"})
	})
	if err != nil {
		t.Fatal(err)
	}
	seedOrder(t, s, "o-www", "acct-1", "www.corp.example")
	clock.Add(time.Minute)
	seedOrder(t, s, "o-legacy", "acct-1", "legacy.corp.example")
	clock.Add(time.Minute)
	seedOrder(t, s, "o-eab", "acct-eab", "app.corp.example")
	clock.Add(time.Minute)
	seedOrder(t, s, "o-key", "acct-1", "keys.corp.example")
	setCSR(t, s, "o-key", "keys.corp.example")
	clock.Add(time.Minute)
	seedOrder(t, s, "o-burst", "acct-1", "burst.corp.example")
	clock.Add(time.Hour)

	current := engineFor(t, policyV1)
	candidate := engineFor(t, `
rules:
  - name: corp
    owner: pki
    match: {default: true}
    allow_names: [corp.example]
    deny_names: [legacy.corp.example]
    key_types: [ecdsa-p384]
    rate_limits: [{scope: account, kind: orders, limit: 3, window: 1h}]
  - name: apps
    owner: team-apps
    match: {eab_key_id: eab_1}
    allow_names: [corp.example]
`)
	rep, err := policy.Replay(ctx, s, current, candidate,
		policy.ReplayOptions{Since: epoch, Until: clock.Now()})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if rep.Replayed != 5 || rep.Truncated {
		t.Errorf("replayed: got %d (truncated %v), want 5", rep.Replayed, rep.Truncated)
	}
	want := map[string]string{
		"o-legacy": "rejectedIdentifier by corp",
		"o-eab":    "allowed by apps",
		"o-key":    "badCSR by corp",
		"o-burst":  "rateLimited by corp",
	}
	got := map[string]string{}
	for _, c := range rep.Changes {
		got[c.OrderID] = c.Candidate.String()
		if c.Current.String() != "allowed by corp" {
			t.Errorf("%s current: got %s, want allowed by corp", c.OrderID, c.Current)
		}
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s candidate: got %q, want %q", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("changes: got %v, want %v", got, want)
	}

	limited, err := policy.Replay(ctx, s, current, candidate,
		policy.ReplayOptions{Since: epoch, Until: clock.Now(), Limit: 2})
	if err != nil || limited.Replayed != 2 || !limited.Truncated {
		t.Errorf("limited replay: got %+v, %v, want 2 orders and truncated", limited, err)
	}
}

// setCSR records a finalize CSR with a P-256 key on the order.
func setCSR(t *testing.T, s *store.Store, orderID, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{}, DNSNames: []string{name}}, key)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Transact(context.Background(), func(tx *store.Tx) error {
		return tx.SetOrderStatus(orderID, []string{"pending"}, "valid", map[string]any{"csr": der})
	})
	if err != nil {
		t.Fatal(err)
	}
}
