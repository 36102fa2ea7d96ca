package server_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
)

// TestClockJumps covers SECURITY-CATALOGUE J8 (clock skew and time jumps)
// with the gateway's fake clock: a jump back does not let a nonce be used
// twice, a jump forward expires nonces and orders, and issued
// certificates are backdated for clients whose clocks run a little
// behind.
func TestClockJumps(t *testing.T) {
	t.Parallel()

	t.Run("J8 nonce redeemed once after the clock jumps back", func(t *testing.T) {
		t.Parallel()
		gw := acmetest.New(t, acmetest.Options{NonceLifetime: time.Hour})
		c := gw.NewClient(t, jose.ES256)
		c.Register(t)

		n := gw.FreshNonce(t)
		gw.Clock.Add(-time.Hour)
		url := gw.URLFor("new-order")
		body := c.SignWithNonce(t, url, n, []byte(orderPayload))
		c.Send(t, url, body).Want(t, http.StatusCreated)
		before := gw.Snapshot(t)

		// The same nonce again, still an hour in the past: refused.
		r := c.Send(t, url, bytes.Clone(body))
		wantProblem(t, r, http.StatusBadRequest, "badNonce")
		if r.Nonce() == n {
			t.Errorf("got the redeemed nonce back, want a fresh one")
		}
		// Back to the present: still refused, never accepted twice.
		gw.Clock.Add(time.Hour)
		wantProblem(t, c.Send(t, url, bytes.Clone(body)), http.StatusBadRequest, "badNonce")
		if diff := before.Diff(gw.Snapshot(t)); diff != "" {
			t.Errorf("a replay after the clock jumps changed stored state: %s", diff)
		}
		if got := gw.Snapshot(t).Counts["orders"]; got != 1 {
			t.Errorf("got %d orders, want exactly 1", got)
		}
	})

	t.Run("J8 nonce refused after the clock jumps past its lifetime", func(t *testing.T) {
		t.Parallel()
		gw := acmetest.New(t, acmetest.Options{NonceLifetime: time.Hour})
		c := gw.NewClient(t, jose.ES256)
		c.Register(t)

		n := gw.FreshNonce(t)
		gw.Clock.Add(time.Hour + time.Second)
		before := gw.Snapshot(t)
		url := gw.URLFor("new-order")
		r := c.Send(t, url, c.SignWithNonce(t, url, n, []byte(orderPayload)))
		wantProblem(t, r, http.StatusBadRequest, "badNonce")
		if diff := before.Diff(gw.Snapshot(t)); diff != "" {
			t.Errorf("the refused request changed stored state: %s", diff)
		}
		// The fresh nonce of the refusal works.
		c.ForgetNonces()
		retry := c.SignWithNonce(t, url, r.Nonce(), []byte(orderPayload))
		c.Send(t, url, retry).Want(t, http.StatusCreated)
	})

	t.Run("J8 order invalid after the clock jumps past its expiry", func(t *testing.T) {
		t.Parallel()
		gw := acmetest.New(t, acmetest.Options{})
		c := gw.NewClient(t, jose.ES256)
		c.Register(t)

		names := []string{"skew.corp.internal"}
		url, o := c.ReadyOrder(t, names...)
		expires, err := time.Parse(time.RFC3339, o.Expires)
		if err != nil {
			t.Fatalf("order expires %q: %v", o.Expires, err)
		}
		if !expires.After(gw.Clock.Now()) {
			t.Fatalf("order expires %v, not after now %v", expires, gw.Clock.Now())
		}
		gw.Clock.Set(expires.Add(time.Second))
		// Nonces kept from earlier answers may be past their lifetime too.
		c.ForgetNonces()

		if got := c.FetchOrder(t, url); got.Status != "invalid" {
			t.Errorf("order after its expiry: got status %q, want invalid", got.Status)
		}
		before := gw.Snapshot(t)
		signatures := gw.Issuer.Calls()
		r := c.Finalize(t, o, acmetest.CSR(t, acmetest.NewKey(t, jose.ES256), names, nil))
		wantProblem(t, r, http.StatusForbidden, "orderNotReady")
		if n := gw.Issuer.Calls(); n != signatures {
			t.Errorf("got %d signer calls for an expired order, want none", n-signatures)
		}
		if diff := before.Diff(gw.Snapshot(t)); diff != "" {
			t.Errorf("the refused finalize changed stored state: %s", diff)
		}
	})

	t.Run("J8 notBefore backdated for clients a minute behind", func(t *testing.T) {
		t.Parallel()
		gw := acmetest.New(t, acmetest.Options{})
		c := gw.NewClient(t, jose.ES256)
		c.Register(t)

		issuedAt := gw.Clock.Now()
		iss := c.Issue(t, "backdate.corp.internal")
		if latest := issuedAt.Add(-time.Minute + time.Second); iss.Cert.NotBefore.After(latest) {
			t.Errorf("got notBefore %v for issuance at %v, want at most %v (backdated a minute)",
				iss.Cert.NotBefore, issuedAt, latest)
		}
		// A client whose clock runs a minute behind accepts it.
		if behind := issuedAt.Add(-time.Minute); behind.Before(iss.Cert.NotBefore) ||
			behind.After(iss.Cert.NotAfter) {
			t.Errorf("a client at %v (a minute behind) would reject [%v, %v]",
				behind, iss.Cert.NotBefore, iss.Cert.NotAfter)
		}
	})
}
