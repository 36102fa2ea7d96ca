package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/acmegate/acmegate/acme/acmetest"
)

// TestURLRefusals covers catalogue row A9: the url header must be exactly
// the URL the request reached, built from the configured external URL and
// never from Host or X-Forwarded-* headers (RFC 8555, Section 6.4).
func TestURLRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})

	// signedFor signs a new-order payload for the url header u and posts it
	// to the resource path, after edit changes the request.
	signedFor := func(u func(e *env) string, path string,
		edit func(*http.Request)) sender {
		return func(t *testing.T, e *env) *acmetest.Response {
			body := e.a.Sign(t, u(e), []byte(orderPayload))
			req := e.gw.NewRequest(t, http.MethodPost, e.gw.URLFor(path), acmetest.ContentType, body)
			if edit != nil {
				edit(req)
			}
			return e.gw.Do(t, req)
		}
	}
	literal := func(s string) func(*env) string { return func(*env) string { return s } }
	evilHost := func(e *env) string { return "http://evil.example/acme/new-order" }

	cases := []refusal{
		{name: "A9 new-order request posted to revoke-cert",
			send:   signedFor(at("new-order"), "revoke-cert", nil),
			status: 400, typ: "malformed", detail: "does not match"},
		{name: "A9 new-order request posted to new-account",
			send:   signedFor(at("new-order"), "new-account", nil),
			status: 400, typ: "malformed", detail: "does not match"},
		{name: "A9 account request replayed to key-change",
			send: func(t *testing.T, e *env) *acmetest.Response {
				body := e.a.Sign(t, e.a.KID, []byte(`{"contact":[]}`))
				return e.a.Send(t, e.gw.URLFor("key-change"), body)
			}, status: 400, typ: "malformed", detail: "does not match"},
		{name: "A9 url missing", send: withHeader(acctA, at("new-order"), orderPayload,
			map[string]any{"url": nil}), status: 400, typ: "malformed", detail: "url"},
		{name: "A9 url empty", send: withHeader(acctA, at("new-order"), orderPayload,
			map[string]any{"url": ""}), status: 400, typ: "malformed"},
		{name: "A9 url not a string", send: withHeader(acctA, at("new-order"), orderPayload,
			map[string]any{"url": 1}), status: 400, typ: "malformed"},
		{name: "A9 trailing slash", send: signedFor(func(e *env) string {
			return e.gw.URLFor("new-order") + "/"
		}, "new-order", nil), status: 400, typ: "malformed"},
		{name: "A9 another host", send: signedFor(evilHost, "new-order", nil),
			status: 400, typ: "malformed"},
		{name: "A9 https instead of the configured http", send: signedFor(func(e *env) string {
			return strings.Replace(e.gw.URLFor("new-order"), "http://", "https://", 1)
		}, "new-order", nil), status: 400, typ: "malformed"},
		{name: "A9 upper-case scheme", send: signedFor(func(e *env) string {
			return strings.Replace(e.gw.URLFor("new-order"), "http://", "HTTP://", 1)
		}, "new-order", nil), status: 400, typ: "malformed"},
		{name: "A9 relative url", send: signedFor(literal("/acme/new-order"), "new-order", nil),
			status: 400, typ: "malformed"},
		{name: "A9 query only in the url header", send: signedFor(func(e *env) string {
			return e.gw.URLFor("new-order") + "?x=1"
		}, "new-order", nil), status: 400, typ: "malformed"},
		{name: "A9 query only in the request", send: signedFor(at("new-order"), "new-order?x=1", nil),
			status: 400, typ: "malformed"},
		{name: "A9 different query", send: func(t *testing.T, e *env) *acmetest.Response {
			body := e.a.Sign(t, e.a.KID+"/orders?cursor=a", nil)
			return e.a.Send(t, e.a.KID+"/orders?cursor=b", body)
		}, status: 400, typ: "malformed"},
		{name: "A9 fragment", send: signedFor(func(e *env) string {
			return e.gw.URLFor("new-order") + "#x"
		}, "new-order", nil), status: 400, typ: "malformed"},
		{name: "A9 percent-encoded path", send: signedFor(func(e *env) string {
			return e.gw.URLFor("new%2Dorder")
		}, "new-order", nil), status: 400, typ: "malformed"},
		{name: "A9 spoofed X-Forwarded-Host names the url's host",
			send: signedFor(evilHost, "new-order", func(r *http.Request) {
				r.Header.Set("X-Forwarded-Host", "evil.example")
				r.Header.Set("X-Forwarded-Proto", "http")
			}), status: 400, typ: "malformed"},
		{name: "A9 spoofed Host names the url's host",
			send:   signedFor(evilHost, "new-order", func(r *http.Request) { r.Host = "evil.example" }),
			status: 400, typ: "malformed"},
		{name: "A9 Forwarded header names the url's host",
			send: signedFor(evilHost, "new-order", func(r *http.Request) {
				r.Header.Set("Forwarded", "host=evil.example;proto=http")
			}), status: 400, typ: "malformed"},
	}
	runRefusals(t, e, cases)
}

// TestURLIgnoresForwardedHeaders shows the other half of A9: a request
// signed for the configured URL is accepted whatever Host and
// X-Forwarded-* say.
func TestURLIgnoresForwardedHeaders(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, "ES256")
	c.Register(t)
	for name, edit := range map[string]func(*http.Request){
		"X-Forwarded-Host": func(r *http.Request) {
			r.Header.Set("X-Forwarded-Host", "evil.example")
			r.Header.Set("X-Forwarded-Proto", "https")
		},
		"Host": func(r *http.Request) { r.Host = "evil.example" },
	} {
		t.Run(name, func(t *testing.T) {
			body := c.Sign(t, gw.URLFor("new-order"), []byte(orderPayload))
			req := gw.NewRequest(t, http.MethodPost, gw.URLFor("new-order"), acmetest.ContentType, body)
			edit(req)
			r := gw.Do(t, req).Want(t, http.StatusCreated)
			if loc := r.Location(); !strings.HasPrefix(loc, gw.URLFor("order")+"/") {
				t.Errorf("got Location %q, want it under the configured URL %s", loc, gw.URL)
			}
		})
	}
}
