package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"sync"
)

// Client modes: how the workers of a run speak ACME. The value is copied
// into the report, so that summarise keeps the modes apart.
const (
	// clientAPI drives lego's protocol layer (lego/v4/acme/api) step by
	// step and polls with short capped sleeps, to show the server's own
	// speed; see [client.issue].
	clientAPI = "api"
	// clientLego runs the stock lego client, Certifier.Obtain, with its
	// own waits and polling, to show what a user of lego waits for; see
	// [legoClient.issue].
	clientLego = "lego"
)

// clientFlag selects the client mode. It is registered here, beside the
// modes, on the command line parseFlags reads.
var clientFlag = flag.String("client", clientAPI,
	`how workers get certificates: "api" (lego's protocol layer, short polls)`+
		` or "lego" (lego's Certifier.Obtain with its own polling; -poll-* ignored)`)

// worker is one client goroutine's account. Its issue method gets one
// certificate for the name of index i, with the chain checked after the
// clock stops; it is called from one goroutine at a time.
type worker interface {
	issue(ctx context.Context, i int) (issuance, error)
}

var (
	_ worker = (*client)(nil)
	_ worker = (*legoClient)(nil)
)

// fleet is the workers of a run and the client mode they use.
type fleet struct {
	client  string // clientAPI or clientLego
	workers []worker
}

// newClients creates opts.concurrency accounts, in parallel, for the
// client mode chosen with -client.
func newClients(
	ctx context.Context,
	opts options,
	tlsRoots, roots *x509.CertPool,
	http01 *http01Responder,
) (*fleet, error) {
	names, err := newNameSource(opts)
	if err != nil {
		return nil, err
	}
	f := &fleet{client: *clientFlag}
	switch f.client {
	case clientAPI:
		f.workers, err = createWorkers(opts.concurrency, func(i int) (*client, error) {
			return newClient(ctx, i, opts, tlsRoots, roots, http01, names)
		})
	case clientLego:
		f.workers, err = createWorkers(opts.concurrency, func(i int) (*legoClient, error) {
			return newLegoClient(ctx, opts, tlsRoots, roots, http01, names)
		})
	default:
		return nil, fmt.Errorf("-client %q: want %q or %q", f.client, clientAPI, clientLego)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// createWorkers calls create for 0 to n-1 in parallel and returns the
// workers, or the first error by index.
func createWorkers[W worker](n int, create func(i int) (W, error)) ([]worker, error) {
	workers := make([]worker, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var w W
			w, errs[i] = create(i)
			workers[i] = w
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("creating account %d: %w", i, err)
		}
	}
	return workers, nil
}
