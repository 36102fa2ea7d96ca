package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
)

// TestIssueWithEachAccountKey runs the whole flow (RFC 8555, Section 7)
// with an account key of every accepted algorithm, signed by go-jose.
func TestIssueWithEachAccountKey(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	for _, alg := range []jose.SignatureAlgorithm{
		jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.PS256, jose.EdDSA,
	} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			c := gw.NewClient(t, alg)
			c.Register(t)
			name := strings.ToLower(string(alg)) + ".corp.internal"
			is := c.Issue(t, name, "*."+name)
			if got := is.Cert.DNSNames; len(got) != 2 || got[0] != name || got[1] != "*."+name {
				t.Errorf("got names %v, want %s and its wildcard", got, name)
			}
		})
	}
}

// TestOrdersList pages through an account's orders (RFC 8555,
// Section 7.1.2.1): the next page is linked with a cursor in its query,
// which the url header of the next request must repeat.
func TestOrdersList(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{OrdersPageSize: 2})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	want := map[string]bool{}
	for _, n := range []string{"o1", "o2", "o3"} {
		url, _ := c.NewOrder(t, n+".corp.internal")
		want[url] = true
	}

	got := map[string]bool{}
	next := c.KID + "/orders"
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatalf("got more pages than orders")
		}
		r := c.PostAsGet(t, next).Want(t, http.StatusOK)
		var list struct{ Orders []string }
		r.JSON(t, &list)
		for _, u := range list.Orders {
			got[u] = true
		}
		next = ""
		for _, l := range r.Header.Values("Link") {
			if target, ok := strings.CutSuffix(l, `>;rel="next"`); ok {
				next = strings.TrimPrefix(target, "<")
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("got orders %v, want %v", got, want)
	}
	for u := range want {
		if !got[u] {
			t.Errorf("order %s was not listed", u)
		}
	}
}
