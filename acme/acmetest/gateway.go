package acmetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acmegate/acmegate/acme/nonce"
	"github.com/acmegate/acmegate/acme/server"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/ca"
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
	// MemoryNonces records used nonces in memory, as one gateway process
	// on SQLite does, instead of in the store, as replicas sharing a
	// database do (the default here, so that the nonce tests cover it).
	MemoryNonces bool
	// Prefix is the path of the directory's resources; default "/acme".
	// Two gateways sharing a Store with different prefixes and
	// Config.Directory values act as two directories of one deployment.
	Prefix string
	// Store, when set, is used instead of a fresh SQLite store; its
	// clock is then not the gateway's.
	Store *store.Store
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
	// Validators are validators for more challenge types, beside the fake
	// that serves http-01 and dns-01, such as a real dns-persist-01
	// validator; one named http-01 or dns-01 replaces the fake.
	Validators map[string]challenges.Validator
	// IPRateLimit and AccountRateLimit are passed to the server, whose
	// limiters read the gateway's fake clock; zero values turn them off.
	IPRateLimit      server.RateLimit
	AccountRateLimit server.RateLimit
	// AlternateChains, when set, makes the alternate chains (PEM, without
	// the leaf) offered for certificates of the gateway's first issuer,
	// given that issuer; see server.Options.AlternateChains.
	AlternateChains func(issuer *ca.Issuer) [][]byte
	// Registerer, when set, receives the state machine's Prometheus
	// series.
	Registerer prometheus.Registerer
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
	// Issuer is the active issuer; Retired are those that [Gateway.Rotate]
	// replaced, oldest first.
	Issuer  *Issuer
	Retired []*Issuer
	HTTP    *httptest.Server

	opts    Options
	current atomic.Pointer[server.Server] // what HTTP serves
	// alternates are the alternate chains by issuer key ID.
	alternates map[string][][]byte
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
		Store: opts.Store, Prefix: opts.Prefix, opts: opts}
	if opts.AlternateChains != nil {
		gw.alternates = map[string][][]byte{
			hex.EncodeToString(caIssuer.KeyID()): opts.AlternateChains(caIssuer)}
	}
	if gw.Store == nil {
		gw.Store = storetest.OpenWith(t, store.SQLite, store.Options{Now: gw.Clock.Now})
	}
	if gw.Prefix == "" {
		gw.Prefix = server.Prefix
	}
	// The listener comes first: its address is the external URL, which
	// the engine needs for account URLs.
	gw.HTTP = httptest.NewUnstartedServer(nil)
	gw.URL = "http://" + gw.HTTP.Listener.Addr().String()
	gw.startEngine(t, opts)
	gw.startServer(t, opts)
	return gw
}

// Rotate replaces the gateway's intermediate as an operator's rotation
// does: a fresh intermediate under the same test root becomes the active
// [Gateway.Issuer], and the current one moves to [Gateway.Retired] and
// stays loaded for the certificates it issued. The engine and the server
// are rebuilt on the same store, nonce service, listener and URL, so
// clients and their accounts carry on. Call it while no request is in
// flight. It returns the retired issuer.
func (g *Gateway) Rotate(t testing.TB) *Issuer {
	t.Helper()
	next, err := rotatedCA(fmt.Sprintf("acmetest Intermediate CA %d", len(g.Retired)+2))
	if err != nil {
		t.Fatalf("making the next intermediate: %v", err)
	}
	old := g.Issuer
	g.Retired = append(g.Retired, old)
	g.Issuer = &Issuer{inner: next}
	var retired []state.Issuer
	for _, r := range g.Retired {
		retired = append(retired, r)
	}
	issuers, err := state.NewIssuers(g.Issuer, retired...)
	if err != nil {
		t.Fatalf("building the issuer set: %v", err)
	}
	g.Engine = g.buildEngine(t, g.opts, issuers)
	g.Server = g.buildServer(t, g.opts)
	g.current.Store(g.Server)
	return old
}

// startEngine builds the state machine and the nonce service.
func (g *Gateway) startEngine(t testing.TB, opts Options) {
	t.Helper()
	issuers, err := state.NewIssuers(g.Issuer)
	if err != nil {
		t.Fatalf("building the issuer set: %v", err)
	}
	g.Engine = g.buildEngine(t, opts, issuers)

	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatalf("making the nonce key: %v", err)
	}
	// The store redeemer is what replicas sharing a database use, so the
	// nonce tests cover single use across them.
	var used nonce.Redeemer = nonce.StoreRedeemer{Store: g.Store}
	if opts.MemoryNonces {
		used = &nonce.MemoryRedeemer{}
	}
	g.Nonces, err = nonce.New(used, key, g.Clock.Now, rand.Reader, opts.NonceLifetime)
	if err != nil {
		t.Fatalf("building the nonce service: %v", err)
	}
}

// buildEngine builds a state machine on the gateway's store that signs
// with the active member of issuers, and closes it when the test ends.
func (g *Gateway) buildEngine(t testing.TB, opts Options, issuers *state.Issuers) *state.Engine {
	t.Helper()
	cfg := opts.Config
	// A gateway on its own store is the only writer of its accounts, as
	// one process on SQLite is; gateways sharing a store are replicas.
	cfg.CacheAccounts = opts.Store == nil
	if cfg.ValidationWait == 0 {
		cfg.ValidationWait = 10 * time.Second
	}
	if cfg.FinalizeWait == 0 {
		cfg.FinalizeWait = 10 * time.Second
	}
	if cfg.AccountURLPrefix == "" {
		cfg.AccountURLPrefix = g.URLFor("acct") + "/"
	}
	validators := map[string]challenges.Validator{
		challenges.TypeHTTP01: g.Validator,
		challenges.TypeDNS01:  g.Validator,
	}
	maps.Copy(validators, opts.Validators)
	engine, err := state.New(state.Options{
		Config:     cfg,
		Store:      g.Store,
		Issuers:    issuers,
		Validators: validators,
		Clock:      g.Clock,
		Logger:     opts.Logger,
		Registerer: opts.Registerer,
	})
	if err != nil {
		t.Fatalf("building the engine: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := engine.Close(ctx); err != nil {
			t.Errorf("closing the engine: %v", err)
		}
	})
	return engine
}

// startServer builds the HTTP front end and serves it. The external URL
// must be known before the server is built, and it is the listener's
// address: the server is built between Listen and Start.
func (g *Gateway) startServer(t testing.TB, opts Options) {
	t.Helper()
	g.Server = g.buildServer(t, opts)
	g.current.Store(g.Server)
	// The handler is looked up per request, so that Rotate can swap it.
	g.HTTP.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.current.Load().Handler().ServeHTTP(w, r)
	})
	g.HTTP.Start()
	t.Cleanup(g.HTTP.Close)
}

// buildServer builds the HTTP front end of the current engine.
func (g *Gateway) buildServer(t testing.TB, opts Options) *server.Server {
	t.Helper()
	srv, err := server.New(server.Options{
		ExternalURL:      g.URL,
		Engine:           g.Engine,
		Nonces:           g.Nonces,
		Logger:           opts.Logger,
		Meta:             opts.Meta,
		MaxBodyBytes:     opts.MaxBodyBytes,
		OrdersPageSize:   opts.OrdersPageSize,
		IntermediatePEM:  g.Issuer.ChainPEM(),
		Prefix:           g.Prefix,
		IPRateLimit:      opts.IPRateLimit,
		AccountRateLimit: opts.AccountRateLimit,
		Now:              g.Clock.Now,
		AlternateChains:  g.alternates,
	})
	if err != nil {
		t.Fatalf("building the server: %v", err)
	}
	return srv
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
