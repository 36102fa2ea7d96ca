package state_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"path"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

func TestGrantPattern(t *testing.T) {
	t.Parallel()
	dns := func(v string) state.Identifier { return state.Identifier{Type: state.IdentifierDNS, Value: v} }
	ip := func(v string) state.Identifier { return state.Identifier{Type: state.IdentifierIP, Value: v} }
	tests := []struct {
		pattern string
		want    string // canonical form
		covers  []state.Identifier
		misses  []state.Identifier
	}{
		{pattern: "DB.Corp.Internal.", want: "db.corp.internal",
			covers: []state.Identifier{dns("db.corp.internal")},
			misses: []state.Identifier{dns("x.db.corp.internal"), dns("*.db.corp.internal"),
				dns("corp.internal"), ip("10.0.0.1")}},
		{pattern: "*.team-a.corp.internal", want: "*.team-a.corp.internal",
			covers: []state.Identifier{dns("api.team-a.corp.internal"),
				dns("x.y.team-a.corp.internal"), dns("*.team-a.corp.internal"),
				dns("*.y.team-a.corp.internal")},
			misses: []state.Identifier{dns("team-a.corp.internal"), dns("xteam-a.corp.internal"),
				dns("api.team-b.corp.internal"), dns("*.corp.internal")}},
		{pattern: "10.1.0.0/16", want: "10.1.0.0/16",
			covers: []state.Identifier{ip("10.1.2.3"), ip("10.1.255.255")},
			misses: []state.Identifier{ip("10.2.0.1"), ip("fd00::1"), dns("10.1.2.3")}},
		{pattern: "fd00::1", want: "fd00::1",
			covers: []state.Identifier{ip("fd00::1")},
			misses: []state.Identifier{ip("fd00::2")}},
		{pattern: "db.corp.internal", want: "db.corp.internal",
			misses: []state.Identifier{{Type: state.IdentifierPermanent, Value: "db.corp.internal"}}},
	}
	for _, tt := range tests {
		p, err := state.ParseGrantPattern(tt.pattern)
		if err != nil {
			t.Errorf("ParseGrantPattern(%q): %v", tt.pattern, err)
			continue
		}
		if p.String() != tt.want {
			t.Errorf("ParseGrantPattern(%q): got %q, want %q", tt.pattern, p, tt.want)
		}
		for _, id := range tt.covers {
			if !p.Covers(id) {
				t.Errorf("%s: got %v not covered, want covered", tt.pattern, id)
			}
		}
		for _, id := range tt.misses {
			if p.Covers(id) {
				t.Errorf("%s: got %v covered, want not covered", tt.pattern, id)
			}
		}
	}
	for _, bad := range []string{"", "*", "*.", "a.*.corp", "10.1.0.1/16", "bad name", "-a.test/8"} {
		if _, err := state.ParseGrantPattern(bad); err == nil {
			t.Errorf("ParseGrantPattern(%q): got no error, want one", bad)
		}
	}
}

// grantEnv is a gateway with a registered client and the grant tools.
type grantEnv struct {
	gw     *acmetest.Gateway
	c      *acmetest.Client
	acctID string
	grants state.Grants
}

func newGrantEnv(t *testing.T) *grantEnv {
	t.Helper()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	return &grantEnv{gw: gw, c: c, acctID: path.Base(c.KID),
		grants: state.Grants{Store: gw.Store, Clock: gw.Clock, Actor: "test"}}
}

// grant creates grants of the patterns for the account, lasting d.
func (e *grantEnv) grant(t *testing.T, d time.Duration, patterns ...string) []store.OwnershipGrant {
	t.Helper()
	rows, err := e.grants.Create(context.Background(), state.GrantRequest{AccountID: e.acctID,
		Patterns: patterns, Reason: "team-a owns its zone", Owner: "team-a",
		Expires: e.gw.Clock.Now().Add(d)})
	if err != nil {
		t.Fatalf("creating grants: %v", err)
	}
	return rows
}

// order creates an order for names with c and returns it with its
// authorizations.
func order(t *testing.T, c *acmetest.Client, names ...string) (string, *acmetest.Order, []*acmetest.Authz) {
	t.Helper()
	url, o := c.NewOrder(t, names...)
	var authzs []*acmetest.Authz
	for _, a := range o.Authorizations {
		authzs = append(authzs, c.FetchAuthz(t, a))
	}
	return url, o, authzs
}

// auditEvents returns the data of the audit events of a type, oldest first.
func auditEvents(t *testing.T, gw *acmetest.Gateway, typ string) []store.AuditEvent {
	t.Helper()
	var rows []store.AuditEvent
	if err := gw.Store.DB().Where("type = ?", typ).Order("seq").Find(&rows).Error; err != nil {
		t.Fatalf("reading audit events: %v", err)
	}
	return rows
}

func TestGrantedOrderIsReady(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	rows := e.grant(t, 48*time.Hour, "*.team-a.corp.internal", "db.corp.internal")

	_, o, authzs := order(t, e.c, "api.team-a.corp.internal", "*.team-a.corp.internal",
		"db.corp.internal")
	if o.Status != "ready" {
		t.Fatalf("got order %s, want ready at once", o.Status)
	}
	for _, a := range authzs {
		// The granted authorization lists no challenge: none was validated
		// (see the divergences list).
		if a.Status != "valid" || a.Challenges == nil || len(a.Challenges) != 0 {
			t.Errorf("authorization for %s: got %s with challenges %v, want valid with []",
				a.Identifier.Value, a.Status, a.Challenges)
		}
	}
	if n := e.gw.Validator.Calls(); n != 0 {
		t.Errorf("got %d validations, want none", n)
	}
	granted := auditEvents(t, e.gw, state.EventAuthorizationGranted)
	if len(granted) != 3 || !bytes.Contains([]byte(granted[0].Data), []byte(rows[0].ID)) {
		t.Errorf("got %d authorization.granted events (%v), want 3 naming %s", len(granted),
			granted, rows[0].ID)
	}
	created := auditEvents(t, e.gw, state.EventOrderCreated)
	var data struct {
		Grants map[string]string `json:"grants"`
	}
	if err := json.Unmarshal([]byte(created[len(created)-1].Data), &data); err != nil ||
		data.Grants["db.corp.internal"] != rows[1].ID {
		t.Errorf("order.created data: got %s, want grants naming %s", created[len(created)-1].Data,
			rows[1].ID)
	}

	// The whole flow completes without a challenge.
	issued := e.c.Issue(t, "x.team-a.corp.internal")
	if issued.Cert.DNSNames[0] != "x.team-a.corp.internal" {
		t.Errorf("got certificate for %v, want x.team-a.corp.internal", issued.Cert.DNSNames)
	}
}

func TestNotGrantedOrderIsPending(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	e.grant(t, 48*time.Hour, "*.team-a.corp.internal")
	other := e.gw.NewClient(t, jose.ES256)
	other.Register(t)

	tests := []struct {
		name   string
		c      *acmetest.Client
		wantAz map[string]string // identifier to authorization status
	}{
		{"name outside the grant", e.c, map[string]string{"api.team-b.corp.internal": "pending"}},
		{"the suffix itself", e.c, map[string]string{"team-a.corp.internal": "pending"}},
		{"granted and not granted", e.c, map[string]string{"api.team-a.corp.internal": "valid",
			"x.corp.internal": "pending"}},
		{"another account", other, map[string]string{"api.team-a.corp.internal": "pending"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, o, authzs := order(t, tt.c, slices.Collect(maps.Keys(tt.wantAz))...)
			if o.Status != "pending" {
				t.Errorf("got order %s, want pending", o.Status)
			}
			for _, a := range authzs {
				if want := tt.wantAz[a.Identifier.Value]; a.Status != want {
					t.Errorf("authorization for %s: got %s, want %s", a.Identifier.Value, a.Status,
						want)
				}
				if a.Status == "pending" && len(a.Challenges) == 0 {
					t.Errorf("pending authorization for %s offers no challenge", a.Identifier.Value)
				}
			}
		})
	}
}

func TestRevokedGrantHasNoEffect(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	rows := e.grant(t, 48*time.Hour, "*.team-a.corp.internal")
	readyURL, ready, _ := order(t, e.c, "api.team-a.corp.internal")
	if ready.Status != "ready" {
		t.Fatalf("got order %s before revocation, want ready", ready.Status)
	}

	n, err := e.grants.Revoke(context.Background(), rows[0].ID, "team-a left")
	if err != nil || n != 1 {
		t.Fatalf("Revoke: got %d and %v, want 1 authorization deactivated", n, err)
	}
	// The ready order depended on the grant: it cannot be finalized now.
	if o := e.c.FetchOrder(t, readyURL); o.Status != "invalid" || o.Error == nil {
		t.Errorf("got order %s (error %v) after revocation, want invalid with an error",
			o.Status, o.Error)
	}
	if a := e.c.FetchAuthz(t, ready.Authorizations[0]); a.Status != "deactivated" {
		t.Errorf("got authorization %s after revocation, want deactivated", a.Status)
	}
	_, o, _ := order(t, e.c, "api.team-a.corp.internal")
	if o.Status != "pending" {
		t.Errorf("got new order %s after revocation, want pending", o.Status)
	}
	revoked := auditEvents(t, e.gw, state.EventGrantRevoked)
	if len(revoked) != 1 || revoked[0].Subject != "grant:"+rows[0].ID || revoked[0].Reason != "team-a left" {
		t.Errorf("got grant.revoked events %+v, want one for %s", revoked, rows[0].ID)
	}
	_, err = e.grants.Revoke(context.Background(), rows[0].ID, "")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking again: got %v, want ErrNotFound", err)
	}
}

func TestExpiredGrantHasNoEffect(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	rows := e.grant(t, 2*time.Hour, "db.corp.internal")
	_, o, authzs := order(t, e.c, "db.corp.internal")
	if o.Status != "ready" {
		t.Fatalf("got order %s, want ready", o.Status)
	}
	// The authorization lasts no longer than the grant.
	expires, err := time.Parse(time.RFC3339, authzs[0].Expires)
	if err != nil || !expires.Equal(rows[0].Expires) {
		t.Errorf("got authorization expiry %s, want the grant's %s", authzs[0].Expires,
			rows[0].Expires)
	}

	e.gw.Clock.Add(3 * time.Hour)
	e.c.ForgetNonces()
	_, o, authzs = order(t, e.c, "db.corp.internal")
	if o.Status != "pending" || authzs[0].Status != "pending" {
		t.Errorf("got order %s with authorization %s after expiry, want both pending",
			o.Status, authzs[0].Status)
	}
}

// TestEABKeyGrant grants names to an EAB key: every account bound with the
// key gets them, accounts without it do not.
func TestEABKeyGrant(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	mac := bytes.Repeat([]byte{0x42}, 32)
	err := e.gw.Store.Transact(context.Background(), func(tx *store.Tx) error {
		return tx.CreateEABKey(&store.EABKey{ID: "eab-team-a", MACKey: mac, Reusable: true})
	})
	if err != nil {
		t.Fatalf("storing the EAB key: %v", err)
	}
	_, err = e.grants.Create(context.Background(), state.GrantRequest{EABKeyID: "eab-team-a",
		Patterns: []string{"*.team-a.corp.internal"}, Reason: "team-a's key", Owner: "team-a",
		Expires: e.gw.Clock.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatalf("granting to the EAB key: %v", err)
	}

	for i := range 2 {
		bound := e.gw.NewClient(t, jose.ES256)
		binding := acmetest.SignRaw(t, mac, "HS256",
			mustJSON(t, map[string]any{"alg": "HS256", "kid": "eab-team-a",
				"url": e.gw.URLFor("new-account")}),
			bound.JWKJSON(t))
		r := bound.PostJSON(t, e.gw.URLFor("new-account"), map[string]any{
			"termsOfServiceAgreed": true, "externalAccountBinding": json.RawMessage(binding)})
		r.Want(t, http.StatusCreated)
		bound.KID = r.Location()
		if _, o, _ := order(t, bound, "api.team-a.corp.internal"); o.Status != "ready" {
			t.Errorf("bound account %d: got order %s, want ready", i+1, o.Status)
		}
	}
	// e.c was registered without the key.
	if _, o, _ := order(t, e.c, "api.team-a.corp.internal"); o.Status != "pending" {
		t.Errorf("unbound account: got order %s, want pending", o.Status)
	}
}

func TestGrantRequestChecks(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	later := e.gw.Clock.Now().Add(time.Hour)
	ok := state.GrantRequest{AccountID: e.acctID, Patterns: []string{"a.corp.internal"},
		Reason: "r", Owner: "o", Expires: later}
	tests := []struct {
		name string
		edit func(r *state.GrantRequest)
	}{
		{"neither account nor key", func(r *state.GrantRequest) { r.AccountID = "" }},
		{"both account and key", func(r *state.GrantRequest) { r.EABKeyID = "k" }},
		{"unknown account", func(r *state.GrantRequest) { r.AccountID = "nope" }},
		{"unknown EAB key", func(r *state.GrantRequest) { r.AccountID, r.EABKeyID = "", "nope" }},
		{"no pattern", func(r *state.GrantRequest) { r.Patterns = nil }},
		{"bad pattern", func(r *state.GrantRequest) { r.Patterns = []string{"a..b"} }},
		{"no reason", func(r *state.GrantRequest) { r.Reason = " " }},
		{"no owner", func(r *state.GrantRequest) { r.Owner = "" }},
		{"expired", func(r *state.GrantRequest) { r.Expires = e.gw.Clock.Now() }},
	}
	for _, tt := range tests {
		req := ok
		tt.edit(&req)
		if _, err := e.grants.Create(context.Background(), req); err == nil {
			t.Errorf("%s: got no error, want one", tt.name)
		}
	}
	if got := auditEvents(t, e.gw, state.EventGrantCreated); len(got) != 0 {
		t.Errorf("got %d grant.created events after refusals, want none", len(got))
	}
	rows, err := e.grants.Create(context.Background(), ok)
	if err != nil || len(rows) != 1 {
		t.Fatalf("Create: got %v, %v", rows, err)
	}
	if got := auditEvents(t, e.gw, state.EventGrantCreated); len(got) != 1 ||
		got[0].Subject != "grant:"+rows[0].ID || got[0].Actor != "test" {
		t.Errorf("got grant.created events %+v, want one for %s by test", got, rows[0].ID)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %T: %v", v, err)
	}
	return b
}
