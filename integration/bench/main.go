// Command bench measures certificate issuance throughput of an ACME server:
// acmegate, or Pebble and step-ca for comparison (see compare.sh beside it).
//
// C concurrent clients, each with its own account, share N issuances. Each
// issuance is a fresh order for a fresh name, validated with a real http-01
// challenge (RFC 8555, Section 8.3) against one responder on loopback,
// finalized with a new P-256 key, downloaded and checked against the root.
// By default (-client api) the clients speak ACME through lego's protocol
// layer (lego/v4/acme/api) and poll with short sleeps, so that client
// waiting does not hide the server's own speed. With -client lego each
// issuance is one call of the stock lego client, Certifier.Obtain, with
// lego's own waits and polling: the time a lego user waits.
//
// The names it orders resolve only through the DNS server it runs itself
// (-dns-addr), which answers A 127.0.0.1 for every name; the server under
// test must use it as its resolver for validation.
//
// It prints one human line and one JSON line (see [Report]). It exits 0
// when every issuance succeeded, 1 when some failed and 2 when the run hit
// its -timeout.
//
// "bench summarise FILE" reads the JSON lines of many runs and prints the
// median of each server, mode, client mode and concurrency, with ratios
// between servers.
//
// "bench fill -data DIR" adds a generated history of certificates (one
// million by default) with their accounts, orders and authorizations to a
// gateway's database, and "bench listbench -data DIR" times the inventory
// queries of `acmegate certs list` and the store queries of the issuance
// path on it (fill.go, listbench.go).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	legolog "github.com/go-acme/lego/v4/log"
)

// Exit codes of the program.
const (
	exitOK       = 0
	exitErrors   = 1
	exitTimeout  = 2
	exitBadSetup = 3
)

// options are the command-line flags.
type options struct {
	directory   string
	root        string
	tlsRoot     string
	concurrency int
	total       int
	pid         int
	httpAddr    string
	dnsAddr     string
	domain      string
	ipOnly      bool
	timeout     time.Duration
	reqTimeout  time.Duration
	pollCap     time.Duration
	pollDefault time.Duration
	server      string
	mode        string
	round       int
}

func parseFlags() options {
	var o options
	var httpPort int
	flag.StringVar(&o.directory, "directory", "", "ACME directory URL (required)")
	flag.StringVar(&o.root, "root", "", "PEM root that issued chains must verify to (required)")
	flag.StringVar(&o.tlsRoot, "tls-root", "", "PEM root for the server's HTTPS (default -root)")
	flag.IntVar(&o.concurrency, "c", 16, "concurrent clients, one account each")
	flag.IntVar(&o.total, "n", 300, "certificates to issue in total")
	flag.IntVar(&o.pid, "pid", 0, "server process ID, to read its CPU time and peak RSS")
	flag.IntVar(&httpPort, "http-port", 5002, "port of the http-01 responder on 127.0.0.1")
	flag.StringVar(&o.dnsAddr, "dns-addr", "127.0.0.1:8053",
		"UDP and TCP address of the DNS server answering A 127.0.0.1; empty for none")
	flag.StringVar(&o.domain, "domain", "bench.example.com",
		"parent of the ordered names (under a public suffix, which Pebble requires)")
	flag.BoolVar(&o.ipOnly, "ip", false, "order IP identifier 127.0.0.1 instead of names (RFC 8738)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "bound on the whole run")
	flag.DurationVar(&o.reqTimeout, "request-timeout", 30*time.Second, "bound on one HTTP request")
	flag.DurationVar(&o.pollCap, "poll-cap", 50*time.Millisecond, "longest sleep between polls")
	flag.DurationVar(&o.pollDefault, "poll-default", 10*time.Millisecond,
		"sleep between polls when the server sends no Retry-After")
	flag.StringVar(&o.server, "server", "", "server name copied into the report, for summarise")
	flag.StringVar(&o.mode, "mode", "", "run mode copied into the report (pinned, ...)")
	flag.IntVar(&o.round, "round", 0, "round number copied into the report")
	flag.Parse()
	o.httpAddr = fmt.Sprintf("127.0.0.1:%d", httpPort)
	if o.tlsRoot == "" {
		o.tlsRoot = o.root
	}
	return o
}

func (o options) validate() error {
	switch {
	case o.directory == "":
		return fmt.Errorf("-directory is required")
	case o.root == "":
		return fmt.Errorf("-root is required")
	case o.concurrency < 1:
		return fmt.Errorf("-c must be at least 1")
	case o.total < 1:
		return fmt.Errorf("-n must be at least 1")
	case o.pollCap <= 0 || o.pollDefault <= 0:
		return fmt.Errorf("-poll-cap and -poll-default must be positive")
	}
	return nil
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "summarise":
			os.Exit(summariseCommand(os.Args[2:]))
		case "fill":
			os.Exit(fillCommand(os.Args[2:]))
		case "listbench":
			os.Exit(listbenchCommand(os.Args[2:]))
		}
	}
	opts := parseFlags()
	if err := opts.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		flag.Usage()
		os.Exit(exitBadSetup)
	}

	// lego reports each badNonce retry through its global logger; count
	// them instead of printing every step of every client.
	retries := &retryCounter{}
	legolog.Logger = log.New(retries, "", 0)

	rep, err := run(opts, retries)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(exitBadSetup)
	}
	printReport(os.Stdout, rep)
	switch {
	case rep.TimedOut:
		os.Exit(exitTimeout)
	case rep.Errors > 0:
		os.Exit(exitErrors)
	}
	os.Exit(exitOK)
}

// run sets up the responders and the clients, issues, and measures.
func run(opts options, retries *retryCounter) (*Report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()

	// 1. Responders and trust.
	roots, err := loadPool(opts.root)
	if err != nil {
		return nil, err
	}
	tlsRoots, err := loadPool(opts.tlsRoot)
	if err != nil {
		return nil, err
	}
	http01, err := startHTTP01(opts.httpAddr)
	if err != nil {
		return nil, err
	}
	defer http01.close()
	if opts.dnsAddr != "" {
		dnsSrv, err := startDNS(opts.dnsAddr)
		if err != nil {
			return nil, err
		}
		defer dnsSrv.close()
	}

	// 2. Accounts, outside the measurement.
	clients, err := newClients(ctx, opts, tlsRoots, roots, http01)
	if err != nil {
		return nil, err
	}

	// 3. The measured issuances.
	return measure(ctx, opts, clients, retries)
}

// printReport writes the human line and then the JSON line.
func printReport(w io.Writer, r *Report) {
	fmt.Fprintln(w, r.human())
	line, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: encoding report:", err)
		return
	}
	fmt.Fprintln(w, string(line))
}
