package acmetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/nonce"
	"github.com/acmegate/acmegate/acme/server"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

// Options adjust [New]. The zero value gives a gateway with the state
// machine's defaults, except as noted on each field.
type Options struct {
	// Config configures the state machine. ValidationWait and FinalizeWait
	// default to 10s here (not 2s and 5s), so that a fake validation and a
	// local signature finish within the request even under the race
	// detector.
	Config state.Config
	// Meta is the directory's meta object.
	Meta server.Meta
	// MaxBodyBytes and OrdersPageSize are passed to the server.
	MaxBodyBytes   int64
	OrdersPageSize int
	// NonceLifetime defaults to one hour.
	NonceLifetime time.Duration
	// Prefix is the path of the directory's resources; default "/acme".
	// Two gateways sharing a Store with different prefixes and
	// Config.Directory values act as two directories of one deployment.
	Prefix string
	// Store, when set, is used instead of a fresh SQLite store; its
	// clock is then not the gateway's.
	Store *store.Store
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
}

// Gateway is an in-process acmegate front end with its parts exposed.
type Gateway struct {
	// URL is the external base URL, such as "http://127.0.0.1:40123".
	URL string
	// Prefix is the path of the ACME resources under URL, such as "/acme".
	Prefix    string
	Server    *server.Server
	Engine    *state.Engine
	Store     *store.Store
	Nonces    *nonce.Service
	Clock     *Clock
	Validator *Validator
	Issuer    *Issuer
	HTTP      *httptest.Server
}

// New starts a gateway for the test and stops it when the test ends. The
// fake validator serves http-01 and dns-01.
func New(t testing.TB, opts Options) *Gateway {
	t.Helper()
	caIssuer, err := testCA()
	if err != nil {
		t.Fatalf("making the test CA: %v", err)
	}
	gw := &Gateway{Clock: NewClock(), Validator: &Validator{}, Issuer: &Issuer{inner: caIssuer},
		Store: opts.Store, Prefix: opts.Prefix}
	if gw.Store == nil {
		gw.Store = storetest.OpenWith(t, store.SQLite, store.Options{Now: gw.Clock.Now})
	}
	if gw.Prefix == "" {
		gw.Prefix = server.Prefix
	}
	gw.startEngine(t, opts)
	gw.startServer(t, opts)
	return gw
}

// startEngine builds the state machine and the nonce service.
func (g *Gateway) startEngine(t testing.TB, opts Options) {
	t.Helper()
	cfg := opts.Config
	if cfg.ValidationWait == 0 {
		cfg.ValidationWait = 10 * time.Second
	}
	if cfg.FinalizeWait == 0 {
		cfg.FinalizeWait = 10 * time.Second
	}
	var err error
	g.Engine, err = state.New(state.Options{
		Config: cfg,
		Store:  g.Store,
		Issuer: g.Issuer,
		Validators: map[string]challenges.Validator{
			challenges.TypeHTTP01: g.Validator,
			challenges.TypeDNS01:  g.Validator,
		},
		Clock:  g.Clock,
		Logger: opts.Logger,
	})
	if err != nil {
		t.Fatalf("building the engine: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := g.Engine.Close(ctx); err != nil {
			t.Errorf("closing the engine: %v", err)
		}
	})

	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatalf("making the nonce key: %v", err)
	}
	// The store redeemer is what replicas sharing a database use, so the
	// nonce tests cover single use across them.
	g.Nonces, err = nonce.New(nonce.StoreRedeemer{Store: g.Store}, key, g.Clock.Now, rand.Reader,
		opts.NonceLifetime)
	if err != nil {
		t.Fatalf("building the nonce service: %v", err)
	}
}

// startServer builds the HTTP front end and serves it. The external URL
// must be known before the server is built, and it is the listener's
// address: the server is built between Listen and Start.
func (g *Gateway) startServer(t testing.TB, opts Options) {
	t.Helper()
	g.HTTP = httptest.NewUnstartedServer(nil)
	g.URL = "http://" + g.HTTP.Listener.Addr().String()
	var err error
	g.Server, err = server.New(server.Options{
		ExternalURL:     g.URL,
		Engine:          g.Engine,
		Nonces:          g.Nonces,
		Logger:          opts.Logger,
		Meta:            opts.Meta,
		MaxBodyBytes:    opts.MaxBodyBytes,
		OrdersPageSize:  opts.OrdersPageSize,
		IntermediatePEM: g.Issuer.ChainPEM(),
		Prefix:          g.Prefix,
	})
	if err != nil {
		t.Fatalf("building the server: %v", err)
	}
	g.HTTP.Config.Handler = g.Server.Handler()
	g.HTTP.Start()
	t.Cleanup(g.HTTP.Close)
}

// URLFor returns the URL of an ACME resource: URLFor("order", id) is
// URL + Prefix + "/order/" + id.
func (g *Gateway) URLFor(parts ...string) string {
	return g.URL + g.Prefix + "/" + strings.Join(parts, "/")
}

// NewRequest builds a request; contentType is set when not empty.
func (g *Gateway) NewRequest(t testing.TB, method, url, contentType string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatalf("building %s %s: %v", method, url, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// Do sends req to the gateway over HTTP and reads the whole answer. It
// fails the test when the response lacks a Replay-Nonce or the Link
// rel="index" header, which RFC 8555, Sections 6.5 and 7.1, ask of every
// response.
func (g *Gateway) Do(t testing.TB, req *http.Request) *Response {
	t.Helper()
	resp, err := g.HTTP.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer to %s %s: %v", req.Method, req.URL, err)
	}
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	g.checkCommonHeaders(t, req, r)
	return r
}

// Serve is [Gateway.Do] without the network: it calls the server's handler
// in the calling goroutine. It needs no listener, which suits fuzzing and
// tests that change the router.
func (g *Gateway) Serve(t testing.TB, req *http.Request) *Response {
	t.Helper()
	rec := httptest.NewRecorder()
	g.Server.Handler().ServeHTTP(rec, req)
	res := rec.Result()
	r := &Response{Status: res.StatusCode, Header: res.Header, Body: rec.Body.Bytes()}
	g.checkCommonHeaders(t, req, r)
	return r
}

func (g *Gateway) checkCommonHeaders(t testing.TB, req *http.Request, r *Response) {
	t.Helper()
	if r.Nonce() == "" {
		t.Errorf("%s %s: got status %d without a Replay-Nonce header", req.Method, req.URL, r.Status)
	}
	if want := fmt.Sprintf("<%s>;rel=\"index\"", g.URLFor("directory")); !r.HasLink(want) {
		t.Errorf("%s %s: got Link %q, want one of them to be %s", req.Method, req.URL,
			r.Header.Values("Link"), want)
	}
}

// Get sends a plain GET.
func (g *Gateway) Get(t testing.TB, url string) *Response {
	t.Helper()
	return g.Do(t, g.NewRequest(t, http.MethodGet, url, "", nil))
}
