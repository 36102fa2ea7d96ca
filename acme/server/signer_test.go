package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

// TestFinalizeSignerOutage checks that a finalize during a signer outage
// fails fast with 503 and Retry-After, leaves the order ready with no
// certificate and an audit event, and that the same order is finalized
// once the signer is back, without a restart.
//
// SECURITY-CATALOGUE J7: a signer outage fails fast and recovers without a restart.
func TestFinalizeSignerOutage(t *testing.T) {
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	names := []string{"outage.corp.internal"}
	orderURL, o := c.ReadyOrder(t, names...)
	key := acmetest.NewKey(t, jose.ES256)
	csr := acmetest.CSR(t, key, names, nil)

	// 1. The HSM session is lost: finalize answers 503 serverInternal.
	gw.Issuer.SetError(errors.New("pkcs11: CKR_SESSION_HANDLE_INVALID"))
	r := c.Finalize(t, o, csr)
	doc := wantProblem(t, r, http.StatusServiceUnavailable, "serverInternal")
	if strings.Contains(doc.Detail, "CKR_") {
		t.Errorf("got detail %q, want no signer internals", doc.Detail)
	}
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("got Retry-After %q, want a positive number of seconds", ra)
	}
	if got := c.FetchOrder(t, orderURL); got.Status != "ready" || got.Certificate != "" {
		t.Errorf("after the outage got order %q with certificate %q, want ready without one",
			got.Status, got.Certificate)
	}
	certs, err := gw.Store.Read(context.Background()).ListCertificates(store.CertificateFilter{})
	if err != nil {
		t.Fatalf("listing certificates: %v", err)
	}
	if len(certs) != 0 {
		t.Errorf("got %d certificate rows, want none", len(certs))
	}
	ev := lastEvent(t, gw, state.EventIssuanceFailed)
	if ev.Outcome != state.OutcomeFailure || !strings.Contains(ev.Reason, "CKR_SESSION_HANDLE_INVALID") {
		t.Errorf("got audit event %+v, want a failure naming the signer error", ev)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(ev.Data), &data); err != nil || data["serial"] == "" {
		t.Errorf("got audit data %q, want the released serial", ev.Data)
	}

	// 2. The signer is back: the same order is finalized.
	gw.Issuer.SetError(nil)
	r = c.Finalize(t, o, csr).Want(t, http.StatusOK)
	var done acmetest.Order
	r.JSON(t, &done)
	if done.Status != "valid" || done.Certificate == "" {
		t.Fatalf("after recovery got order %q with certificate %q, want valid with one",
			done.Status, done.Certificate)
	}
	c.PostAsGet(t, done.Certificate).Want(t, http.StatusOK)
	if got := gw.Issuer.Calls(); got != 2 {
		t.Errorf("got %d signer calls, want 2 (one failed, one signed)", got)
	}
}

// lastEvent returns the newest audit event of the given type.
func lastEvent(t *testing.T, gw *acmetest.Gateway, typ string) store.AuditEvent {
	t.Helper()
	events, err := gw.Store.AuditEvents(context.Background(), 0, gw.Clock.Now().AddDate(-1, 0, 0), 10000)
	if err != nil {
		t.Fatalf("listing audit events: %v", err)
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Type == typ {
			return events[i]
		}
	}
	t.Fatalf("no %s audit event among %d", typ, len(events))
	return store.AuditEvent{}
}
