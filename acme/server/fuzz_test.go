package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/problem"
)

// FuzzVerifyRequest posts hostile bodies to new-order through the real
// handler: framing, JWS parsing, the url, key and signature checks, the
// nonce and the payload decoder (catalogue A13 and practice 1 of section
// b). Whatever the body, the answer is a new order or a problem document
// with an ACME type whose status member is the HTTP status, it carries a
// nonce and the index link, a 5xx is only serverInternal with the generic
// detail, and nothing panics. The committed corpus in
// testdata/fuzz/FuzzVerifyRequest holds fixed hostile shapes; the seeds
// below are signed at run time so that mutations start from requests that
// reach the signature and nonce checks.
func FuzzVerifyRequest(f *testing.F) {
	gw := acmetest.New(f, acmetest.Options{})
	acct := gw.NewClient(f, jose.ES256)
	acct.Register(f)
	stranger := gw.NewClient(f, jose.EdDSA)
	url := gw.URLFor("new-order")

	f.Add(acct.Sign(f, url, []byte(orderPayload)))
	f.Add(acct.Sign(f, url, []byte(`{"identifiers":[{"type":"dns","value":"*.fuzz.corp.internal"},`+
		`{"type":"ip","value":"10.0.0.1"}],"notAfter":"2026-06-02T00:00:00Z","profile":"default"}`)))
	f.Add(acct.Sign(f, url, nil))
	f.Add(acct.Sign(f, url, []byte(`{"identifiers":[{"type":"dns","value":"bad_name"}]}`)))
	f.Add(acct.Sign(f, gw.URLFor("revoke-cert"), []byte(orderPayload)))
	f.Add(stranger.Sign(f, url, []byte(orderPayload)))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))

	f.Fuzz(func(t *testing.T, body []byte) {
		r := gw.Serve(t, gw.NewRequest(t, http.MethodPost, url, acmetest.ContentType, body))
		if r.Status == http.StatusCreated {
			var o acmetest.Order
			r.JSON(t, &o)
			if o.Status == "" || len(o.Identifiers) == 0 {
				t.Fatalf("got 201 with %s, want an order", r)
			}
			return
		}
		doc := r.Problem(t)
		if !strings.HasPrefix(doc.Type, problem.URNPrefix) || len(doc.Type) == len(problem.URNPrefix) {
			t.Fatalf("got type %q, want an ACME error URN", doc.Type)
		}
		if doc.Status != r.Status {
			t.Fatalf("got status member %d for HTTP status %d", doc.Status, r.Status)
		}
		if r.Status >= 500 && (doc.Type != urn("serverInternal") ||
			doc.Detail != "the server could not complete the request") {
			t.Fatalf("got %s, want a 5xx only as serverInternal with the generic detail", r)
		}
	})
}
