package server_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/nonce"
)

// TestNonceRefusals covers catalogue row B4: a request whose nonce is
// missing, malformed, forged or foreign is refused with badNonce, and the
// answer carries a fresh nonce to retry with.
func TestNonceRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	other := acmetest.New(t, acmetest.Options{})

	nonceHeader := func(n any) sender {
		edit := map[string]any{"nonce": n}
		return withHeader(acctA, at("new-order"), orderPayload, edit)
	}
	cases := []refusal{
		{name: "B4 nonce missing", send: nonceHeader(nil), status: 400, typ: "badNonce"},
		{name: "B4 nonce empty", send: nonceHeader(""), status: 400, typ: "badNonce"},
		{name: "B4 nonce not a string", send: nonceHeader(12345), status: 400, typ: "badNonce"},
		{name: "B4 nonce not base64url", send: nonceHeader(strings.Repeat("!", nonce.EncodedLen)),
			status: 400, typ: "badNonce", detail: "malformed"},
		{name: "B4 nonce too short", send: nonceHeader("AAAA"), status: 400, typ: "badNonce",
			detail: "malformed"},
		{name: "B4 nonce too long", send: func(t *testing.T, e *env) *acmetest.Response {
			return nonceHeader(e.gw.FreshNonce(t)+"AA")(t, e)
		}, status: 400, typ: "badNonce", detail: "malformed"},
		{name: "B4 nonce with padding", send: func(t *testing.T, e *env) *acmetest.Response {
			return nonceHeader(e.gw.FreshNonce(t)+"=")(t, e)
		}, status: 400, typ: "badNonce"},
		{name: "B4 forged nonce of the right length",
			send:   nonceHeader(strings.Repeat("A", nonce.EncodedLen)),
			status: 400, typ: "badNonce", detail: "not issued by this server"},
		{name: "B4 nonce with one character changed",
			send: func(t *testing.T, e *env) *acmetest.Response {
				n := []byte(e.gw.FreshNonce(t))
				if n[len(n)/2] == 'A' {
					n[len(n)/2] = 'B'
				} else {
					n[len(n)/2] = 'A'
				}
				return nonceHeader(string(n))(t, e)
			}, status: 400, typ: "badNonce"},
		{name: "B2 nonce issued by another CA's gateway",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return nonceHeader(other.FreshNonce(t))(t, e)
			}, status: 400, typ: "badNonce", detail: "not issued by this server"},
	}
	runRefusals(t, e, cases)
}

// TestNonceReplay covers catalogue row B1: the same request sent twice,
// byte for byte, creates one order; the second answer is badNonce with a
// fresh nonce.
func TestNonceReplay(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)

	used := c.Nonce(t)
	body := c.SignWithNonce(t, gw.URLFor("new-order"), used, []byte(orderPayload))
	c.Send(t, gw.URLFor("new-order"), body).Want(t, http.StatusCreated)
	before := gw.Snapshot(t)

	r := c.Send(t, gw.URLFor("new-order"), bytes.Clone(body))
	wantProblem(t, r, http.StatusBadRequest, "badNonce")
	if r.Nonce() == used {
		t.Errorf("got the replayed nonce back, want a fresh one")
	}
	if diff := before.Diff(gw.Snapshot(t)); diff != "" {
		t.Errorf("the replay changed stored state: %s", diff)
	}
	if n := gw.Snapshot(t).Counts["orders"]; n != 1 {
		t.Errorf("got %d orders, want exactly 1", n)
	}

	// The fresh nonce from the refusal works.
	retry := c.SignWithNonce(t, gw.URLFor("new-order"), r.Nonce(), []byte(orderPayload))
	c.Send(t, gw.URLFor("new-order"), retry).Want(t, http.StatusCreated)
}

// TestNonceExpiry covers the expiry half of B4 with the fake clock: a nonce
// is good until its lifetime ends and refused afterwards.
func TestNonceExpiry(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{NonceLifetime: time.Hour})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)

	young, old := gw.FreshNonce(t), gw.FreshNonce(t)
	gw.Clock.Add(59 * time.Minute)
	body := c.SignWithNonce(t, gw.URLFor("new-order"), young, []byte(orderPayload))
	c.Send(t, gw.URLFor("new-order"), body).Want(t, http.StatusCreated)

	gw.Clock.Add(time.Minute + time.Second)
	before := gw.Snapshot(t)
	body = c.SignWithNonce(t, gw.URLFor("new-order"), old, []byte(orderPayload))
	doc := wantProblem(t, c.Send(t, gw.URLFor("new-order"), body), http.StatusBadRequest, "badNonce")
	if !strings.Contains(doc.Detail, "expired") {
		t.Errorf("got detail %q, want it to say the nonce expired", doc.Detail)
	}
	if diff := before.Diff(gw.Snapshot(t)); diff != "" {
		t.Errorf("the refused request changed stored state: %s", diff)
	}
}

// TestNonceNotBurnedByBadSignature covers catalogue row B3: a forged request
// carrying a valid nonce is refused before the nonce is redeemed, so the
// owner can still use it.
func TestNonceNotBurnedByBadSignature(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	victim := gw.NewClient(t, jose.ES256)
	victim.Register(t)
	attacker := gw.NewClient(t, jose.ES256)

	n := gw.FreshNonce(t)
	url := gw.URLFor("new-order")
	hdr := map[string]any{"alg": "ES256", "kid": victim.KID, "nonce": n, "url": url}
	forged := attacker.SignHeader(t, hdr, []byte(orderPayload))
	wantProblem(t, victim.Send(t, url, forged), http.StatusBadRequest, "malformed")

	good := victim.SignWithNonce(t, url, n, []byte(orderPayload))
	victim.Send(t, url, good).Want(t, http.StatusCreated)
}

// TestNonceConcurrentRedemption covers catalogue row B2 on one replica: 50
// requests sharing one nonce, sent at once, create exactly one order.
func TestNonceConcurrentRedemption(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)

	const n = 50
	shared := gw.FreshNonce(t)
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = c.SignWithNonce(t, gw.URLFor("new-order"), shared, []byte(orderPayload))
	}
	statuses := make([]int, n)
	types := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range bodies {
		wg.Go(func() {
			<-start
			r := gw.Do(t, gw.NewRequest(t, http.MethodPost, gw.URLFor("new-order"),
				acmetest.ContentType, bodies[i]))
			statuses[i] = r.Status
			if r.Status != http.StatusCreated {
				types[i] = r.Problem(t).Type
			}
		})
	}
	close(start)
	wg.Wait()

	created := 0
	for i, s := range statuses {
		switch {
		case s == http.StatusCreated:
			created++
		case s == http.StatusBadRequest && types[i] == urn("badNonce"):
		default:
			t.Errorf("request %d: got status %d type %q, want 201 or 400 badNonce", i, s, types[i])
		}
	}
	if created != 1 {
		t.Errorf("got %d requests accepted with one nonce, want exactly 1", created)
	}
	if got := gw.Snapshot(t).Counts["orders"]; got != 1 {
		t.Errorf("got %d orders, want exactly 1", got)
	}
}
