package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
)

// userAgent identifies the benchmark in server logs.
const userAgent = "acmegate-bench/1"

// client is one ACME account driven by one goroutine in api mode.
type client struct {
	id      int
	core    *api.Core
	retry   *retryAfterRecorder
	opts    options
	roots   *x509.CertPool
	http01  *http01Responder
	names   nameSource
	created time.Duration // how long the account creation took
}

// newClient creates the account of api-mode worker id.
func newClient(
	ctx context.Context,
	id int,
	opts options,
	tlsRoots, roots *x509.CertPool,
	http01 *http01Responder,
	names nameSource,
) (*client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := time.Now()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating account key: %w", err)
	}

	// Each client has its own connections, as separate machines would.
	rec := &retryAfterRecorder{next: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: tlsRoots, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     time.Minute,
		ForceAttemptHTTP2:   true,
	}}
	httpClient := &http.Client{Transport: rec, Timeout: opts.reqTimeout}
	core, err := api.New(httpClient, userAgent, opts.directory, "", key)
	if err != nil {
		return nil, fmt.Errorf("fetching directory: %w", err)
	}
	// Accounts.New also switches later requests to the account URL as kid
	// (RFC 8555, Section 6.2).
	if _, err := core.Accounts.New(acme.Account{TermsOfServiceAgreed: true}); err != nil {
		return nil, fmt.Errorf("creating account: %w", err)
	}
	return &client{
		id: id, core: core, retry: rec, opts: opts, roots: roots,
		http01: http01, names: names, created: time.Since(start),
	}, nil
}

// retryAfterRecorder remembers the Retry-After header of the last response,
// which lego's services do not return for authorizations and orders. One
// recorder serves one client goroutine, so "last" is well defined.
type retryAfterRecorder struct {
	next http.RoundTripper
	last atomic.Int64 // nanoseconds; -1 when the last response had none
}

func (r *retryAfterRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	r.last.Store(int64(parseRetryAfter(resp.Header.Get("Retry-After"))))
	return resp, nil
}

// retryAfter returns the delay the last response asked for, or -1.
func (r *retryAfterRecorder) retryAfter() time.Duration {
	return time.Duration(r.last.Load())
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110, Section
// 10.2.3); it returns -1 when v is empty or unreadable.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return -1
}

// pollDelay is how long to sleep before the next poll: what the server
// asked for, capped at -poll-cap, or -poll-default when it asked nothing.
// A floor of a millisecond keeps "Retry-After: 0" from spinning.
func (c *client) pollDelay() time.Duration {
	return c.clampDelay(c.retry.retryAfter())
}

// clampDelay applies the poll rules of [client.pollDelay] to d, the delay
// a server asked for or -1.
func (c *client) clampDelay(d time.Duration) time.Duration {
	if d < 0 {
		d = c.opts.pollDefault
	}
	return max(min(d, c.opts.pollCap), time.Millisecond)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
