package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/server"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/challenges"
)

// startTestHTTP01 starts the bench's http-01 responder on a free loopback
// port for the test.
func startTestHTTP01(t *testing.T) *http01Responder {
	t.Helper()
	r, err := startHTTP01("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r
}

// fetchKeyAuth asks the responder at addr for token's key authorization
// as a validator would, returning the status and body.
func fetchKeyAuth(ctx context.Context, addr, token string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://"+addr+challengePrefix+token, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func TestHTTP01ProviderPresentAndCleanUp(t *testing.T) {
	t.Parallel()
	r := startTestHTTP01(t)
	p := http01Provider{responder: r}
	const token, keyAuth = "tok-1_A", "tok-1_A.thumbprint"

	if err := p.Present("a.example.com", token, keyAuth); err != nil {
		t.Fatalf("Present: %v", err)
	}
	status, body, err := fetchKeyAuth(t.Context(), r.addr, token)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK || body != keyAuth {
		t.Errorf("after Present: got %d %q, want 200 %q", status, body, keyAuth)
	}

	if err := p.CleanUp("a.example.com", token, keyAuth); err != nil {
		t.Fatalf("CleanUp: %v", err)
	}
	status, _, err = fetchKeyAuth(t.Context(), r.addr, token)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusNotFound {
		t.Errorf("after CleanUp: got %d, want 404", status)
	}
}

// fetchingValidator makes gw's validator do what a real http-01 validator
// does with the bench's responder: fetch the token from addr and compare.
func fetchingValidator(gw *acmetest.Gateway, addr string) {
	gw.Validator.Set(func(ctx context.Context, req challenges.Request) (challenges.Record, error) {
		status, body, err := fetchKeyAuth(ctx, addr, req.Token)
		if err != nil {
			return challenges.Record{}, &challenges.Error{
				Kind: challenges.KindConnection, Detail: err.Error()}
		}
		if status != http.StatusOK || body != req.KeyAuthorization {
			return challenges.Record{}, &challenges.Error{Kind: challenges.KindUnauthorized,
				Detail: fmt.Sprintf("got %d %q", status, body)}
		}
		return challenges.Record{Type: challenges.TypeHTTP01, Hostname: req.Identifier.Value}, nil
	})
}

// httpsGateway starts an in-process gateway (acmetest) whose ACME front
// end is served over HTTPS, which lego requires (RFC 8555, Section 6.1):
// a second front end on the gateway's engine and nonces, on a TLS test
// server. It returns the gateway, its directory URL over HTTPS and the
// root of that server's certificate.
func httpsGateway(t *testing.T) (*acmetest.Gateway, string, *x509.CertPool) {
	t.Helper()
	tlsSrv := httptest.NewUnstartedServer(nil)
	base := "https://" + tlsSrv.Listener.Addr().String()
	gw := acmetest.New(t, acmetest.Options{
		Config: state.Config{AccountURLPrefix: base + server.Prefix + "/acct/"},
	})
	front, err := server.New(server.Options{
		ExternalURL:     base,
		Engine:          gw.Engine,
		Nonces:          gw.Nonces,
		IntermediatePEM: gw.Issuer.ChainPEM(),
		Prefix:          gw.Prefix,
		Now:             gw.Clock.Now,
	})
	if err != nil {
		t.Fatalf("building the HTTPS front end: %v", err)
	}
	tlsSrv.Config.Handler = front.Handler()
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	tlsRoots := x509.NewCertPool()
	tlsRoots.AddCert(tlsSrv.Certificate())
	return gw, base + gw.Prefix + "/directory", tlsRoots
}

func TestLegoModeObtains(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// fail, when set, is the validation failure every challenge gets.
		fail       string
		wantIssued int
	}{
		{name: "valid", wantIssued: 4},
		{name: "unauthorized", fail: challenges.KindUnauthorized, wantIssued: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gw, directory, tlsRoots := httpsGateway(t)
			// The chain is verified at the real time, so the gateway signs
			// at it too.
			gw.Clock.Set(time.Now())
			http01 := startTestHTTP01(t)
			fetchingValidator(gw, http01.addr)
			if tc.fail != "" {
				gw.Validator.Fail(tc.fail, "the test says no")
			}
			roots := x509.NewCertPool()
			roots.AddCert(gw.Issuer.CA().Root)

			opts := options{
				directory:   directory,
				concurrency: 2,
				total:       4,
				domain:      "bench.example.com",
				timeout:     time.Minute,
				reqTimeout:  30 * time.Second,
			}
			rep := runLegoFleet(t, opts, tlsRoots, roots, http01)

			if rep.Client != clientLego {
				t.Errorf("got client %q, want %q", rep.Client, clientLego)
			}
			if rep.Issued != tc.wantIssued || rep.Errors != opts.total-tc.wantIssued {
				t.Errorf("got %d issued and %d errors, want %d and %d", rep.Issued, rep.Errors,
					tc.wantIssued, opts.total-tc.wantIssued)
			}
			if rep.TimedOut {
				t.Error("got a timed-out run, want none")
			}
			if got := gw.Validator.Calls(); got != int64(opts.total) {
				t.Errorf("got %d validations, want %d", got, opts.total)
			}
			for _, s := range rep.ErrorSamples {
				if !strings.Contains(s.Message, tc.fail) || strings.Contains(s.Message, opts.domain) {
					t.Errorf("got error %q, want one naming %q without the ordered name",
						s.Message, tc.fail)
				}
			}
			if tc.wantIssued > 0 && rep.Requests <= 0 {
				t.Errorf("got %.1f requests per certificate, want some", rep.Requests)
			}
			// Every CleanUp ran: the responder serves no token any more.
			http01.keyAuths.Range(func(k, _ any) bool {
				t.Errorf("token %v still served after the run", k)
				return true
			})
		})
	}
}

// runLegoFleet creates opts.concurrency lego-mode workers and measures
// opts.total issuances with them.
func runLegoFleet(
	t *testing.T,
	opts options,
	tlsRoots, roots *x509.CertPool,
	http01 *http01Responder,
) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), opts.timeout)
	defer cancel()
	names, err := newNameSource(opts)
	if err != nil {
		t.Fatal(err)
	}
	workers, err := createWorkers(opts.concurrency, func(int) (*legoClient, error) {
		return newLegoClient(ctx, opts, tlsRoots, roots, http01, names)
	})
	if err != nil {
		t.Fatalf("creating lego clients: %v", err)
	}
	rep, err := measure(ctx, opts, &fleet{client: clientLego, workers: workers}, &retryCounter{})
	if err != nil {
		t.Fatalf("measuring: %v", err)
	}
	return rep
}
