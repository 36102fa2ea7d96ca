package http01_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/http01"
	"github.com/acmegate/acmegate/challenges/netguard"
)

// redirect makes the challenge URL redirect to location.
func redirect(location string) func(*testing.T, *env) challenges.Request {
	return func(_ *testing.T, e *env) challenges.Request {
		e.web.SetRedirect(challengePath, location)
		return request(challenges.IdentifierDNS, "a.test")
	}
}

// wantNoConnections fails the test if the canary was reached.
func wantNoConnections(t *testing.T, c *challtest.Canary) {
	t.Helper()
	if got := c.Connections(); got != 0 {
		t.Errorf("got %d connections to the canary at %s, want 0", got, c.Addr())
	}
}

// secondLoopbackPort is where a canary stands in for a forbidden host: on
// 127.0.0.2, at the port the validator uses.
func secondLoopbackPort(e *env) string { return "127.0.0.2:" + strconv.Itoa(e.web.Port()) }

func deny(prefixes ...string) netguard.Policy {
	var p netguard.Policy
	for _, s := range prefixes {
		p.Deny = append(p.Deny, netip.MustParsePrefix(s))
	}
	return p
}

// TestRedirects covers SECURITY-CATALOGUE E3 (redirect rules) and the
// redirect part of E1 (no way into other ports or denied networks).
func TestRedirects(t *testing.T) {
	t.Parallel()
	var otherPortCanary, deniedCanary *challtest.Canary

	run(t, []testCase{
		{
			name: "relative redirect",
			setup: func(t *testing.T, e *env) challenges.Request {
				serve(e, "/final", http.StatusOK, keyAuth)
				return redirect("/final")(t, e)
			},
			check: func(t *testing.T, e *env, rec challenges.Record) {
				want := []string{fmt.Sprintf("http://a.test:%d/final", e.port)}
				if !slices.Equal(rec.Redirects, want) {
					t.Errorf("got redirects %q, want %q", rec.Redirects, want)
				}
			},
		},
		{
			name: "redirect to another name",
			setup: func(t *testing.T, e *env) challenges.Request {
				e.dns.SetA("b.test", "127.0.0.1")
				serve(e, "/b", http.StatusOK, keyAuth)
				return redirect(fmt.Sprintf("http://b.test:%d/b", e.port))(t, e)
			},
			check: func(t *testing.T, e *env, rec challenges.Record) {
				reqs := e.web.Requests()
				if rec.Hostname != "b.test" || reqs[len(reqs)-1].Host != "b.test" {
					t.Errorf("got host %q and requests %+v, want b.test last", rec.Hostname, reqs)
				}
			},
		},
		{
			// Boulder's rule: http-01 bootstraps certificates, so an
			// untrusted certificate on an https redirect target is accepted.
			name: "redirect to https with a self-signed certificate",
			setup: func(t *testing.T, e *env) challenges.Request {
				tlsSrv := httptest.NewTLSServer(http.HandlerFunc(
					func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, keyAuth) }))
				t.Cleanup(tlsSrv.Close)
				u, _ := url.Parse(tlsSrv.URL)
				e.opts.HTTPSPort, _ = strconv.Atoi(u.Port())
				return redirect("https://a.test:"+u.Port()+"/x")(t, e)
			},
		},
		{
			name: "redirect to another port",
			setup: func(t *testing.T, e *env) challenges.Request {
				otherPortCanary = challtest.NewCanary(t, "127.0.0.1:0")
				return redirect(fmt.Sprintf("http://127.0.0.1:%d/", otherPortCanary.Port()))(t, e)
			},
			check: func(t *testing.T, _ *env, _ challenges.Record) {
				wantNoConnections(t, otherPortCanary)
			},
			wantKind:   challenges.KindConnection,
			wantDetail: "only ports 80 and ",
		},
		{
			name:       "redirect to https on another port",
			setup:      redirect("https://a.test:8443/"),
			wantKind:   challenges.KindConnection,
			wantDetail: "only ports 443 are followed",
		},
		{
			name:  "redirect to a denied address",
			guard: deny("127.0.0.2/32"),
			setup: func(t *testing.T, e *env) challenges.Request {
				deniedCanary = challtest.NewCanary(t, secondLoopbackPort(e))
				e.dns.SetA("inner.test", "127.0.0.2")
				return redirect(fmt.Sprintf("http://inner.test:%d/", e.port))(t, e)
			},
			check: func(t *testing.T, _ *env, _ challenges.Record) {
				wantNoConnections(t, deniedCanary)
			},
			wantKind:   challenges.KindConnection,
			wantDetail: "connection to 127.0.0.2 refused by the network policy",
		},
		{
			name:       "redirect to ftp",
			setup:      redirect("ftp://a.test/x"),
			wantKind:   challenges.KindConnection,
			wantDetail: "only http and https are followed",
		},
		{
			name: "refused redirect from a percent-encoded path",
			setup: func(t *testing.T, e *env) challenges.Request {
				e.web.SetRedirect("/x%d", "ftp://a.test/")
				return redirect("/x%25d")(t, e)
			},
			wantKind:   challenges.KindConnection,
			wantDetail: "/x%25d: ftp://a.test/: only http and https are followed",
		},
		{
			name:       "redirect to a .well-known host",
			setup:      redirect("http://a.test.well-known/acme-challenge/x"),
			wantKind:   challenges.KindConnection,
			wantDetail: "the path probably lacks a slash",
		},
		{
			name:       "redirect with user information",
			setup:      redirect("http://user@a.test/"),
			wantKind:   challenges.KindConnection,
			wantDetail: "user information is not allowed",
		},
		{
			// SECURITY-CATALOGUE E2: an IPv6 zone never passes.
			name:       "redirect with an IPv6 zone",
			setup:      redirect("http://[fe80::1%25eth0]/"),
			wantKind:   challenges.KindConnection,
			wantDetail: "an IPv6 zone is not allowed",
		},
		{
			name: "redirect without Location",
			setup: func(_ *testing.T, e *env) challenges.Request {
				serve(e, challengePath, http.StatusFound, "")
				return request(challenges.IdentifierDNS, "a.test")
			},
			wantKind:   challenges.KindConnection,
			wantDetail: "no Location header",
		},
		{
			name: "redirect loop",
			setup: func(t *testing.T, e *env) challenges.Request {
				e.web.SetRedirect("/loop", "/loop")
				return redirect("/loop")(t, e)
			},
			wantKind:   challenges.KindConnection,
			wantDetail: "too many redirects: more than 10",
			check: func(t *testing.T, e *env, _ challenges.Record) {
				if got := len(e.web.Requests()); got != 11 {
					t.Errorf("got %d requests, want 11", got)
				}
			},
		},
		{
			name: "ten redirects",
			setup: func(t *testing.T, e *env) challenges.Request {
				for i := 1; i < 10; i++ {
					e.web.SetRedirect(fmt.Sprintf("/r%d", i), fmt.Sprintf("/r%d", i+1))
				}
				serve(e, "/r10", http.StatusOK, keyAuth)
				return redirect("/r1")(t, e)
			},
		},
		{
			name:       "redirects disabled",
			opts:       http01.Options{MaxRedirects: -1},
			setup:      redirect("/final"),
			wantKind:   challenges.KindConnection,
			wantDetail: "too many redirects: more than 0",
		},
	})
}
