package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/acmegate/acmegate/acme/acmetest"
)

// TestRoutingEncodedPaths covers SECURITY-CATALOGUE I4 and I5: encoded
// slashes, dot segments and SQL fragments in path parameters neither reach
// another route nor another account's objects; they are unknown resources.
func TestRoutingEncodedPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	orderID := e.readyURL[strings.LastIndex(e.readyURL, "/")+1:]

	postAsGet := func(path string) sender {
		return func(t *testing.T, e *env) *acmetest.Response {
			return e.b.PostAsGet(t, e.gw.URL+path)
		}
	}
	prefix := e.gw.Prefix
	cases := []refusal{
		{name: "I4 encoded slash into another account's order",
			send: postAsGet(prefix + "/order/x%2F..%2F" + orderID), status: 404, typ: "malformed"},
		{name: "I4 encoded slash out of the order route",
			send: postAsGet(prefix + "/order/" + orderID + "%2F..%2F..%2Facct"), status: 404, typ: "malformed"},
		{name: "I4 dot segments to another account's order",
			send: postAsGet(prefix + "/authz/..%2Forder%2F" + orderID), status: 404, typ: "malformed"},
		{name: "I4 encoded slash in the certificate serial",
			send:   postAsGet(prefix + "/cert/%2F..%2F" + e.issued.CertURL[strings.LastIndex(e.issued.CertURL, "/")+1:]),
			status: 404, typ: "malformed"},
		{name: "I5 SQL fragment as an order ID",
			send: postAsGet(prefix + "/order/" + url.PathEscape("x' OR '1'='1")), status: 404, typ: "malformed"},
		{name: "I5 SQL fragment as an authorization ID",
			send: postAsGet(prefix + "/authz/" + url.PathEscape("1; DROP TABLE orders;--")), status: 404,
			typ: "malformed"},
		{name: "I5 SQL wildcard as a certificate serial",
			send: postAsGet(prefix + "/cert/" + url.PathEscape("%")), status: 404, typ: "malformed"},
	}
	runRefusals(t, e, cases)

	// A plain GET with an encoded slash does not reach the directory.
	resp, err := http.Get(e.gw.URL + prefix + "%2Fdirectory")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s%%2Fdirectory: got status %d, want 404", prefix, resp.StatusCode)
	}
}
