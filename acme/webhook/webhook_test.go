package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/acme/webhook"
	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

// epoch is where every fake clock starts.
var epoch = time.Date(2026, time.June, 1, 12, 0, 0, 0, time.UTC)

var secret = []byte("0123456789abcdef-shared-secret")

// delivery is one request a receiver got.
type delivery struct {
	header  http.Header
	body    []byte
	payload webhook.Payload
}

// hang, as a status of a receiver, makes it answer only after the
// sender's timeout.
const hang = -1

// receiver is an httptest endpoint that records deliveries and answers
// with the statuses of fail first, then 200.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu   sync.Mutex
	got  []delivery
	fail []int
}

func newReceiver(t *testing.T, fail ...int) *receiver {
	t.Helper()
	r := &receiver{t: t, fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	d := delivery{header: req.Header.Clone(), body: body}
	if err := json.Unmarshal(body, &d.payload); err != nil {
		r.t.Errorf("delivery body is not a payload: %v: %s", err, body)
	}
	r.mu.Lock()
	r.got = append(r.got, d)
	status := http.StatusNoContent
	if len(r.fail) > 0 {
		status, r.fail = r.fail[0], r.fail[1:]
	}
	r.mu.Unlock()
	if status == hang {
		// Answer only when the sender gives up (or after a bound).
		select {
		case <-req.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	}
	w.WriteHeader(status)
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// types lists the event types received, in order.
func (r *receiver) types() []string {
	var out []string
	for _, d := range r.deliveries() {
		out = append(out, d.payload.Type)
	}
	return out
}

// env is a store with a fake clock.
type env struct {
	st    *store.Store
	clock *storetest.Clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := storetest.NewClock(epoch)
	return &env{st: storetest.OpenWith(t, store.SQLite, store.Options{Now: clock.Now}),
		clock: clock}
}

// dispatcher returns a dispatcher of the store for the endpoints, with
// fast retries.
func (e *env) dispatcher(t *testing.T, holder string, opts webhook.Options,
	endpoints ...webhook.Endpoint) *webhook.Dispatcher {
	t.Helper()
	opts.Store, opts.Holder, opts.Endpoints, opts.Clock = e.st, holder, endpoints, e.clock
	if opts.FirstRetry == 0 {
		opts.FirstRetry = 5 * time.Millisecond
	}
	d, err := webhook.New(opts)
	if err != nil {
		t.Fatalf("webhook.New: %v", err)
	}
	return d
}

func runOnce(t *testing.T, d *webhook.Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.RunOnce(ctx); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
}

func endpoint(r *receiver, events ...string) webhook.Endpoint {
	return webhook.Endpoint{URL: r.srv.URL + "/hook", Secret: secret, Events: events,
		Timeout: 5 * time.Second}
}

// cert describes a certificate to store with its issuance event.
type cert struct {
	serial, account, names, replaces string
	lifetime                         time.Duration
}

// issue stores c as issued now, with the audit event the state machine
// writes, and moves the clock on a second so creation times differ.
func (e *env) issue(t *testing.T, c cert) {
	t.Helper()
	now := e.clock.Now()
	if c.lifetime == 0 {
		c.lifetime = 24 * time.Hour
	}
	e.transact(t, func(tx *store.Tx) error {
		err := tx.CreateCertificate(&store.Certificate{Serial: c.serial, OrderID: "o-" + c.serial,
			AccountID: c.account, DER: []byte{0x30}, Names: c.names, Profile: "default",
			NotBefore: now, NotAfter: now.Add(c.lifetime), Status: "valid", Replaces: c.replaces})
		if err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: state.EventCertificateIssued, Actor: c.account,
			Subject: "certificate:" + c.serial, Outcome: state.OutcomeSuccess,
			Data: map[string]any{"order_id": "o-" + c.serial,
				"names": strings.Split(c.names, ","), "profile": "default",
				"not_before": now, "not_after": now.Add(c.lifetime), "replaces": c.replaces}})
	})
	e.clock.Add(time.Second)
}

// audit appends an event of the given type.
func (e *env) audit(t *testing.T, ev store.Event) {
	t.Helper()
	e.transact(t, func(tx *store.Tx) error { return tx.Audit(ev) })
}

func (e *env) transact(t *testing.T, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := e.st.Transact(context.Background(), fn); err != nil {
		t.Fatalf("transaction: %v", err)
	}
}

func TestDeliversSignedEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	all, revokedOnly := newReceiver(t), newReceiver(t)
	d := e.dispatcher(t, "replica-a", webhook.Options{}, endpoint(all),
		endpoint(revokedOnly, webhook.EventCertificateRevoked))
	runOnce(t, d) // starts both cursors at the (empty) head

	e.issue(t, cert{serial: "0a", account: "acct1", names: "a.corp.test"})
	e.issue(t, cert{serial: "0b", account: "acct1", names: "a.corp.test", replaces: "aki.Cw"})
	e.audit(t, store.Event{Type: state.EventOrderCreated, Actor: "acct1", Subject: "order:o1",
		Outcome: state.OutcomeSuccess})
	e.transact(t, func(tx *store.Tx) error {
		if err := tx.RevokeCertificate("0a", 4, e.clock.Now()); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: state.EventCertificateRevoked, Actor: "operator:alice",
			Subject: "certificate:0a", Outcome: state.OutcomeSuccess,
			Data: map[string]any{"reason": 4}})
	})
	e.audit(t, store.Event{Type: state.EventChallengeInvalid, Actor: "acct1",
		Subject: "challenge:ch1", Outcome: state.OutcomeFailure, Reason: "connection refused",
		Data: map[string]any{"type": "http-01", "identifier": "b.corp.test",
			"authz_id": "az1", "problem": "connection"}})
	runOnce(t, d)

	want := []string{webhook.EventCertificateIssued, webhook.EventCertificateRenewed,
		webhook.EventCertificateRevoked, webhook.EventChallengeInvalid}
	if got := all.types(); !slices.Equal(got, want) {
		t.Fatalf("all-events endpoint: got %v, want %v", got, want)
	}
	if got := revokedOnly.types(); !slices.Equal(got, want[2:3]) {
		t.Fatalf("revoked-only endpoint: got %v, want %v", got, want[2:3])
	}
	for _, dl := range all.deliveries() {
		if !webhook.Verify(secret, dl.body, dl.header.Get(webhook.HeaderSignature)) {
			t.Errorf("%s: signature %q does not verify", dl.payload.Type,
				dl.header.Get(webhook.HeaderSignature))
		}
		if got := dl.header.Get(webhook.HeaderEvent); got != dl.payload.Type {
			t.Errorf("event header: got %q, want %q", got, dl.payload.Type)
		}
		if got := dl.header.Get(webhook.HeaderEventID); got == "" || got != dl.payload.ID {
			t.Errorf("event ID header: got %q, want the payload ID %q", got, dl.payload.ID)
		}
	}

	got := all.deliveries()
	renewed := got[1].payload.Certificate
	if renewed == nil || renewed.Serial != "0b" || renewed.Replaces != "aki.Cw" ||
		!slices.Equal(renewed.Names, []string{"a.corp.test"}) || renewed.AccountID != "acct1" {
		t.Errorf("renewed certificate: got %+v, want serial 0b replacing aki.Cw", renewed)
	}
	revoked := got[2].payload
	if revoked.Actor != "operator:alice" || revoked.Certificate == nil ||
		revoked.Certificate.RevocationReason == nil || *revoked.Certificate.RevocationReason != 4 {
		t.Errorf("revocation: got %+v, want actor operator:alice with reason 4", revoked)
	}
	ch := got[3].payload.Challenge
	if ch == nil || ch.ID != "ch1" || ch.Identifier != "b.corp.test" || ch.Problem != "connection" ||
		ch.Detail != "connection refused" {
		t.Errorf("challenge: got %+v, want ch1 for b.corp.test failing with connection", ch)
	}

	// A further round finds nothing new.
	runOnce(t, d)
	if n := len(all.deliveries()); n != len(want) {
		t.Errorf("after a second round: got %d deliveries, want %d", n, len(want))
	}
}

func TestRetriesAfterServerError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// fail are the statuses answered before 204.
		fail         []int
		maxAttempts  int
		wantAttempts int
	}{
		{"one 500", []int{http.StatusInternalServerError}, 3, 2},
		{"two failures", []int{http.StatusBadGateway, http.StatusTooManyRequests}, 3, 3},
		{"timeout", []int{hang}, 3, 2},
		{"redirect", []int{http.StatusFound}, 3, 2},
		{"gives up", []int{500, 500, 500}, 3, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			r := newReceiver(t, tc.fail...)
			ep := endpoint(r)
			ep.Timeout = 200 * time.Millisecond
			d := e.dispatcher(t, "replica-a", webhook.Options{MaxAttempts: tc.maxAttempts}, ep)
			runOnce(t, d)
			e.issue(t, cert{serial: "01", account: "acct1", names: "a.corp.test"})
			runOnce(t, d)

			got := r.deliveries()
			if len(got) != tc.wantAttempts {
				t.Fatalf("got %d attempts, want %d", len(got), tc.wantAttempts)
			}
			for i, dl := range got {
				if a := dl.header.Get(webhook.HeaderAttempt); a != string(rune('1'+i)) {
					t.Errorf("attempt %d: got attempt header %q", i+1, a)
				}
				if dl.payload.ID != got[0].payload.ID || string(dl.body) != string(got[0].body) {
					t.Errorf("attempt %d: got event %s, want the same event and body as the "+
						"first attempt (%s)", i+1, dl.payload.ID, got[0].payload.ID)
				}
			}

			// Delivered or dropped, the event is done with: the next round
			// sends only the next event.
			e.issue(t, cert{serial: "02", account: "acct2", names: "b.corp.test"})
			runOnce(t, d)
			after := r.deliveries()[len(got):]
			if len(after) != 1 || after[0].payload.Certificate.Serial != "02" {
				t.Errorf("next round: got %d deliveries, want one for serial 02", len(after))
			}
		})
	}
}

func TestCursorSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t)
	first := e.dispatcher(t, "replica-a", webhook.Options{}, endpoint(r))
	runOnce(t, first)
	e.issue(t, cert{serial: "01", account: "acct1", names: "a.corp.test"})
	runOnce(t, first)

	// The process stops; events arrive meanwhile; a new process (another
	// lease holder) starts once the old lease has lapsed.
	e.issue(t, cert{serial: "02", account: "acct1", names: "b.corp.test"})
	e.clock.Add(time.Minute)
	second := e.dispatcher(t, "replica-b", webhook.Options{}, endpoint(r))
	runOnce(t, second)

	var serials []string
	for _, dl := range r.deliveries() {
		serials = append(serials, dl.payload.Certificate.Serial)
	}
	if !slices.Equal(serials, []string{"01", "02"}) {
		t.Fatalf("got deliveries for %v, want 01 then 02, each once", serials)
	}
}

func TestOnlyTheLeaseHolderDelivers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t)
	holder := e.dispatcher(t, "replica-a", webhook.Options{}, endpoint(r))
	other := e.dispatcher(t, "replica-b", webhook.Options{}, endpoint(r))
	runOnce(t, holder)
	e.issue(t, cert{serial: "01", account: "acct1", names: "a.corp.test"})

	runOnce(t, other)
	if n := len(r.deliveries()); n != 0 {
		t.Fatalf("replica without the lease: got %d deliveries, want 0", n)
	}
	runOnce(t, holder)
	if n := len(r.deliveries()); n != 1 {
		t.Fatalf("lease holder: got %d deliveries, want 1", n)
	}
}

func TestExpiringWithoutRenewalOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t)
	d := e.dispatcher(t, "replica-a", webhook.Options{ExpiringWithin: 4 * time.Hour,
		ScanInterval: time.Minute}, endpoint(r, webhook.EventCertificateExpiring))
	runOnce(t, d)

	e.issue(t, cert{serial: "01", account: "acct1", names: "lapsing.corp.test"})
	e.issue(t, cert{serial: "02", account: "acct1", names: "renewed.corp.test"})
	e.issue(t, cert{serial: "03", account: "acct2", names: "long.corp.test",
		lifetime: 30 * 24 * time.Hour})
	e.issue(t, cert{serial: "04", account: "acct1", names: "revoked.corp.test"})
	e.transact(t, func(tx *store.Tx) error { return tx.RevokeCertificate("04", 5, e.clock.Now()) })
	e.clock.Add(12 * time.Hour)
	e.issue(t, cert{serial: "05", account: "acct1", names: "renewed.corp.test"})
	// Another account's certificate for the same name is no renewal.
	e.issue(t, cert{serial: "06", account: "acct9", names: "lapsing.corp.test"})

	// 22 hours after the first issuance, 01 to 04 expire within 4 hours.
	e.clock.Add(10 * time.Hour)
	runOnce(t, d)
	got := r.deliveries()
	if len(got) != 1 || got[0].payload.Certificate.Serial != "01" {
		t.Fatalf("got %v, want one certificate.expiring for serial 01", r.types())
	}
	p := got[0].payload
	if p.Actor != "system" || p.Certificate.AccountID != "acct1" ||
		!slices.Equal(p.Certificate.Names, []string{"lapsing.corp.test"}) {
		t.Errorf("got payload %+v, want actor system, account acct1, names lapsing.corp.test", p)
	}

	// Later scans report it no more.
	for range 3 {
		e.clock.Add(time.Minute)
		runOnce(t, d)
	}
	if n := len(r.deliveries()); n != 1 {
		t.Errorf("after more scans: got %d deliveries, want still 1", n)
	}
}

func TestSignAndVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"1-ab"}`)
	sig := webhook.Sign(secret, body)
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"valid", secret, body, sig, true},
		{"other body", secret, []byte(`{"id":"2-ab"}`), sig, false},
		{"other secret", []byte("another secret"), body, sig, false},
		{"no prefix", secret, body, strings.TrimPrefix(sig, "sha256="), false},
		{"not hex", secret, body, "sha256=zz", false},
		{"empty", secret, body, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := webhook.Verify(tc.secret, tc.body, tc.header); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewRefusesBadEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		ep   webhook.Endpoint
	}{
		{"relative URL", webhook.Endpoint{URL: "/hook", Secret: secret}},
		{"ftp URL", webhook.Endpoint{URL: "ftp://hooks.corp.test/", Secret: secret}},
		{"no secret", webhook.Endpoint{URL: "https://hooks.corp.test/"}},
		{"unknown event", webhook.Endpoint{URL: "https://hooks.corp.test/", Secret: secret,
			Events: []string{"certificate.exploded"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := webhook.New(webhook.Options{Store: e.st, Holder: "h",
				Endpoints: []webhook.Endpoint{tc.ep}})
			if err == nil {
				t.Fatal("got no error, want the endpoint refused")
			}
		})
	}
}
