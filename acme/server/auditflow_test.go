package server_test

import (
	"encoding/base64"
	"net/http"
	"slices"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/store"
)

// auditTypes returns the types of the audit events appended since seq.
func auditTypes(t *testing.T, gw *acmetest.Gateway, after int64) ([]string, int64) {
	t.Helper()
	var rows []store.AuditEvent
	if err := gw.Store.DB().Where("seq > ?", after).Order("seq").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	types := make([]string, len(rows))
	for i, r := range rows {
		types[i] = r.Type
		after = r.Seq
	}
	return types, after
}

// TestAuditEventsPerFlow checks that each state change of the ACME flows
// appends exactly the audit events it should, in order, in the same
// transaction as the change (SECURITY-CATALOGUE J9), and that the chain
// verifies afterwards.
func TestAuditEventsPerFlow(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	_, seq := auditTypes(t, gw, 0)
	c := gw.NewClient(t, jose.ES256)

	steps := []struct {
		name string
		run  func(t *testing.T) any
		want []string
	}{
		{"new account", func(t *testing.T) any { c.Register(t); return nil },
			[]string{"account.created"}},
		{"new order", func(t *testing.T) any { u, _ := c.NewOrder(t, "audit.corp.internal"); return u },
			[]string{"order.created"}},
	}
	var orderURL string
	for _, s := range steps {
		v := s.run(t)
		if u, ok := v.(string); ok {
			orderURL = u
		}
		got, next := auditTypes(t, gw, seq)
		seq = next
		if !slices.Equal(got, s.want) {
			t.Errorf("%s: got audit events %v, want %v", s.name, got, s.want)
		}
	}

	// Validation: the challenge is claimed, then found valid.
	o := c.Validate(t, orderURL)
	got, next := auditTypes(t, gw, seq)
	seq = next
	if want := []string{"challenge.started", "challenge.valid"}; !slices.Equal(got, want) {
		t.Errorf("validation: got audit events %v, want %v", got, want)
	}

	// Finalize: the intent with the reserved serial, then the issuance.
	key := acmetest.NewKey(t, jose.ES256)
	r := c.Finalize(t, o, acmetest.CSR(t, key, []string{"audit.corp.internal"}, nil)).Want(t, http.StatusOK)
	var done acmetest.Order
	r.JSON(t, &done)
	got, seq = auditTypes(t, gw, seq)
	if want := []string{"certificate.requested", "certificate.issued"}; !slices.Equal(got, want) {
		t.Errorf("finalize: got audit events %v, want %v", got, want)
	}

	// Revocation by the account.
	pemChain := c.PostAsGet(t, done.Certificate).Want(t, http.StatusOK).Body
	der := parseChain(t, pemChain)[0].Raw
	c.PostJSON(t, gw.URLFor("revoke-cert"), map[string]any{
		"certificate": base64.RawURLEncoding.EncodeToString(der), "reason": 4,
	}).Want(t, http.StatusOK)
	got, seq = auditTypes(t, gw, seq)
	if want := []string{"certificate.revoked"}; !slices.Equal(got, want) {
		t.Errorf("revocation: got audit events %v, want %v", got, want)
	}

	// Deactivation of the account.
	c.PostJSON(t, c.KID, map[string]string{"status": "deactivated"}).Want(t, http.StatusOK)
	got, _ = auditTypes(t, gw, seq)
	if want := []string{"account.deactivated"}; !slices.Equal(got, want) {
		t.Errorf("deactivation: got audit events %v, want %v", got, want)
	}

	if brk, n, err := gw.Store.VerifyAudit(t.Context()); err != nil || brk != nil {
		t.Fatalf("audit chain after the flows: break %+v after %d events, err %v", brk, n, err)
	}
}
