package integration

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

// flowTimeout bounds one ACME flow driven with x/crypto/acme.
const flowTimeout = time.Minute

// newXClient returns an x/crypto/acme client of g with a fresh P-256
// account key, registered with the terms of service agreed.
func newXClient(t *testing.T, ctx context.Context, g *gateway) *acme.Client {
	t.Helper()
	client := &acme.Client{
		Key:          newKey(t),
		DirectoryURL: g.DirectoryURL,
		HTTPClient:   g.HTTPClient(),
		UserAgent:    "acmegate-integration",
	}
	acct, err := client.Register(ctx, &acme.Account{}, acme.AcceptTOS)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if acct.Status != acme.StatusValid {
		t.Errorf("account status: got %q, want %q", acct.Status, acme.StatusValid)
	}
	if acct.URI == "" {
		t.Errorf("account URI: got empty, want the account URL")
	}
	return client
}

// findChallenge returns the challenge of type typ of z.
func findChallenge(t *testing.T, z *acme.Authorization, typ string) *acme.Challenge {
	t.Helper()
	for _, c := range z.Challenges {
		if c.Type == typ {
			return c
		}
	}
	var offered []string
	for _, c := range z.Challenges {
		offered = append(offered, c.Type)
	}
	t.Fatalf("authorization for %q offers %q, want %s among them", z.Identifier.Value, offered, typ)
	return nil
}

// newCSR returns a DER CSR for names signed by key.
func newCSR(t *testing.T, key crypto.Signer, names []string) []byte {
	t.Helper()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: names[0]},
		DNSNames: names,
	}, key)
	if err != nil {
		t.Fatalf("creating CSR: %v", err)
	}
	return csr
}

// wantACMEError fails unless err is an *acme.Error of type problemURN+typ
// with the given HTTP status (when not zero), and returns it.
func wantACMEError(t *testing.T, err error, typ string, status int) *acme.Error {
	t.Helper()
	var ae *acme.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v (%T), want an ACME problem %s", err, err, typ)
	}
	if ae.ProblemType != problemURN+typ {
		t.Errorf("problem type: got %q (detail %q), want %q", ae.ProblemType, ae.Detail, problemURN+typ)
	}
	if status != 0 && ae.StatusCode != status {
		t.Errorf("problem status: got %d, want %d", ae.StatusCode, status)
	}
	return ae
}

func TestXCryptoACMEFlow(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	names := []string{"xacme.test.internal", "www.xacme.test.internal"}
	pointAt(g, names...)
	client := newXClient(t, ctx, g)
	start := time.Now()

	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(names...))
	if err != nil {
		t.Fatalf("AuthorizeOrder: %v", err)
	}
	if order.Status != acme.StatusPending {
		t.Errorf("new order status: got %q, want %q", order.Status, acme.StatusPending)
	}
	if len(order.AuthzURLs) != len(names) {
		t.Fatalf("got %d authorizations, want %d", len(order.AuthzURLs), len(names))
	}
	var tokens []string
	for _, u := range order.AuthzURLs {
		z, err := client.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatalf("GetAuthorization: %v", err)
		}
		if z.Status != acme.StatusPending {
			t.Errorf("authorization %q status: got %q, want %q", z.Identifier.Value, z.Status, acme.StatusPending)
		}
		if z.Identifier.Type != "dns" || !slices.Contains(names, z.Identifier.Value) {
			t.Errorf("authorization identifier: got %+v, want a dns identifier among %q", z.Identifier, names)
		}
		chal := findChallenge(t, z, challHTTP01)
		keyAuth, err := client.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			t.Fatalf("HTTP01ChallengeResponse: %v", err)
		}
		g.HTTP01.Set(chal.Token, keyAuth)
		tokens = append(tokens, chal.Token)
		if _, err := client.Accept(ctx, chal); err != nil {
			t.Fatalf("Accept: %v", err)
		}
		if _, err := client.WaitAuthorization(ctx, z.URI); err != nil {
			t.Fatalf("WaitAuthorization(%q): %v", z.Identifier.Value, err)
		}
	}
	for _, tok := range tokens {
		if !sawChallengeRequest(g, tok) {
			t.Errorf("the http-01 responder got no request for token %s", tok)
		}
	}

	order, err = client.WaitOrder(ctx, order.URI)
	if err != nil {
		t.Fatalf("WaitOrder: %v", err)
	}
	if order.Status != acme.StatusReady {
		t.Fatalf("order status: got %q, want %q", order.Status, acme.StatusReady)
	}
	certKey := newKey(t)
	chain, certURL, err := client.CreateOrderCert(ctx, order.FinalizeURL, newCSR(t, certKey, names), true)
	if err != nil {
		t.Fatalf("CreateOrderCert: %v", err)
	}
	t.Logf("x/crypto/acme order to certificate took %v", time.Since(start).Round(time.Millisecond))
	certs := parseDERChain(t, chain)
	leaf := checkChain(t, g, certs, start, wantCert{identifiers: names})
	if !certKey.PublicKey.Equal(leaf.PublicKey) {
		t.Errorf("leaf public key: got %T, want the CSR's key", leaf.PublicKey)
	}

	fetched, err := client.FetchCert(ctx, certURL, true)
	if err != nil {
		t.Fatalf("FetchCert: %v", err)
	}
	if !slices.EqualFunc(fetched, chain, slices.Equal) {
		t.Errorf("FetchCert(%s): got a chain different from the one CreateOrderCert returned", certURL)
	}

	// Revocation signed with the certificate key, not the account key
	// (RFC 8555, Section 7.6). A key that is neither is refused.
	stranger := &acme.Client{Key: newKey(t), DirectoryURL: g.DirectoryURL, HTTPClient: g.HTTPClient()}
	err = stranger.RevokeCert(ctx, nil, leaf.Raw, acme.CRLReasonKeyCompromise)
	wantACMEError(t, err, "unauthorized", http.StatusForbidden)

	problems := &problemLog{next: g.HTTPClient().Transport}
	keyOnly := &acme.Client{Key: certKey, DirectoryURL: g.DirectoryURL,
		HTTPClient: &http.Client{Transport: problems, Timeout: time.Minute}}
	if err := keyOnly.RevokeCert(ctx, certKey, leaf.Raw, acme.CRLReasonKeyCompromise); err != nil {
		t.Fatalf("RevokeCert with the certificate key: %v", err)
	}
	// x/crypto/acme reports alreadyRevoked as success, so the problem is
	// read off the wire.
	if err := keyOnly.RevokeCert(ctx, certKey, leaf.Raw, acme.CRLReasonKeyCompromise); err != nil {
		t.Fatalf("second RevokeCert with the certificate key: %v", err)
	}
	got := problems.last("/acme/revoke-cert")
	want := recordedProblem{status: http.StatusBadRequest, typ: problemURN + "alreadyRevoked"}
	if got != want {
		t.Errorf("second revocation: got status %d problem %q, want %d %q",
			got.status, got.typ, want.status, want.typ)
	}
}

// problemLog is an http.RoundTripper that records the problem documents
// the gateway sent, for the cases a client library hides.
type problemLog struct {
	next http.RoundTripper

	mu       sync.Mutex
	problems map[string]recordedProblem // by URL path
}

// recordedProblem is the status and type of one problem response.
type recordedProblem struct {
	status int
	typ    string
}

func (p *problemLog) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(req)
	if err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var doc struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &doc) // a broken document records an empty type
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.problems == nil {
		p.problems = make(map[string]recordedProblem)
	}
	p.problems[req.URL.Path] = recordedProblem{status: resp.StatusCode, typ: doc.Type}
	return resp, nil
}

// last returns the last problem received for path, or the zero value.
func (p *problemLog) last(path string) recordedProblem {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.problems[path]
}

// sawChallengeRequest reports whether the http-01 responder of g received
// a request for token.
func sawChallengeRequest(g *gateway, token string) bool {
	for _, r := range g.HTTP01.Requests() {
		if r.Path == "/.well-known/acme-challenge/"+token {
			return true
		}
	}
	return false
}

// parseDERChain parses a chain of DER certificates.
func parseDERChain(t *testing.T, chain [][]byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("parsing certificate %d of the chain: %v", i, err)
		}
		out = append(out, c)
	}
	return out
}
