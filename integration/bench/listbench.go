package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/acmegate/acmegate/store"
)

// listOptions are the flags of "bench listbench".
type listOptions struct {
	data    string
	db      string
	queries int
	limit   int
	seed    uint64
	only    string
	hot     bool
	jsonOut bool
}

// listCase is one kind of query: its name, the command line it stands for
// and the function that runs one such query with values drawn from the
// sample. run returns how many rows the query answered.
type listCase struct {
	name string
	cli  string
	run  func(ctx context.Context, st *store.Store, rng *rand.Rand, s *listSample) (int, error)
	// reps overrides the number of queries, for costly background work.
	reps int
}

// listResult is the measurement of one case.
type listResult struct {
	Case    string  `json:"case"`
	CLI     string  `json:"cli"`
	Queries int     `json:"queries"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
	Rows    float64 `json:"mean_rows"`
}

func parseListFlags(args []string, stderr io.Writer) (listOptions, error) {
	var o listOptions
	fs := flag.NewFlagSet("listbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.data, "data", "", "gateway data folder (required unless -db)")
	fs.StringVar(&o.db, "db", "", "database URL (default SQLite <data>/acmegate.db)")
	fs.IntVar(&o.queries, "queries", 200, "queries per case")
	fs.IntVar(&o.limit, "limit", 1000, "row limit of certs list (its --limit)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the drawn filter values")
	fs.StringVar(&o.only, "only", "", "run only the cases whose name contains this text")
	fs.BoolVar(&o.hot, "hot", true, "also time the issuance hot path and background queries")
	fs.BoolVar(&o.jsonOut, "json", false, "print one JSON line per case instead of a table")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.data == "" && o.db == "":
		return o, errors.New("-data or -db is required")
	case o.queries < 1:
		return o, errors.New("-queries must be positive")
	}
	if o.db == "" {
		o.db = "sqlite://" + filepath.Join(o.data, "acmegate.db")
	}
	return o, nil
}

// listbenchCommand implements "bench listbench -data DIR [-queries N]".
func listbenchCommand(args []string) int {
	opts, err := parseListFlags(args, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench listbench:", err)
		return exitBadSetup
	}
	ctx := context.Background()
	// Opened as `acmegate certs list` opens it (cmd/acmegate/admin.go).
	st, err := store.Open(ctx, store.Options{URL: opts.db})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench listbench:", err)
		return exitBadSetup
	}
	defer st.Close()
	results, err := listbench(ctx, st, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench listbench:", err)
		return exitErrors
	}
	writeListResults(os.Stdout, results, opts.jsonOut)
	return exitOK
}

// listbench draws filter values from the store and times every case.
func listbench(ctx context.Context, st *store.Store, opts listOptions) ([]listResult, error) {
	now := time.Now().UTC()
	sample, err := drawSample(ctx, st, opts.seed, now)
	if err != nil {
		return nil, err
	}
	cases := listCases(opts.limit)
	if opts.hot {
		cases = append(cases, hotCases()...)
	}
	var out []listResult
	for i, c := range cases {
		if opts.only != "" && !strings.Contains(c.name, opts.only) {
			continue
		}
		res, err := timeCase(ctx, st, c, opts, rand.New(rand.NewPCG(opts.seed, uint64(i))), sample)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// timeCase runs one case's queries one after the other and summarises
// their latencies.
func timeCase(ctx context.Context, st *store.Store, c listCase, opts listOptions, rng *rand.Rand,
	s *listSample) (listResult, error) {
	reps := opts.queries
	if c.reps > 0 {
		reps = min(c.reps, reps)
	}
	lats := make([]time.Duration, 0, reps)
	rows := 0
	for range reps {
		start := time.Now()
		n, err := c.run(ctx, st, rng, s)
		if err != nil {
			return listResult{}, err
		}
		lats = append(lats, time.Since(start))
		rows += n
	}
	l := summarise(lats)
	return listResult{Case: c.name, CLI: c.cli, Queries: reps, P50: l.P50, P99: l.P99, Max: l.Max,
		Rows: round(float64(rows)/float64(reps), 1)}, nil
}

// cliFilter builds the filter `acmegate certs list` builds from its flags
// (cmd/acmegate/certs.go, certsListCommand).
func cliFilter(name, account, profile, status string, expiring time.Duration, limit int,
	now time.Time) store.CertificateFilter {
	f := store.CertificateFilter{AccountID: account, Profile: profile, Status: status, Now: now,
		Limit: limit}
	if name != "" {
		f.NamePattern = "%" + strings.ReplaceAll(name, "*", "%") + "%"
	}
	if expiring > 0 {
		f.ExpiresBefore = now.Add(expiring)
		if f.Status == "" {
			f.Status = "valid"
		}
	}
	return f
}

// listCases are the `certs list` queries, each with values the sample
// makes realistic: a name of one lineage, a team's domain, an account
// that holds certificates.
func listCases(limit int) []listCase {
	list := func(pick func(rng *rand.Rand, s *listSample) store.CertificateFilter) func(
		context.Context, *store.Store, *rand.Rand, *listSample) (int, error) {
		return func(ctx context.Context, st *store.Store, rng *rand.Rand, s *listSample) (int, error) {
			rows, err := st.Read(ctx).ListCertificates(pick(rng, s))
			return len(rows), err
		}
	}
	f := func(name, account, profile, status string, expiring time.Duration) store.CertificateFilter {
		return cliFilter(name, account, profile, status, expiring, limit, time.Now().UTC())
	}
	lim := fmt.Sprintf(" --limit %d", limit)
	return []listCase{
		{name: "list/none", cli: "certs list" + lim, run: list(
			func(*rand.Rand, *listSample) store.CertificateFilter { return f("", "", "", "", 0) })},
		{name: "list/name-lineage", cli: "--name api-123", run: list(
			func(rng *rand.Rand, s *listSample) store.CertificateFilter {
				return f(s.pick(rng).label, "", "", "", 0)
			})},
		{name: "list/name-domain", cli: "--name payments.prod", run: list(
			func(rng *rand.Rand, s *listSample) store.CertificateFilter {
				return f(s.pick(rng).domain, "", "", "", 0)
			})},
		{name: "list/name-wildcard", cli: "--name 'api-1*.payments'", run: list(
			func(rng *rand.Rand, s *listSample) store.CertificateFilter {
				c := s.pick(rng)
				return f(c.label[:len(c.label)-1]+"*."+strings.SplitN(c.domain, ".", 2)[0], "", "",
					"", 0)
			})},
		{name: "list/account", cli: "--account ID", run: list(
			func(rng *rand.Rand, s *listSample) store.CertificateFilter {
				return f("", s.pick(rng).account, "", "", 0)
			})},
		{name: "list/account-any", cli: "--account ID (any account)", run: list(
			func(rng *rand.Rand, s *listSample) store.CertificateFilter {
				return f("", s.accounts[rng.IntN(len(s.accounts))], "", "", 0)
			})},
		{name: "list/profile", cli: "--profile shortlived", run: list(
			func(rng *rand.Rand, _ *listSample) store.CertificateFilter {
				return f("", "", fillProfiles[rng.IntN(len(fillProfiles))].name, "", 0)
			})},
		{name: "list/status-valid", cli: "--status valid", run: list(
			func(*rand.Rand, *listSample) store.CertificateFilter { return f("", "", "", "valid", 0) })},
		{name: "list/status-revoked", cli: "--status revoked", run: list(
			func(*rand.Rand, *listSample) store.CertificateFilter { return f("", "", "", "revoked", 0) })},
		{name: "list/status-expired", cli: "--status expired", run: list(
			func(*rand.Rand, *listSample) store.CertificateFilter { return f("", "", "", "expired", 0) })},
		{name: "list/expiring", cli: "--expiring-within 4h", run: list(
			func(*rand.Rand, *listSample) store.CertificateFilter {
				return f("", "", "", "", 4*time.Hour)
			})},
		{name: "list/account-valid", cli: "--account ID --status valid", run: list(
			func(rng *rand.Rand, s *listSample) store.CertificateFilter {
				return f("", s.pick(rng).account, "", "valid", 0)
			})},
		{name: "list/account-revoked", cli: "--account ID --status revoked", run: list(
			func(rng *rand.Rand, s *listSample) store.CertificateFilter {
				return f("", s.pick(rng).account, "", "revoked", 0)
			})},
		{name: "list/account-name", cli: "--account ID --name api-123", run: list(
			func(rng *rand.Rand, s *listSample) store.CertificateFilter {
				c := s.pick(rng)
				return f(c.label, c.account, "", "", 0)
			})},
		{name: "list/profile-expiring", cli: "--profile default --expiring-within 4h", run: list(
			func(*rand.Rand, *listSample) store.CertificateFilter {
				return f("", "", "default", "", 4*time.Hour)
			})},
		{name: "list/issued-day", cli: "admin API issued_after, issued_before (one day)", run: list(
			func(rng *rand.Rand, s *listSample) store.CertificateFilter {
				filter := f("", "", "", "", 0)
				filter.IssuedAfter = s.pick(rng).issued.Truncate(24 * time.Hour)
				filter.IssuedBefore = filter.IssuedAfter.Add(24 * time.Hour)
				return filter
			})},
		{name: "list/limit-100", cli: "admin API default page (limit 100)", run: list(
			func(*rand.Rand, *listSample) store.CertificateFilter {
				filter := f("", "", "", "", 0)
				filter.Limit = 100
				return filter
			})},
	}
}

func writeListResults(w io.Writer, results []listResult, jsonOut bool) {
	if jsonOut {
		enc := json.NewEncoder(w)
		for _, r := range results {
			_ = enc.Encode(r)
		}
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tqueries\tp50 ms\tp99 ms\tmax ms\trows\tstands for")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.0f\t%s\n", r.Case, r.Queries, r.P50, r.P99,
			r.Max, r.Rows, r.CLI)
	}
	_ = tw.Flush()
}
