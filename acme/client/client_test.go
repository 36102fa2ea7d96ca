package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/server"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/store"
)

// newGateway starts an in-process gateway whose fake validator accepts
// every challenge.
func newGateway(t *testing.T, opts acmetest.Options) *acmetest.Gateway {
	t.Helper()
	return acmetest.New(t, opts)
}

// newTestClient returns a client of gw with a fresh P-256 key and fast
// polling.
func newTestClient(t *testing.T, gw *acmetest.Gateway, opts Options) *Client {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	c, err := New(gw.URLFor("directory"), newECKey(t), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// newRegisteredClient is newTestClient with its account registered.
func newRegisteredClient(t *testing.T, gw *acmetest.Gateway, opts Options) *Client {
	t.Helper()
	c := newTestClient(t, gw, opts)
	if _, err := c.Register(t.Context(), AccountRequest{TermsOfServiceAgreed: true}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return c
}

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating a key: %v", err)
	}
	return key
}

// newCSR returns a DER CSR for names signed by key.
func newCSR(t *testing.T, key crypto.Signer, names ...string) []byte {
	t.Helper()
	tmpl := &x509.CertificateRequest{DNSNames: names}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatalf("creating a CSR: %v", err)
	}
	return der
}

// authorize answers the first challenge of type typ of every authorization
// of o with payload and waits until each is valid.
func authorize(t *testing.T, c *Client, o *Order, typ string, payload any) {
	t.Helper()
	ctx := t.Context()
	for _, u := range o.Authorizations {
		a, err := c.Authorization(ctx, u)
		if err != nil {
			t.Fatalf("Authorization: %v", err)
		}
		ch := a.Challenge(typ)
		if ch == nil {
			t.Fatalf("authorization %s: no %s challenge among %+v", u, typ, a.Challenges)
		}
		if _, err := c.Respond(ctx, ch.URL, payload); err != nil {
			t.Fatalf("Respond: %v", err)
		}
		if _, err := c.WaitAuthorization(ctx, u); err != nil {
			t.Fatalf("WaitAuthorization: %v", err)
		}
	}
}

// issue runs a whole order for names and returns the valid order, the
// downloaded chain and the parsed leaf.
func issue(t *testing.T, c *Client, req OrderRequest) (*Order, []byte, *x509.Certificate) {
	t.Helper()
	ctx := t.Context()
	o, err := c.NewOrder(ctx, req)
	if err != nil {
		t.Fatalf("NewOrder: %v", err)
	}
	authorize(t, c, o, ChallengeHTTP01, nil)
	if o, err = c.WaitOrder(ctx, o.URL); err != nil || o.Status != StatusReady {
		t.Fatalf("WaitOrder: got %v, %v, want a ready order", o, err)
	}
	var names []string
	for _, id := range req.Identifiers {
		names = append(names, id.Value)
	}
	o, err = c.Finalize(ctx, o, newCSR(t, newECKey(t), names...))
	if err != nil {
		t.Fatalf("Finalize: %v", err)
	}
	chain, err := c.Certificate(ctx, o.Certificate)
	if err != nil {
		t.Fatalf("Certificate: %v", err)
	}
	block, _ := pem.Decode(chain)
	if block == nil {
		t.Fatalf("Certificate: got %q, want PEM", chain)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parsing the leaf: %v", err)
	}
	return o, chain, leaf
}

func TestFlow(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, acmetest.Options{})
	c := newRegisteredClient(t, gw, Options{})
	names := []string{"a.test.internal", "b.test.internal"}

	o, chain, leaf := issue(t, c, OrderRequest{Identifiers: []Identifier{
		NewIdentifier(names[0]), NewIdentifier(names[1])}})
	if o.Status != StatusValid {
		t.Errorf("order status: got %q, want valid", o.Status)
	}
	if got := strings.Join(leaf.DNSNames, ","); got != strings.Join(names, ",") {
		t.Errorf("leaf SANs: got %s, want %s", got, strings.Join(names, ","))
	}
	if n := bytes.Count(chain, []byte("BEGIN CERTIFICATE")); n != 2 {
		t.Errorf("chain: got %d certificates, want the leaf and the intermediate", n)
	}
	if got := gw.Issuer.Calls(); got != 1 {
		t.Errorf("signer calls: got %d, want 1", got)
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, acmetest.Options{})
	ctx := t.Context()
	c := newTestClient(t, gw, Options{})

	req := OrderRequest{Identifiers: []Identifier{NewIdentifier("x.test")}}
	if _, err := c.NewOrder(ctx, req); !errors.Is(err, ErrNoAccount) {
		t.Errorf("NewOrder before Register: got %v, want ErrNoAccount", err)
	}
	_, err := c.Register(ctx, AccountRequest{OnlyReturnExisting: true})
	wantProblem(t, err, "accountDoesNotExist", http.StatusBadRequest)

	first, err := c.Register(ctx, AccountRequest{TermsOfServiceAgreed: true})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if first.Status != StatusValid || first.URL == "" || c.AccountURL() != first.URL {
		t.Errorf("Register: got status %q, URL %q (client %q), want valid and a URL",
			first.Status, first.URL, c.AccountURL())
	}
	again, err := c.Register(ctx, AccountRequest{TermsOfServiceAgreed: true})
	if err != nil || again.URL != first.URL {
		t.Errorf("second Register: got %v, %v, want the same account %s", again, err, first.URL)
	}
}

func TestRegisterEAB(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, acmetest.Options{
		Config: state.Config{RequireEAB: true},
		Meta:   server.Meta{ExternalAccountRequired: true},
	})
	mac := bytes.Repeat([]byte{7}, 32)
	err := gw.Store.Transact(context.Background(), func(tx *store.Tx) error {
		return tx.CreateEABKey(&store.EABKey{ID: "kid-1", MACKey: mac})
	})
	if err != nil {
		t.Fatalf("storing an EAB key: %v", err)
	}

	tests := []struct {
		name string
		eab  *ExternalAccountBinding
		want string // problem type; empty for success
	}{
		{name: "missing", want: "externalAccountRequired"},
		{name: "wrong MAC key", eab: &ExternalAccountBinding{KeyID: "kid-1",
			MACKey: bytes.Repeat([]byte{8}, 32)}, want: "unauthorized"},
		{name: "unknown key ID", eab: &ExternalAccountBinding{KeyID: "kid-2", MACKey: mac},
			want: "unauthorized"},
		{name: "good", eab: &ExternalAccountBinding{KeyID: "kid-1", MACKey: mac}},
	}
	for _, tt := range tests {
		// Sequential: the key is single-use, and "good" must come last.
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, gw, Options{})
			_, err := c.Register(t.Context(), AccountRequest{TermsOfServiceAgreed: true, EAB: tt.eab})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Register: %v", err)
				}
				return
			}
			if !IsProblem(err, tt.want) {
				t.Errorf("Register: got %v, want problem %s", err, tt.want)
			}
		})
	}
}

func TestDirectoryMeta(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, acmetest.Options{Meta: server.Meta{ExternalAccountRequired: true,
		Profiles: map[string]string{"default": "24 hours"}}})
	c := newTestClient(t, gw, Options{})
	dir, err := c.Directory(t.Context())
	if err != nil {
		t.Fatalf("Directory: %v", err)
	}
	if !dir.Meta.ExternalAccountRequired || dir.Meta.Profiles["default"] != "24 hours" ||
		dir.RenewalInfo == "" || dir.RevokeCert == "" {
		t.Errorf("Directory: got %+v, want externalAccountRequired, the profile, "+
			"renewalInfo and revokeCert", dir)
	}
}

func TestBadNonceRetried(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, acmetest.Options{})
	c := newTestClient(t, gw, Options{})
	if _, err := c.Directory(t.Context()); err != nil {
		t.Fatalf("Directory: %v", err)
	}

	// One stale nonce: the first attempt fails, the retry uses the fresh
	// nonce of the refusal.
	c.keepNonce("c3RhbGUtbm9uY2UtdGhhdC13YXMtbmV2ZXItaXNzdWVk")
	if _, err := c.Register(t.Context(), AccountRequest{TermsOfServiceAgreed: true}); err != nil {
		t.Fatalf("Register after one bad nonce: got %v, want success", err)
	}
}

func TestBadNonceRetriedOnce(t *testing.T) {
	t.Parallel()
	// A server that refuses every nonce: the client gives up after one
	// retry.
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Replay-Nonce", "bm9uY2U")
		switch {
		case r.URL.Path == "/directory":
			base := "http://" + r.Host
			_ = json.NewEncoder(w).Encode(Directory{NewNonce: base + "/nonce",
				NewAccount: base + "/account", NewOrder: base + "/order"})
		case r.Method == http.MethodPost:
			posts.Add(1)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"type":"urn:ietf:params:acme:error:badNonce","detail":"stale"}`))
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL+"/directory", newECKey(t), Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err = c.Register(t.Context(), AccountRequest{})
	wantProblem(t, err, ProblemBadNonce, http.StatusBadRequest)
	if n := posts.Load(); n != 2 {
		t.Errorf("POSTs: got %d, want 2 (one retry)", n)
	}
}

func TestNonProblemError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "upstream is down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c, err := New(srv.URL, newECKey(t), Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err = c.Directory(t.Context())
	var pe *ProblemError
	if !errors.As(err, &pe) {
		t.Fatalf("Directory: got %v, want a *ProblemError", err)
	}
	if pe.Status != http.StatusServiceUnavailable || pe.Type != "" ||
		pe.Detail != "upstream is down" || pe.RetryAfter != 7*time.Second {
		t.Errorf("problem: got %+v, want status 503, no type, the body as detail, Retry-After 7s", pe)
	}
}

func TestRespondPayload(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, acmetest.Options{})
	c := newRegisteredClient(t, gw, Options{})
	ctx := t.Context()

	tests := []struct {
		name    string
		payload any
		want    string
	}{
		{name: "nil", payload: nil, want: `{}`},
		{name: "map", payload: map[string]string{"tkauth": "a.b.c"}, want: `{"tkauth":"a.b.c"}`},
		{name: "raw", payload: json.RawMessage(`{"x": 1}`), want: `{"x": 1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := c.NewOrder(ctx, OrderRequest{Identifiers: []Identifier{
				NewIdentifier(tt.name + ".payload.test")}})
			if err != nil {
				t.Fatalf("NewOrder: %v", err)
			}
			authorize(t, c, o, ChallengeHTTP01, tt.payload)
			last := gw.Validator.Last()
			if last == nil || string(last.Payload) != tt.want {
				t.Errorf("payload seen by the validator: got %s, want %s", payloadOf(last), tt.want)
			}
		})
	}

	if _, err := c.Respond(ctx, gw.URLFor("chall", "x"), []string{"not", "an", "object"}); err == nil {
		t.Errorf("Respond with an array: got nil error, want one")
	}
}

func payloadOf(r *challenges.Request) string {
	if r == nil {
		return "no request"
	}
	return string(r.Payload)
}

func TestWaitAuthorizationInvalid(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, acmetest.Options{})
	gw.Validator.Fail(challenges.KindUnauthorized, "token refused")
	c := newRegisteredClient(t, gw, Options{})
	ctx := t.Context()

	o, err := c.NewOrder(ctx, OrderRequest{Identifiers: []Identifier{NewIdentifier("bad.test")}})
	if err != nil {
		t.Fatalf("NewOrder: %v", err)
	}
	a, err := c.Authorization(ctx, o.Authorizations[0])
	if err != nil {
		t.Fatalf("Authorization: %v", err)
	}
	if _, err := c.Respond(ctx, a.Challenge(ChallengeHTTP01).URL, nil); err != nil {
		t.Fatalf("Respond: %v", err)
	}
	_, err = c.WaitAuthorization(ctx, a.URL)
	if !IsProblem(err, "unauthorized") || !strings.Contains(err.Error(), "token refused") {
		t.Errorf("WaitAuthorization: got %v, want an unauthorized problem with the detail", err)
	}
	if _, err := c.WaitOrder(ctx, o.URL); err == nil {
		t.Errorf("WaitOrder of the failed order: got nil error, want one")
	}
}

// holdValidations makes every validation wait until release is closed or
// its context ends, then succeed.
func holdValidations(gw *acmetest.Gateway, release <-chan struct{}) {
	gw.Validator.Set(func(ctx context.Context, req challenges.Request) (challenges.Record, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return challenges.Record{Type: "fake", Hostname: req.Identifier.Value}, nil
	})
}

func TestWaitAuthorizationPolls(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, acmetest.Options{Config: state.Config{ValidationWait: time.Millisecond}})
	release := make(chan struct{})
	holdValidations(gw, release)
	// The server asks for Retry-After: 1; the cap makes the test fast and
	// shows that the cap applies.
	c := newRegisteredClient(t, gw, Options{MaxRetryAfter: 50 * time.Millisecond})
	ctx := t.Context()

	o, err := c.NewOrder(ctx, OrderRequest{Identifiers: []Identifier{NewIdentifier("slow.test")}})
	if err != nil {
		t.Fatalf("NewOrder: %v", err)
	}
	a, err := c.Authorization(ctx, o.Authorizations[0])
	if err != nil {
		t.Fatalf("Authorization: %v", err)
	}
	ch, err := c.Respond(ctx, a.Challenge(ChallengeHTTP01).URL, nil)
	if err != nil {
		t.Fatalf("Respond: %v", err)
	}
	if ch.Status != StatusProcessing {
		t.Errorf("challenge status after Respond: got %q, want processing", ch.Status)
	}
	time.AfterFunc(300*time.Millisecond, func() { close(release) })
	start := time.Now()
	if _, err := c.WaitAuthorization(ctx, a.URL); err != nil {
		t.Fatalf("WaitAuthorization: %v", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("WaitAuthorization took %v, want well under the 1s Retry-After (capped to 50ms)", d)
	}
}

func TestWaitAuthorizationBounded(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, acmetest.Options{Config: state.Config{ValidationWait: time.Millisecond}})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	holdValidations(gw, release)

	tests := []struct {
		name    string
		opts    Options
		timeout time.Duration // of the caller's context; zero for none
	}{
		{name: "poll timeout", opts: Options{PollTimeout: 200 * time.Millisecond}},
		{name: "context", timeout: 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newRegisteredClient(t, gw, tt.opts)
			ctx := t.Context()
			o, err := c.NewOrder(ctx, OrderRequest{Identifiers: []Identifier{
				NewIdentifier(strings.ReplaceAll(tt.name, " ", "-") + ".held.test")}})
			if err != nil {
				t.Fatalf("NewOrder: %v", err)
			}
			a, err := c.Authorization(ctx, o.Authorizations[0])
			if err != nil {
				t.Fatalf("Authorization: %v", err)
			}
			if _, err := c.Respond(ctx, a.Challenge(ChallengeHTTP01).URL, nil); err != nil {
				t.Fatalf("Respond: %v", err)
			}
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			start := time.Now()
			_, err = c.WaitAuthorization(ctx, a.URL)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WaitAuthorization: got %v, want context.DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("WaitAuthorization returned after %v, want about 200ms", d)
			}
		})
	}
}

func TestRenewalInfoAndReplaces(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, acmetest.Options{})
	c := newRegisteredClient(t, gw, Options{})
	ctx := t.Context()
	ids := []Identifier{NewIdentifier("renew.test.internal")}
	_, _, leaf := issue(t, c, OrderRequest{Identifiers: ids})

	id, err := CertificateID(leaf)
	if err != nil {
		t.Fatalf("CertificateID: %v", err)
	}
	if want := state.CertificateID(leaf); id != want {
		t.Errorf("CertificateID: got %s, want the server's %s", id, want)
	}
	info, err := c.RenewalInfo(ctx, leaf)
	if err != nil {
		t.Fatalf("RenewalInfo: %v", err)
	}
	w := info.Window
	if w.Start.Before(leaf.NotBefore) || w.End.After(leaf.NotAfter) || info.RetryAfter <= 0 {
		t.Errorf("RenewalInfo: got %v to %v, Retry-After %v; want within %v to %v and a Retry-After",
			w.Start, w.End, info.RetryAfter, leaf.NotBefore, leaf.NotAfter)
	}

	o, _, _ := issue(t, c, OrderRequest{Identifiers: ids, Replaces: id})
	if o.Replaces != id {
		t.Errorf("order replaces: got %q, want %q", o.Replaces, id)
	}
	other := newRegisteredClient(t, gw, Options{})
	_, err = other.NewOrder(ctx, OrderRequest{Identifiers: ids, Replaces: id})
	wantProblem(t, err, "malformed", http.StatusBadRequest)
}

func TestRenewalInfoUnknown(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, acmetest.Options{})
	c := newTestClient(t, gw, Options{})
	cert := &x509.Certificate{AuthorityKeyId: []byte{1, 2, 3}, SerialNumber: big.NewInt(42)}
	_, err := c.RenewalInfo(t.Context(), cert)
	wantProblem(t, err, "malformed", http.StatusNotFound)

	_, err = c.RenewalInfo(t.Context(), &x509.Certificate{SerialNumber: big.NewInt(1)})
	if err == nil {
		t.Errorf("RenewalInfo without an AKI: got nil error, want one")
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, acmetest.Options{})
	c := newRegisteredClient(t, gw, Options{})
	_, _, leaf := issue(t, c, OrderRequest{Identifiers: []Identifier{NewIdentifier("revoke.test")}})

	if err := c.Revoke(t.Context(), leaf.Raw, ReasonSuperseded); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	err := c.Revoke(t.Context(), leaf.Raw, ReasonSuperseded)
	wantProblem(t, err, "alreadyRevoked", http.StatusBadRequest)
}

func TestCertificateID(t *testing.T) {
	t.Parallel()
	// RFC 9773, Section 4.1, the example: keyIdentifier
	// 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4 and
	// serial 0x87654321, whose DER value octets gain a leading zero.
	aki := []byte{0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
		0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4}
	tests := []struct {
		name   string
		serial *big.Int
		want   string
	}{
		{name: "leading zero", serial: big.NewInt(0x87654321),
			want: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"},
		{name: "no leading zero", serial: big.NewInt(0x12345678),
			want: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.EjRWeA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := CertificateID(&x509.Certificate{AuthorityKeyId: aki, SerialNumber: tt.serial})
			if err != nil || got != tt.want {
				t.Errorf("CertificateID: got %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.header != "" {
			h.Set("Retry-After", tt.header)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("retryAfter(%q): got %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestWindowRandomTime(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := Window{Start: start, End: start.Add(time.Hour)}
	r := mrand.New(mrand.NewPCG(1, 2))
	tests := []struct {
		name   string
		spread time.Duration
		end    time.Time
	}{
		{name: "whole window", end: w.End},
		{name: "spread", spread: time.Second, end: start.Add(time.Second)},
		{name: "spread wider than the window", spread: 2 * time.Hour, end: w.End},
	}
	for _, tt := range tests {
		for range 100 {
			got := w.RandomTime(tt.spread, r)
			if got.Before(start) || !got.Before(tt.end) {
				t.Fatalf("%s: RandomTime: got %v, want in [%v, %v)", tt.name, got, start, tt.end)
			}
		}
	}
	if got := (Window{Start: start, End: start}).RandomTime(0, nil); !got.Equal(start) {
		t.Errorf("RandomTime of an empty window: got %v, want its start", got)
	}
}

func TestDecodeMACKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []byte
		wantErr bool
	}{
		{in: "AQID", want: []byte{1, 2, 3}},
		{in: "AQI=", want: []byte{1, 2}},
		{in: " _-8 ", want: []byte{0xff, 0xef}},
		{in: "", wantErr: true},
		{in: "a+b/", wantErr: true},
	}
	for _, tt := range tests {
		got, err := DecodeMACKey(tt.in)
		if (err != nil) != tt.wantErr || !bytes.Equal(got, tt.want) {
			t.Errorf("DecodeMACKey(%q): got %x, %v; want %x, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNewRefusesKeys(t *testing.T) {
	t.Parallel()
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatalf("generating a P-224 key: %v", err)
	}
	if _, err := New("https://ca.test/directory", p224, Options{}); err == nil {
		t.Errorf("New with a P-224 key: got nil error, want one")
	}
	if _, err := New("", newECKey(t), Options{}); err == nil {
		t.Errorf("New without a URL: got nil error, want one")
	}
}

// wantProblem fails unless err wraps a *ProblemError of type typ (without
// the URN prefix) and HTTP status.
func wantProblem(t *testing.T, err error, typ string, status int) {
	t.Helper()
	var pe *ProblemError
	if !errors.As(err, &pe) {
		t.Fatalf("got error %v, want an ACME problem %s", err, typ)
	}
	if pe.Type != ProblemURNPrefix+typ || pe.Kind() != typ {
		t.Errorf("problem type: got %q (detail %q), want %s%s", pe.Type, pe.Detail, ProblemURNPrefix, typ)
	}
	if pe.Status != status {
		t.Errorf("problem status: got %d, want %d", pe.Status, status)
	}
}
