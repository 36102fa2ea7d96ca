package state

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/policy"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

const statePolicy = `
rules:
  - name: corp
    owner: pki-team
    match: {default: true}
    allow_names: [corp.example]
    challenge_types: [dns-01]
    key_types: [ecdsa-p256]
    max_lifetime: 6h
    rate_limits: [{scope: account, kind: orders, limit: 2, window: 1h}]
  - name: tls-only
    owner: team-edge
    match: {eab_key_id: eab_edge}
    challenge_types: [tls-alpn-01]
`

// testClock moves only when told to.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// idleValidator never validates: these tests stop before validation.
type idleValidator struct{}

func (idleValidator) Validate(context.Context, challenges.Request) (challenges.Record, error) {
	return challenges.Record{}, errors.New("not used")
}

// noIssuer satisfies Issuer for tests that never sign.
type noIssuer struct{}

func (noIssuer) Issue(ca.IssueRequest) (*x509.Certificate, []byte, error) {
	return nil, nil, errors.New("not used")
}
func (noIssuer) ChainPEM() []byte { return nil }
func (noIssuer) KeyID() []byte    { return []byte{1} }
func (noIssuer) CreateCRL([]ca.RevokedEntry, *big.Int, time.Time, time.Time,
	io.Reader) ([]byte, error) {
	return nil, errors.New("not used")
}

type policyFixture struct {
	engine *Engine
	store  *store.Store
	clock  *testClock
	policy *policy.Engine
}

func newPolicyFixture(t *testing.T) *policyFixture {
	t.Helper()
	clock := &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	st := storetest.OpenWith(t, store.SQLite, store.Options{Now: clock.Now})
	doc, err := policy.Parse([]byte(statePolicy))
	if err != nil {
		t.Fatal(err)
	}
	pol := policy.New(policy.Options{})
	if err := pol.Install(doc, 3); err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{
		Store: st, Issuer: noIssuer{}, Clock: clock, Policy: pol,
		Validators: map[string]challenges.Validator{
			challenges.TypeHTTP01: idleValidator{}, challenges.TypeDNS01: idleValidator{},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return &policyFixture{engine: e, store: st, clock: clock, policy: pol}
}

// account creates an account; eabKeyID is recorded on it directly, as
// checking a real binding is not what these tests are about.
func (f *policyFixture) account(t *testing.T, eabKeyID string) *Account {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	acct, _, err := f.engine.NewAccount(context.Background(), &jose.JSONWebKey{Key: key.Public()},
		NewAccountRequest{})
	if err != nil {
		t.Fatalf("NewAccount: %v", err)
	}
	if eabKeyID != "" {
		err := f.store.DB().Model(&store.Account{}).Where("id = ?", acct.ID).
			Update("eab_key_id", eabKeyID).Error
		if err != nil {
			t.Fatal(err)
		}
		acct.EABKeyID = eabKeyID
	}
	return acct
}

// lastEvent returns the newest audit event of the type with its data.
func (f *policyFixture) lastEvent(t *testing.T, typ string) (store.AuditEvent, map[string]any) {
	t.Helper()
	events, err := f.store.AuditEvents(context.Background(), 0, time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Type == typ {
			var data map[string]any
			if err := json.Unmarshal([]byte(events[i].Data), &data); err != nil {
				t.Fatal(err)
			}
			return events[i], data
		}
	}
	t.Fatalf("no %s audit event", typ)
	return store.AuditEvent{}, nil
}

func policyRule(data map[string]any) any {
	p, _ := data["policy"].(map[string]any)
	return p["rule"]
}

func dnsIDs(names ...string) []Identifier {
	out := make([]Identifier, 0, len(names))
	for _, n := range names {
		out = append(out, Identifier{Type: IdentifierDNS, Value: n})
	}
	return out
}

func TestNewOrderUnderPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newPolicyFixture(t)
	acct := f.account(t, "")
	if _, data := f.lastEvent(t, EventAccountCreated); policyRule(data) != "corp" {
		t.Errorf("account.created policy: got %v, want rule corp", data["policy"])
	}

	// Allowed: the order offers only the rule's challenge types, and its
	// audit event names the rule.
	order, err := f.engine.NewOrder(ctx, acct,
		NewOrderRequest{Identifiers: dnsIDs("www.corp.example")})
	if err != nil {
		t.Fatalf("allowed order: %v", err)
	}
	authz, err := f.engine.Authorization(ctx, acct, order.AuthzIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(authz.Challenges) != 1 || authz.Challenges[0].Type != challenges.TypeDNS01 {
		t.Errorf("challenges: got %+v, want dns-01 only", authz.Challenges)
	}
	if _, data := f.lastEvent(t, EventOrderCreated); policyRule(data) != "corp" {
		t.Errorf("order.created policy: got %v, want rule corp", data["policy"])
	}

	// Refused: the problem and the audit event name the rule.
	_, err = f.engine.NewOrder(ctx, acct, NewOrderRequest{Identifiers: dnsIDs("www.other.example")})
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Type != problem.RejectedIdentifier ||
		!strings.Contains(pe.Detail, "corp (owner: pki-team)") {
		t.Fatalf("refused order: got %v, want rejectedIdentifier naming corp", err)
	}
	ev, data := f.lastEvent(t, EventOrderRefused)
	if policyRule(data) != "corp" || ev.Outcome != OutcomeFailure || ev.Actor != acct.ID {
		t.Errorf("order.refused: got %+v %v, want a failure by the account naming corp", ev, data)
	}

	// Rate limited: the second allowed order filled the window of 2.
	_, err = f.engine.NewOrder(ctx, acct, NewOrderRequest{Identifiers: dnsIDs("api.corp.example")})
	if err != nil {
		t.Fatalf("second order: %v", err)
	}
	f.clock.Add(10 * time.Minute)
	_, err = f.engine.NewOrder(ctx, acct, NewOrderRequest{Identifiers: dnsIDs("db.corp.example")})
	if !errors.As(err, &pe) || pe.Type != problem.RateLimited || pe.RetryAfter != 50*60 {
		t.Fatalf("third order: got %v (%+v), want rateLimited with Retry-After 3000", err, pe)
	}
}

// TestReuseFollowsPolicyChallengeTypes checks that a rule narrowed to
// fewer challenge types is not met by reusing an authorization proved, or
// still provable, with a type it no longer allows.
func TestReuseFollowsPolicyChallengeTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newPolicyFixture(t)
	install := func(text string, version int) {
		t.Helper()
		doc, err := policy.Parse([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.policy.Install(doc, version); err != nil {
			t.Fatal(err)
		}
	}
	order := func(acct *Account, name string) *Authorization {
		t.Helper()
		o, err := f.engine.NewOrder(ctx, acct, NewOrderRequest{Identifiers: dnsIDs(name)})
		if err != nil {
			t.Fatalf("NewOrder(%s): %v", name, err)
		}
		authz, err := f.engine.Authorization(ctx, acct, o.AuthzIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		return authz
	}
	validate := func(authz *Authorization, typ string) {
		t.Helper()
		db := f.store.DB()
		if err := db.Model(&store.Challenge{}).Where("authz_id = ? AND type = ?", authz.ID, typ).
			Update("status", StatusValid).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Model(&store.Authorization{}).Where("id = ?", authz.ID).
			Update("status", StatusValid).Error; err != nil {
			t.Fatal(err)
		}
	}
	types := func(authz *Authorization) []string {
		var out []string
		for _, c := range authz.Challenges {
			out = append(out, c.Type)
		}
		return out
	}

	install(`
rules:
  - name: open
    owner: pki-team
    match: {default: true}
    allow_names: [corp.example]
`, 4)
	acct := f.account(t, "")
	pending := order(acct, "pending.corp.example")
	byHTTP := order(acct, "http.corp.example")
	validate(byHTTP, challenges.TypeHTTP01)
	if got := types(pending); len(got) < 2 {
		t.Fatalf("challenges under the open rule: got %v, want http-01 and dns-01", got)
	}

	install(`
rules:
  - name: narrowed
    owner: pki-team
    match: {default: true}
    allow_names: [corp.example]
    challenge_types: [dns-01]
`, 5)
	for _, tt := range []struct {
		name string
		old  *Authorization
	}{{"pending with http-01 offered", pending}, {"validated by http-01", byHTTP}} {
		got := order(acct, tt.old.Identifier.Value)
		if got.ID == tt.old.ID {
			t.Errorf("%s: the authorization was reused under a dns-01-only rule", tt.name)
		}
		if ts := types(got); len(ts) != 1 || ts[0] != challenges.TypeDNS01 {
			t.Errorf("%s: new authorization offers %v, want dns-01 only", tt.name, ts)
		}
	}

	// One validated by an allowed type is reused.
	byDNS := order(acct, "dns.corp.example")
	validate(byDNS, challenges.TypeDNS01)
	f.clock.Add(time.Minute)
	if again := order(acct, "dns.corp.example"); again.ID != byDNS.ID {
		t.Errorf("an authorization validated by dns-01 was not reused under a dns-01 rule")
	}
}

func TestPolicyChallengeTypesUnavailable(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	acct := f.account(t, "eab_edge")
	_, err := f.engine.NewOrder(context.Background(), acct,
		NewOrderRequest{Identifiers: dnsIDs("edge.example")})
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Type != problem.RejectedIdentifier ||
		!strings.Contains(pe.Detail, "tls-only (owner: team-edge) (tls-alpn-01)") {
		t.Fatalf("got %v, want rejectedIdentifier naming tls-only and its challenge types", err)
	}
}

func TestPolicyKeyAtFinalize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newPolicyFixture(t)
	acct := f.account(t, "")
	order, err := f.engine.NewOrder(ctx, acct,
		NewOrderRequest{Identifiers: dnsIDs("www.corp.example")})
	if err != nil {
		t.Fatal(err)
	}
	err = f.store.Transact(ctx, func(tx *store.Tx) error {
		return tx.SetOrderStatus(order.ID, []string{StatusPending}, StatusReady, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{DNSNames: []string{"www.corp.example"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.engine.Finalize(ctx, acct, order.ID, csr)
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Type != problem.BadCSR ||
		!strings.Contains(pe.Detail, "ecdsa-p384 is not allowed by policy rule corp") {
		t.Fatalf("got %v, want badCSR naming the key type and the rule", err)
	}
}

func TestIssueProfileCapsLifetime(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	corp := f.account(t, "")
	edge := f.account(t, "eab_edge")
	tests := []struct {
		name     string
		acct     *Account
		lifetime time.Duration
		max      time.Duration
	}{
		{"capped by the rule", corp, 6 * time.Hour, 6 * time.Hour},
		{"rule without a maximum", edge, 24 * time.Hour, 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := f.engine.issueProfile(context.Background(),
				&Order{ID: "o", AccountID: tc.acct.ID, Profile: "default"})
			if err != nil {
				t.Fatal(err)
			}
			p = p.WithDefaults()
			if p.Lifetime != tc.lifetime || p.MaxLifetime != tc.max {
				t.Errorf("got lifetime %s max %s, want %s and %s", p.Lifetime, p.MaxLifetime,
					tc.lifetime, tc.max)
			}
		})
	}
}
