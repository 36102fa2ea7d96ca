package server_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/problem"
)

// TestFramingRefusals covers catalogue row A11 (content type, empty body,
// Replay-Nonce request header, POST-as-GET payloads, plain GET) and I1 (body
// size), plus unknown routes, methods and resources.
func TestFramingRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})

	// signedOrder is a well-formed newOrder, so that only the framing is
	// wrong.
	signedOrder := func(t *testing.T, e *env) []byte {
		return e.a.Sign(t, e.gw.URLFor("new-order"), []byte(orderPayload))
	}
	withContentType := func(ct string) sender {
		return func(t *testing.T, e *env) *acmetest.Response {
			return post(t, e.gw, e.gw.URLFor("new-order"), ct, signedOrder(t, e))
		}
	}
	get := func(url func(e *env) string) sender {
		return func(t *testing.T, e *env) *acmetest.Response { return e.gw.Get(t, url(e)) }
	}
	allowPOST := func(t *testing.T, _ *env, r *acmetest.Response, _ *problem.Document) {
		if got := r.Header.Get("Allow"); got != "POST" {
			t.Errorf("got Allow %q, want POST", got)
		}
	}
	postAsGetWith := func(payload string, url func(e *env) string) sender {
		return func(t *testing.T, e *env) *acmetest.Response {
			return e.a.Post(t, url(e), []byte(payload))
		}
	}
	method := func(m, path string) sender {
		return func(t *testing.T, e *env) *acmetest.Response {
			return e.gw.Do(t, e.gw.NewRequest(t, m, e.gw.URLFor(path), acmetest.ContentType,
				signedOrder(t, e)))
		}
	}
	unknown := func(path string) sender {
		return func(t *testing.T, e *env) *acmetest.Response {
			return e.a.PostAsGet(t, e.gw.URLFor(path))
		}
	}

	cases := []refusal{
		{name: "A11 content type text/plain", send: withContentType("text/plain"),
			status: 415, typ: "malformed", detail: "application/jose+json"},
		{name: "A11 content type application/json", send: withContentType("application/json"),
			status: 415, typ: "malformed"},
		{name: "A11 no content type", send: withContentType(""), status: 415, typ: "malformed"},
		{name: "A11 content type with a bad parameter",
			send: withContentType("application/jose+json; =x"), status: 415, typ: "malformed"},
		{name: "A11 empty body", send: func(t *testing.T, e *env) *acmetest.Response {
			return post(t, e.gw, e.gw.URLFor("new-order"), acmetest.ContentType, nil)
		}, status: 400, typ: "malformed", detail: "empty"},
		{name: "A11 blank body", send: func(t *testing.T, e *env) *acmetest.Response {
			return post(t, e.gw, e.gw.URLFor("new-order"), acmetest.ContentType, []byte(" \r\n\t"))
		}, status: 400, typ: "malformed"},
		{name: "I1 body over the limit", send: func(t *testing.T, e *env) *acmetest.Response {
			body := append([]byte(`{"protected":"`), bytes.Repeat([]byte("A"), 70000)...)
			return post(t, e.gw, e.gw.URLFor("new-order"), acmetest.ContentType, body)
		}, status: 413, typ: "malformed", detail: "exceeds"},
		{name: "A11 Replay-Nonce request header",
			send: func(t *testing.T, e *env) *acmetest.Response {
				req := e.gw.NewRequest(t, http.MethodPost, e.gw.URLFor("new-order"),
					acmetest.ContentType, signedOrder(t, e))
				req.Header.Set("Replay-Nonce", e.gw.FreshNonce(t))
				return e.gw.Do(t, req)
			}, status: 400, typ: "malformed", detail: "protected header"},

		{name: "A11 GET new-account", send: get(func(e *env) string { return e.gw.URLFor("new-account") }),
			status: 405, typ: "malformed", check: allowPOST},
		{name: "A11 GET new-order", send: get(func(e *env) string { return e.gw.URLFor("new-order") }),
			status: 405, typ: "malformed", check: allowPOST},
		{name: "A11 GET revoke-cert", send: get(func(e *env) string { return e.gw.URLFor("revoke-cert") }),
			status: 405, typ: "malformed", check: allowPOST},
		{name: "A11 GET key-change", send: get(func(e *env) string { return e.gw.URLFor("key-change") }),
			status: 405, typ: "malformed", check: allowPOST},
		{name: "A11 GET account", send: get(func(e *env) string { return e.a.KID }),
			status: 405, typ: "malformed", check: allowPOST},
		{name: "A11 GET orders list", send: get(func(e *env) string { return e.a.KID + "/orders" }),
			status: 405, typ: "malformed", check: allowPOST},
		{name: "A11 GET order", send: get(func(e *env) string { return e.pendingURL }),
			status: 405, typ: "malformed", check: allowPOST},
		{name: "A11 GET finalize", send: get(func(e *env) string { return e.ready.Finalize }),
			status: 405, typ: "malformed", check: allowPOST},
		{name: "A11 GET authorization", send: get(func(e *env) string { return e.pending.Authorizations[0] }),
			status: 405, typ: "malformed", check: allowPOST},
		{name: "A11 GET challenge", send: get(func(e *env) string { return e.pendingAz.Challenges[0].URL }),
			status: 405, typ: "malformed", check: allowPOST},
		{name: "A11 GET certificate", send: get(func(e *env) string { return e.issued.CertURL }),
			status: 405, typ: "malformed", check: allowPOST},

		{name: "A11 POST-as-GET order with payload {}",
			send:   postAsGetWith("{}", func(e *env) string { return e.pendingURL }),
			status: 400, typ: "malformed", detail: "empty payload"},
		{name: "A11 POST-as-GET certificate with payload {}",
			send:   postAsGetWith("{}", func(e *env) string { return e.issued.CertURL }),
			status: 400, typ: "malformed", detail: "empty payload"},
		{name: "A11 POST-as-GET orders list with payload {}",
			send:   postAsGetWith("{}", func(e *env) string { return e.a.KID + "/orders" }),
			status: 400, typ: "malformed", detail: "empty payload"},
		{name: "A11 POST-as-GET order with payload null",
			send:   postAsGetWith("null", func(e *env) string { return e.pendingURL }),
			status: 400, typ: "malformed"},
		{name: "empty payload to new-order",
			send:   postAsGetWith("", func(e *env) string { return e.gw.URLFor("new-order") }),
			status: 400, typ: "malformed", detail: "empty payload"},
		{name: "empty payload to revoke-cert",
			send:   postAsGetWith("", func(e *env) string { return e.gw.URLFor("revoke-cert") }),
			status: 400, typ: "malformed"},
		{name: "empty payload to finalize",
			send:   postAsGetWith("", func(e *env) string { return e.ready.Finalize }),
			status: 400, typ: "malformed"},
		{name: "authorization update to valid",
			send: postAsGetWith(`{"status":"valid"}`,
				func(e *env) string { return e.pending.Authorizations[0] }),
			status: 400, typ: "malformed", detail: "deactivated"},
		{name: "challenge payload that is not an object",
			send:   postAsGetWith(`[]`, func(e *env) string { return e.pendingAz.Challenges[0].URL }),
			status: 400, typ: "malformed"},

		{name: "unknown ACME route", send: unknown("no-such-thing"), status: 404, typ: "malformed"},
		{name: "unknown route outside the prefix",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return e.gw.Get(t, e.gw.URL+"/admin")
			}, status: 404, typ: "malformed"},
		{name: "unknown order", send: unknown("order/AAAAAAAAAAAAAAAAAAAAAA"), status: 404,
			typ: "malformed", detail: "order not found"},
		{name: "unknown authorization", send: unknown("authz/AAAAAAAAAAAAAAAAAAAAAA"), status: 404,
			typ: "malformed", detail: "authorization not found"},
		{name: "unknown challenge", send: unknown("chall/AAAAAAAAAAAAAAAAAAAAAA"), status: 404,
			typ: "malformed", detail: "challenge not found"},
		{name: "unknown certificate", send: unknown("cert/00ff"), status: 404,
			typ: "malformed", detail: "certificate not found"},
		{name: "root.pem when no root is configured",
			send:   get(func(e *env) string { return e.gw.URLFor("root.pem") }),
			status: 404, typ: "malformed"},
		{name: "PUT new-order", send: method(http.MethodPut, "new-order"), status: 405, typ: "malformed"},
		{name: "DELETE order", send: func(t *testing.T, e *env) *acmetest.Response {
			return e.gw.Do(t, e.gw.NewRequest(t, http.MethodDelete, e.pendingURL, "", nil))
		}, status: 405, typ: "malformed"},
		{name: "POST directory", send: method(http.MethodPost, "directory"), status: 405, typ: "malformed"},
		{name: "POST renewal-info", send: method(http.MethodPost, "renewal-info/x.y"), status: 405,
			typ: "malformed"},
	}
	runRefusals(t, e, cases)
}

// TestContentTypeParameters shows that media type parameters and case do
// not matter (RFC 8555, Section 6.2 names the type; RFC 9110, Section 8.3.1
// makes type names case-insensitive).
func TestContentTypeParameters(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, "ES256")
	c.Register(t)
	for _, ct := range []string{"application/jose+json; charset=utf-8", "Application/JOSE+JSON"} {
		body := c.Sign(t, gw.URLFor("new-order"), []byte(orderPayload))
		r := post(t, gw, gw.URLFor("new-order"), ct, body)
		if r.Status != http.StatusCreated {
			t.Errorf("Content-Type %q: got %s, want 201", ct, r)
		}
	}
}

// TestCommonHeaders checks the directory, new-nonce and the resources that
// are plain GETs. Every response in this package is also checked for
// Replay-Nonce and the index link by acmetest.
func TestCommonHeaders(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{Meta: acmetestMeta})

	t.Run("directory", func(t *testing.T) {
		r := gw.Get(t, gw.URLFor("directory")).Want(t, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("got Content-Type %q, want application/json", ct)
		}
		var dir map[string]any
		r.JSON(t, &dir)
		for field, path := range map[string]string{
			"newNonce": "new-nonce", "newAccount": "new-account", "newOrder": "new-order",
			"revokeCert": "revoke-cert", "keyChange": "key-change", "renewalInfo": "renewal-info",
		} {
			if got := dir[field]; got != gw.URLFor(path) {
				t.Errorf("got %s %v, want %s", field, got, gw.URLFor(path))
			}
		}
		meta, _ := dir["meta"].(map[string]any)
		if meta["termsOfService"] != acmetestMeta.TermsOfService {
			t.Errorf("got meta %v, want termsOfService %s", meta, acmetestMeta.TermsOfService)
		}
	})

	seen := map[string]bool{}
	for _, tc := range []struct {
		method string
		status int
	}{{http.MethodHead, http.StatusOK}, {http.MethodGet, http.StatusNoContent}} {
		t.Run("new-nonce "+tc.method, func(t *testing.T) {
			r := gw.Do(t, gw.NewRequest(t, tc.method, gw.URLFor("new-nonce"), "", nil))
			r.Want(t, tc.status)
			if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("got Cache-Control %q, want no-store (RFC 8555, Section 7.2)", cc)
			}
			if len(r.Body) != 0 {
				t.Errorf("got a body of %d bytes, want none", len(r.Body))
			}
			if seen[r.Nonce()] {
				t.Errorf("got nonce %q twice", r.Nonce())
			}
			seen[r.Nonce()] = true
		})
	}

	t.Run("intermediate.pem", func(t *testing.T) {
		r := gw.Get(t, gw.URLFor("intermediate.pem")).Want(t, http.StatusOK)
		if !strings.HasPrefix(string(r.Body), "-----BEGIN CERTIFICATE-----") {
			t.Errorf("got %q, want a PEM certificate", r.Body[:min(len(r.Body), 40)])
		}
	})
}
