package server_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/challenges"
)

// oneAuthz makes an order for one name and returns its URL, its
// authorization and the http-01 challenge.
func oneAuthz(t *testing.T, c *acmetest.Client, name string) (
	string, *acmetest.Authz, *acmetest.Challenge,
) {
	t.Helper()
	url, o := c.NewOrder(t, name)
	a := c.FetchAuthz(t, o.Authorizations[0])
	return url, a, acmetest.ChallengeOf(t, a, "http-01")
}

// respond posts {} to the challenge and decodes the challenge answered.
func respond(t *testing.T, c *acmetest.Client, url string) (*acmetest.Response, *acmetest.Challenge) {
	t.Helper()
	r := c.Respond(t, url).Want(t, http.StatusOK)
	var ch acmetest.Challenge
	r.JSON(t, &ch)
	return r, &ch
}

// TestChallengeValid checks a successful validation: the challenge answer
// is already valid (the server waits for fast validations), the
// authorization is valid and the order ready; the validator was given the
// key authorization of RFC 8555, Section 8.1.
func TestChallengeValid(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	url, _, ch := oneAuthz(t, c, "valid.corp.internal")

	r, got := respond(t, c, ch.URL)
	if got.Status != "valid" || got.Validated == "" || got.Error != nil {
		t.Errorf("got challenge %+v, want valid with a validated time and no error", got)
	}
	if up := fmt.Sprintf("<%s>;rel=%q", c.FetchOrder(t, url).Authorizations[0], "up"); !r.HasLink(up) {
		t.Errorf("got Link %q, want %s", r.Header.Values("Link"), up)
	}
	if az := c.FetchAuthz(t, c.FetchOrder(t, url).Authorizations[0]); az.Status != "valid" {
		t.Errorf("got authorization status %q, want valid", az.Status)
	}
	if o := c.FetchOrder(t, url); o.Status != "ready" {
		t.Errorf("got order status %q, want ready", o.Status)
	}

	// E5: the key authorization binds the token to the account key.
	sum, err := c.JWK().Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatalf("thumbprint: %v", err)
	}
	want := ch.Token + "." + base64.RawURLEncoding.EncodeToString(sum)
	last := gw.Validator.Last()
	if last == nil || last.KeyAuthorization != want ||
		last.Identifier != (challenges.Identifier{Type: "dns", Value: "valid.corp.internal"}) {
		t.Errorf("got validation request %+v, want key authorization %q for valid.corp.internal",
			last, want)
	}

	// Answering again starts nothing.
	_, again := respond(t, c, ch.URL)
	if again.Status != "valid" || gw.Validator.Calls() != 1 {
		t.Errorf("got status %q after %d validations, want valid after 1", again.Status,
			gw.Validator.Calls())
	}
}

// TestChallengeInvalid checks a failed validation: the problem is stored
// on the challenge, and the authorization and the order become invalid
// (RFC 8555, Section 7.1.6); no later request validates again (D6).
func TestChallengeInvalid(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	gw.Validator.Fail(challenges.KindIncorrectResponse, "the key authorization did not match")
	url, a, ch := oneAuthz(t, c, "wrong.corp.internal")

	_, got := respond(t, c, ch.URL)
	if got.Status != "invalid" || got.Error == nil {
		t.Fatalf("got challenge %+v, want invalid with an error", got)
	}
	if got.Error.Type != urn("incorrectResponse") ||
		got.Error.Detail != "the key authorization did not match" ||
		got.Error.Identifier == nil || got.Error.Identifier.Value != "wrong.corp.internal" {
		t.Errorf("got error %+v, want incorrectResponse for wrong.corp.internal with the detail",
			got.Error)
	}
	o := c.FetchOrder(t, url)
	if az := c.FetchAuthz(t, o.Authorizations[0]); az.Status != "invalid" {
		t.Errorf("got authorization status %q, want invalid", az.Status)
	}
	if o.Status != "invalid" || o.Error == nil {
		t.Errorf("got order %+v, want invalid with an error", o)
	}

	before := gw.Snapshot(t)
	gw.Validator.Set(nil)
	for _, other := range a.Challenges {
		r, again := respond(t, c, other.URL)
		if again.Status == "valid" || r.Status != http.StatusOK {
			t.Errorf("%s: got %s, want the challenge as it was", other.Type, r)
		}
	}
	if n := gw.Validator.Calls(); n != 1 {
		t.Errorf("got %d validations, want 1", n)
	}
	if diff := before.Diff(gw.Snapshot(t)); diff != "" {
		t.Errorf("answering an invalid authorization's challenges changed stored state: %s", diff)
	}
	wantProblem(t, c.Finalize(t, o, acmetest.CSR(t, acmetest.NewKey(t, jose.ES256),
		[]string{"wrong.corp.internal"}, nil)), http.StatusForbidden, "orderNotReady")
}

// TestChallengeFailures checks how validator outcomes other than a clean
// refusal are stored: a timeout becomes connection, an internal error and
// a panic become serverInternal with a generic detail (A13: the process
// survives a validator panic).
func TestChallengeFailures(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{Config: state.Config{ValidationTimeout: 50 * time.Millisecond}})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)

	cases := []struct {
		name   string
		fn     acmetest.ValidateFunc
		typ    string
		detail string
	}{
		{"timeout", func(ctx context.Context, _ challenges.Request) (challenges.Record, error) {
			<-ctx.Done()
			return challenges.Record{}, ctx.Err()
		}, "connection", "timed out"},
		{"internal error", func(context.Context, challenges.Request) (challenges.Record, error) {
			return challenges.Record{}, errors.New("resolver: socket /run/secret: permission denied")
		}, "serverInternal", "failed unexpectedly"},
		{"A13 validator panic", func(context.Context, challenges.Request) (challenges.Record, error) {
			panic("attestation parser: index out of range")
		}, "serverInternal", "failed unexpectedly"},
		{"dns error kind", func(context.Context, challenges.Request) (challenges.Record, error) {
			return challenges.Record{}, &challenges.Error{Kind: challenges.KindDNS, Detail: "SERVFAIL"}
		}, "dns", "SERVFAIL"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gw.Validator.Set(tc.fn)
			_, _, ch := oneAuthz(t, c, fmt.Sprintf("f%d.corp.internal", i))
			_, got := respond(t, c, ch.URL)
			if got.Status != "invalid" || got.Error == nil {
				t.Fatalf("got challenge %+v, want invalid with an error", got)
			}
			if got.Error.Type != urn(tc.typ) || got.Error.Detail == "" {
				t.Errorf("got error %+v, want type %s", got.Error, tc.typ)
			}
			if want := tc.detail; want != "" && !containsFold(got.Error.Detail, want) {
				t.Errorf("got detail %q, want it to contain %q", got.Error.Detail, want)
			}
			for _, leak := range []string{"/run/secret", "index out of range", "resolver:"} {
				if containsFold(got.Error.Detail, leak) {
					t.Errorf("got detail %q, which leaks %q", got.Error.Detail, leak)
				}
			}
		})
	}
	// The gateway still answers after the panic.
	gw.Get(t, gw.URLFor("directory")).Want(t, http.StatusOK)
}

// TestChallengeConcurrent covers catalogue row D5: ten simultaneous answers
// to one challenge start one validation.
func TestChallengeConcurrent(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	gw.Validator.Set(func(context.Context, challenges.Request) (challenges.Record, error) {
		time.Sleep(50 * time.Millisecond)
		return challenges.Record{}, nil
	})
	url, _, ch := oneAuthz(t, c, "busy.corp.internal")

	const n = 10
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = c.SignWithNonce(t, ch.URL, gw.FreshNonce(t), []byte("{}"))
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range bodies {
		wg.Go(func() {
			<-start
			r := gw.Do(t, gw.NewRequest(t, http.MethodPost, ch.URL, acmetest.ContentType, bodies[i]))
			statuses[i] = r.Status
		})
	}
	close(start)
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("request %d: got status %d, want 200 with the challenge", i, s)
		}
	}
	if calls := gw.Validator.Calls(); calls != 1 {
		t.Errorf("got %d validations, want 1", calls)
	}
	if o := c.FetchOrder(t, url); o.Status != "ready" {
		t.Errorf("got order status %q, want ready", o.Status)
	}
}

// TestAuthorizationDeactivation checks RFC 8555, Section 7.5.2: a client
// deactivates its authorization, the order becomes invalid, and the
// challenges can no longer be validated (D6). A second deactivation is
// refused.
func TestAuthorizationDeactivation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	url, _, ch := oneAuthz(t, e.a, "gone.corp.internal")
	authzURL := e.a.FetchOrder(t, url).Authorizations[0]

	var got acmetest.Authz
	e.a.Post(t, authzURL, []byte(`{"status":"deactivated"}`)).Want(t, http.StatusOK).JSON(t, &got)
	if got.Status != "deactivated" {
		t.Errorf("got status %q, want deactivated", got.Status)
	}
	if o := e.a.FetchOrder(t, url); o.Status != "invalid" {
		t.Errorf("got order status %q, want invalid", o.Status)
	}

	// The challenge is returned as it stands, and nothing is validated.
	calls := e.gw.Validator.Calls()
	_, after := respond(t, e.a, ch.URL)
	if after.Status != "pending" || e.gw.Validator.Calls() != calls {
		t.Errorf("got challenge status %q after %d validations, want pending and none",
			after.Status, e.gw.Validator.Calls()-calls)
	}
	runRefusals(t, e, []refusal{{name: "D6 deactivate twice",
		send: func(t *testing.T, e *env) *acmetest.Response {
			return e.a.Post(t, authzURL, []byte(`{"status":"deactivated"}`))
		}, status: 400, typ: "malformed", detail: "pending or valid"}})
}

// containsFold reports whether s contains sub, ignoring case.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// TestChallengeProcessing checks that a validation slower than the
// server's wait is answered as processing with Retry-After, on the
// challenge and on its authorization (RFC 8555, Section 8.2).
func TestChallengeProcessing(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{Config: state.Config{ValidationWait: 20 * time.Millisecond}})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	release := make(chan struct{})
	gw.Validator.Set(func(ctx context.Context, _ challenges.Request) (challenges.Record, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return challenges.Record{}, nil
	})
	url, _, ch := oneAuthz(t, c, "slow.corp.internal")
	authzURL := c.FetchOrder(t, url).Authorizations[0]

	r, got := respond(t, c, ch.URL)
	if got.Status != "processing" || r.Header.Get("Retry-After") == "" {
		t.Errorf("got status %q and Retry-After %q, want processing with Retry-After",
			got.Status, r.Header.Get("Retry-After"))
	}
	if r := c.PostAsGet(t, authzURL).Want(t, http.StatusOK); r.Header.Get("Retry-After") == "" {
		t.Errorf("got no Retry-After on the authorization while its challenge is processing")
	}
	close(release)

	deadline := time.Now().Add(10 * time.Second)
	for c.FetchAuthz(t, authzURL).Status != "valid" {
		if time.Now().After(deadline) {
			t.Fatalf("the authorization did not become valid")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
