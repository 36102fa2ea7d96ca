package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/server"
)

// fromPeer sends a request to the handler as if it came from the TCP peer
// addr, with an optional X-Forwarded-For header.
func fromPeer(t *testing.T, gw *acmetest.Gateway, method, url, addr, forwarded string) *acmetest.Response {
	t.Helper()
	req := gw.NewRequest(t, method, url, "", nil)
	req.RemoteAddr = addr
	if forwarded != "" {
		req.Header.Set("X-Forwarded-For", forwarded)
	}
	return gw.Serve(t, req)
}

// TestRateLimitPerIP checks that the per-IP bucket covers the directory
// and new-nonce, answers rateLimited with a Retry-After that says when a
// token is back, ignores X-Forwarded-For, leaves other addresses alone and
// refills with time.
//
// SECURITY-CATALOGUE J11: overload is refused at once with Retry-After.
func TestRateLimitPerIP(t *testing.T) {
	// One token every 4 seconds, two at most.
	gw := acmetest.New(t, acmetest.Options{
		IPRateLimit: server.RateLimit{RequestsPerSecond: 0.25, Burst: 2},
	})
	dir := gw.URLFor("directory")
	const busy, other = "192.0.2.1:40001", "192.0.2.2:40001"

	fromPeer(t, gw, http.MethodGet, dir, busy, "").Want(t, http.StatusOK)
	fromPeer(t, gw, http.MethodHead, gw.URLFor("new-nonce"), busy, "").Want(t, http.StatusOK)

	r := fromPeer(t, gw, http.MethodGet, dir, busy, "")
	wantProblem(t, r, http.StatusTooManyRequests, "rateLimited")
	if got := r.Header.Get("Retry-After"); got != "4" {
		t.Errorf("got Retry-After %q, want 4 (seconds to the next token)", got)
	}
	r = fromPeer(t, gw, http.MethodHead, gw.URLFor("new-nonce"), busy, "")
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("HEAD new-nonce over the limit: got %s with Retry-After %q, want 429 with one",
			r, r.Header.Get("Retry-After"))
	}

	// A forwarded-for header does not move the request to another bucket.
	r = fromPeer(t, gw, http.MethodGet, dir, busy, "198.51.100.7")
	wantProblem(t, r, http.StatusTooManyRequests, "rateLimited")

	// Another peer has its own bucket.
	fromPeer(t, gw, http.MethodGet, dir, other, "").Want(t, http.StatusOK)

	// Part of the wait leaves Retry-After at the rest, at least one second.
	gw.Clock.Add(3500 * time.Millisecond)
	r = fromPeer(t, gw, http.MethodGet, dir, busy, "")
	if got := r.Header.Get("Retry-After"); r.Status != http.StatusTooManyRequests || got != "1" {
		t.Errorf("after 3.5s got %s with Retry-After %q, want 429 with 1", r, got)
	}
	gw.Clock.Add(time.Second)
	fromPeer(t, gw, http.MethodGet, dir, busy, "").Want(t, http.StatusOK)
}

// TestRateLimitPerAccount checks that an account over its limit gets
// rateLimited with Retry-After and a usable nonce, while another account
// on the same address is unaffected.
func TestRateLimitPerAccount(t *testing.T) {
	// One token every 2 seconds, two at most.
	gw := acmetest.New(t, acmetest.Options{
		AccountRateLimit: server.RateLimit{RequestsPerSecond: 0.5, Burst: 2},
	})
	a := gw.NewClient(t, jose.ES256)
	a.Register(t)
	b := gw.NewClient(t, jose.ES256)
	b.Register(t)

	a.PostAsGet(t, a.KID).Want(t, http.StatusOK)
	a.PostAsGet(t, a.KID).Want(t, http.StatusOK)
	r := a.PostAsGet(t, a.KID)
	wantProblem(t, r, http.StatusTooManyRequests, "rateLimited")
	if got := r.Header.Get("Retry-After"); got != "2" {
		t.Errorf("got Retry-After %q, want 2", got)
	}

	// The other account shares the address but not the bucket.
	b.PostAsGet(t, b.KID).Want(t, http.StatusOK)
	b.PostAsGet(t, b.KID).Want(t, http.StatusOK)

	// Once a token is back, the nonce kept from the refusal works.
	gw.Clock.Add(2 * time.Second)
	a.PostAsGet(t, a.KID).Want(t, http.StatusOK)
}

// TestRateLimitOff checks that zero limits refuse nothing.
func TestRateLimitOff(t *testing.T) {
	gw := acmetest.New(t, acmetest.Options{})
	for range 50 {
		fromPeer(t, gw, http.MethodGet, gw.URLFor("directory"), "192.0.2.1:1", "").
			Want(t, http.StatusOK)
	}
}
