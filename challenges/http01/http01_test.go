package http01_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/http01"
	"github.com/acmegate/acmegate/challenges/netguard"
	"github.com/acmegate/acmegate/challenges/resolver"
)

const (
	token         = "tok_en-1234567890abcdefghijkl"
	thumbprint    = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	challengePath = "/.well-known/acme-challenge/" + token
)

var keyAuth = challenges.KeyAuthorization(token, thumbprint)

// env is one isolated set of responders: a DNS server where a.test points
// at 127.0.0.1, and an http-01 responder there that knows the token.
type env struct {
	dns  *challtest.DNSServer
	web  *challtest.HTTP01Server
	res  *resolver.Resolver
	port int            // the port the validator uses; the responder's by default
	opts http01.Options // the validator's options; the case's by default
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{dns: challtest.NewDNSServer(t), web: challtest.NewHTTP01Server(t)}
	e.dns.SetA("a.test", "127.0.0.1")
	e.web.Set(token, keyAuth)
	e.res = resolver.New([]string{e.dns.Addr()}, time.Second)
	e.port = e.web.Port()
	return e
}

func request(typ, value string) challenges.Request {
	return challenges.Request{
		Identifier:       challenges.Identifier{Type: typ, Value: value},
		Token:            token,
		KeyAuthorization: keyAuth,
	}
}

// testCase is shared by the tables of this package.
type testCase struct {
	name string
	// setup prepares the environment and returns the request; nil means
	// the dns identifier a.test.
	setup      func(t *testing.T, e *env) challenges.Request
	guard      netguard.Policy
	opts       http01.Options
	wantKind   string
	wantDetail string
	check      func(t *testing.T, e *env, rec challenges.Record)
}

func run(t *testing.T, tests []testCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.opts = tt.opts
			req := request(challenges.IdentifierDNS, "a.test")
			if tt.setup != nil {
				req = tt.setup(t, e)
			}
			v := http01.New(e.res, tt.guard, e.port, e.opts)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()

			rec, err := v.Validate(ctx, req)
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			wantClientSafe(t, err)
			if rec.Type != challenges.TypeHTTP01 {
				t.Errorf("got record type %q, want %q", rec.Type, challenges.TypeHTTP01)
			}
			if tt.check != nil {
				tt.check(t, e, rec)
			}
		})
	}
}

// wantClientSafe checks SECURITY-CATALOGUE E1 for every failure: the detail
// is short printable ASCII, so no more than an excerpt of a body leaks.
func wantClientSafe(t *testing.T, err error) {
	t.Helper()
	var ce *challenges.Error
	if !errors.As(err, &ce) {
		return
	}
	if len(ce.Detail) > 600 {
		t.Errorf("got a detail of %d bytes, want at most 600", len(ce.Detail))
	}
	for _, c := range []byte(ce.Detail) {
		if c < 0x20 || c > 0x7e {
			t.Fatalf("got byte %#x in detail %q, want printable ASCII only", c, ce.Detail)
		}
	}
}

// serve answers path with status and body.
func serve(e *env, path string, status int, body string) {
	e.web.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
}

func TestValidate(t *testing.T) {
	t.Parallel()
	run(t, []testCase{
		{
			name: "dns identifier",
			check: func(t *testing.T, e *env, rec challenges.Record) {
				reqs := e.web.Requests()
				if len(reqs) != 1 || reqs[0].Host != "a.test" || reqs[0].Path != challengePath {
					t.Errorf("got requests %+v, want one for a.test%s", reqs, challengePath)
				}
				if rec.AddressUsed != "127.0.0.1" || rec.Hostname != "a.test" || len(rec.Resolvers) != 1 {
					t.Errorf("got record %+v, want address 127.0.0.1, host a.test, one resolver", rec)
				}
			},
		},
		{
			// RFC 8738, Section 3: the address itself is the host.
			name: "ip identifier",
			setup: func(_ *testing.T, _ *env) challenges.Request {
				return request(challenges.IdentifierIP, "127.0.0.1")
			},
			check: func(t *testing.T, e *env, rec challenges.Record) {
				if got := e.web.Requests()[0].Host; got != "127.0.0.1" {
					t.Errorf("got Host %q, want 127.0.0.1", got)
				}
				if rec.Resolvers != nil {
					t.Errorf("got resolvers %q for an IP identifier, want none", rec.Resolvers)
				}
			},
		},
		{
			name: "IPv6 identifier",
			setup: func(t *testing.T, e *env) challenges.Request {
				e.web = challtest.NewHTTP01ServerAt(t, "[::1]:0")
				e.web.Set(token, keyAuth)
				e.port = e.web.Port()
				return request(challenges.IdentifierIP, "::1")
			},
			check: func(t *testing.T, e *env, rec challenges.Record) {
				if got := e.web.Requests()[0].Host; got != "[::1]" {
					t.Errorf("got Host %q, want [::1]", got)
				}
				if want := fmt.Sprintf("http://[::1]:%d%s", e.port, challengePath); rec.URL != want {
					t.Errorf("got URL %q, want %q", rec.URL, want)
				}
			},
		},
		{
			// SECURITY-CATALOGUE E4: trailing whitespace is accepted.
			name: "trailing whitespace",
			setup: func(_ *testing.T, e *env) challenges.Request {
				e.web.Set(token, keyAuth+"\r\n\t ")
				return request(challenges.IdentifierDNS, "a.test")
			},
		},
		{
			// SECURITY-CATALOGUE E4: anything else is not.
			name: "extra character",
			setup: func(_ *testing.T, e *env) challenges.Request {
				e.web.Set(token, keyAuth+"x")
				return request(challenges.IdentifierDNS, "a.test")
			},
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: `does not match: got "` + keyAuth + `x", want "` + keyAuth + `"`,
		},
		{
			// SECURITY-CATALOGUE E5: the response is bound to the account key.
			name: "key authorization of another account",
			setup: func(_ *testing.T, e *env) challenges.Request {
				e.web.Set(token, challenges.KeyAuthorization(token, "other-account-thumbprint"))
				return request(challenges.IdentifierDNS, "a.test")
			},
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "does not match",
		},
		{
			name: "not found",
			setup: func(_ *testing.T, e *env) challenges.Request {
				e.web.Delete(token)
				return request(challenges.IdentifierDNS, "a.test")
			},
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "HTTP 404, want 200",
		},
		{
			name: "server error",
			setup: func(_ *testing.T, e *env) challenges.Request {
				serve(e, challengePath, http.StatusInternalServerError, keyAuth)
				return request(challenges.IdentifierDNS, "a.test")
			},
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "HTTP 500",
		},
		{
			// SECURITY-CATALOGUE E1: a body is shown only as a short,
			// sanitised prefix.
			name: "binary body excerpt",
			setup: func(_ *testing.T, e *env) challenges.Request {
				serve(e, challengePath, http.StatusOK, "\x00\x1b[31msecret"+strings.Repeat("s", 500))
				return request(challenges.IdentifierDNS, "a.test")
			},
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: `got "??[31msecretsss`,
		},
		{
			name:       "NXDOMAIN",
			setup:      func(*testing.T, *env) challenges.Request { return request("dns", "missing.test") },
			wantKind:   challenges.KindDNS,
			wantDetail: "NXDOMAIN looking up A for missing.test",
		},
		{
			name: "nothing listening",
			setup: func(t *testing.T, e *env) challenges.Request {
				e.port = challtest.ClosedPort(t)
				return request(challenges.IdentifierIP, "127.0.0.1")
			},
			wantKind:   challenges.KindConnection,
			wantDetail: "connection refused",
		},
		{
			// An IPv6 address that refuses the connection falls back to IPv4.
			name: "IPv6 then IPv4",
			setup: func(_ *testing.T, e *env) challenges.Request {
				e.dns.SetA("a.test", "127.0.0.1", "::1")
				return request(challenges.IdentifierDNS, "a.test")
			},
			check: func(t *testing.T, _ *env, rec challenges.Record) {
				if want := []string{"::1", "127.0.0.1"}; !slices.Equal(rec.AddressesTried, want) {
					t.Errorf("got addresses tried %q, want %q", rec.AddressesTried, want)
				}
			},
		},
		{
			name: "malformed token",
			setup: func(*testing.T, *env) challenges.Request {
				req := request(challenges.IdentifierDNS, "a.test")
				req.Token = "../../admin"
				return req
			},
			wantKind:   challenges.KindMalformed,
			wantDetail: "invalid challenge token",
		},
	})
}

// TestLimits covers SECURITY-CATALOGUE E4: a huge or slow body ends within
// the deadline.
func TestLimits(t *testing.T) {
	t.Parallel()
	run(t, []testCase{
		{
			name: "huge body",
			setup: func(_ *testing.T, e *env) challenges.Request {
				e.web.Handle(challengePath, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					chunk := []byte(strings.Repeat("a", 32<<10))
					for range 1 << 15 { // 1 GiB unless the client hangs up
						if _, err := w.Write(chunk); err != nil {
							return
						}
					}
				}))
				return request(challenges.IdentifierDNS, "a.test")
			},
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "is larger than 8192 bytes",
			check: func(t *testing.T, _ *env, rec challenges.Record) {
				if rec.Duration > 5*time.Second {
					t.Errorf("got duration %v, want well under the deadline", rec.Duration)
				}
			},
		},
		{
			name: "slow body",
			opts: http01.Options{Timeout: 500 * time.Millisecond},
			setup: func(_ *testing.T, e *env) challenges.Request {
				e.web.Handle(challengePath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					tick := time.NewTicker(100 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-r.Context().Done():
							return
						case <-tick.C:
							_, _ = w.Write([]byte("a"))
							w.(http.Flusher).Flush()
						}
					}
				}))
				return request(challenges.IdentifierDNS, "a.test")
			},
			wantKind:   challenges.KindConnection,
			wantDetail: "reading the response body from http://a.test:",
			check: func(t *testing.T, _ *env, rec challenges.Record) {
				if rec.Duration > 2*time.Second {
					t.Errorf("got duration %v, want about the 500ms deadline", rec.Duration)
				}
			},
		},
	})
}
