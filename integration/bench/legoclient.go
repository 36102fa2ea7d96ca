package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/challenge"
	"github.com/go-acme/lego/v4/lego"
	"github.com/go-acme/lego/v4/registration"
)

// Bounds on connecting to the server in lego mode. lego's own are 30
// seconds each; on loopback a connection that takes a tenth of that is
// broken, and the run should say so rather than wait.
const (
	legoDialTimeout = 10 * time.Second
	legoTLSTimeout  = 10 * time.Second
)

// legoClient is one account driven by one goroutine in lego mode: the
// stock client, lego.NewClient, whose Certifier.Obtain orders, answers
// http-01, polls and downloads with lego's own waits. Compared with api
// mode it pays what a lego user pays: a pause of a second divided by
// lego's request limit (18) before fetching each authorization, the
// Retry-After of the challenge response (5 s when there is none) before
// polling the authorization, and half-second sleeps while the order is
// processing.
type legoClient struct {
	lego     *lego.Client
	requests *requestCounter
	roots    *x509.CertPool
	names    nameSource
}

// newLegoClient registers one account with a fresh P-256 key and returns
// its worker. Its HTTP client trusts tlsRoots for the server's HTTPS; its
// http-01 provider publishes on http01.
func newLegoClient(
	ctx context.Context,
	opts options,
	tlsRoots, roots *x509.CertPool,
	http01 *http01Responder,
	names nameSource,
) (*legoClient, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating account key: %w", err)
	}
	user := &legoUser{key: key}

	// 1. lego's defaults, with our trust, timeouts and certificate key:
	// P-256, as api mode and the lego command use (the library's default
	// is RSA 2048). The certificate timeout and so the order polling
	// interval stay lego's.
	cfg := lego.NewConfig(user)
	httpClient, requests, err := legoHTTPClient(cfg.HTTPClient, opts.reqTimeout, tlsRoots)
	if err != nil {
		return nil, err
	}
	cfg.CADirURL = opts.directory
	cfg.UserAgent = userAgent
	cfg.HTTPClient = httpClient
	cfg.Certificate.KeyType = certcrypto.EC256

	// 2. The client, its http-01 provider and its account.
	lc, err := lego.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating lego client: %w", err)
	}
	if err := lc.Challenge.SetHTTP01Provider(http01Provider{responder: http01}); err != nil {
		return nil, fmt.Errorf("setting the http-01 provider: %w", err)
	}
	reg, err := lc.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true})
	if err != nil {
		return nil, fmt.Errorf("creating account: %w", err)
	}
	user.reg = reg
	return &legoClient{lego: lc, requests: requests, roots: roots, names: names}, nil
}

// legoHTTPClient returns a copy of lego's default HTTP client (stock) that
// trusts tlsRoots, bounds each request by reqTimeout, connects within
// [legoDialTimeout] and [legoTLSTimeout], uses no proxy, and counts its
// requests. Like lego's, its transport speaks HTTP/1.1: a transport with
// its own TLS configuration does not attempt HTTP/2 unless told to.
func legoHTTPClient(
	stock *http.Client,
	reqTimeout time.Duration,
	tlsRoots *x509.CertPool,
) (*http.Client, *requestCounter, error) {
	base, ok := stock.Transport.(*http.Transport)
	if !ok {
		return nil, nil, fmt.Errorf("lego's default transport is a %T, not an *http.Transport",
			stock.Transport)
	}
	tr := base.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.RootCAs = tlsRoots
	tr.Proxy = nil
	tr.DialContext = (&net.Dialer{Timeout: legoDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = legoTLSTimeout
	tr.ResponseHeaderTimeout = reqTimeout
	counter := &requestCounter{next: tr}
	return &http.Client{Transport: counter, Timeout: reqTimeout}, counter, nil
}

// issue obtains one certificate for the name of index i with
// Certifier.Obtain and checks the chain after the clock stops. lego takes
// no context, so an Obtain in flight runs to its end; ctx only stops one
// from starting.
func (c *legoClient) issue(ctx context.Context, i int) (issuance, error) {
	var m issuance
	if err := ctx.Err(); err != nil {
		return m, fail("obtain", err)
	}
	name := c.names.name(i)
	before := c.requests.count()
	start := time.Now()
	res, err := c.lego.Certificate.Obtain(certificate.ObtainRequest{
		Domains: []string{name},
		Bundle:  true,
	})
	m.total = time.Since(start)
	m.requests = int(c.requests.count() - before)
	if err != nil {
		// The name is new in every issuance; without it, the same failure
		// is counted as one message.
		return m, fail("obtain", errors.New(strings.ReplaceAll(err.Error(), name, "NAME")))
	}

	key, err := certcrypto.ParsePEMPrivateKey(res.PrivateKey)
	if err != nil {
		return m, fail("verify", fmt.Errorf("reading the certificate key: %w", err))
	}
	ecKey, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return m, fail("verify", fmt.Errorf("certificate key is a %T, want ECDSA", key))
	}
	if err := verifyChain(res.Certificate, c.roots, name, &ecKey.PublicKey); err != nil {
		return m, fail("verify", err)
	}
	return m, nil
}

// legoUser is the registration.User of one lego-mode worker.
type legoUser struct {
	key crypto.PrivateKey
	reg *registration.Resource
}

var _ registration.User = (*legoUser)(nil)

func (u *legoUser) GetEmail() string                        { return "" }
func (u *legoUser) GetRegistration() *registration.Resource { return u.reg }
func (u *legoUser) GetPrivateKey() crypto.PrivateKey        { return u.key }

// http01Provider is lego's http-01 provider for the bench: it publishes
// key authorizations on the shared responder, which answers for every
// name, so the domain is not needed. It is safe for concurrent use.
type http01Provider struct {
	responder *http01Responder
}

var _ challenge.Provider = http01Provider{}

// Present serves keyAuth for token until CleanUp.
func (p http01Provider) Present(_, token, keyAuth string) error {
	p.responder.put(token, keyAuth)
	return nil
}

// CleanUp stops serving token.
func (p http01Provider) CleanUp(_, token, _ string) error {
	p.responder.remove(token)
	return nil
}

// requestCounter counts the HTTP requests of one client, retries and
// nonce fetches included.
type requestCounter struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (r *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	r.n.Add(1)
	return r.next.RoundTrip(req)
}

func (r *requestCounter) count() int64 { return r.n.Load() }
