package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// groupKey is what summarise takes medians over: all rounds of one
// server, mode, client mode and concurrency.
type groupKey struct {
	mode   string
	client string
	c      int
	server string
}

// group holds the runs of one key.
type group struct {
	runs   []*Report
	failed int // runs that timed out, left out of the medians
	errors int // failed issuances over the runs kept
}

// summary is the median of a group's runs.
type summary struct {
	runs, failed, errors          int
	certsPerSec, p50, p99, cpuMs  float64
	peakRSS, clientCPU, pollsCert float64
	// minCertsSec and maxCertsSec are the spread of throughput over runs.
	minCertsSec, maxCertsSec float64
}

// summariseCommand implements "bench summarise [-base NAME] FILE".
func summariseCommand(args []string) int {
	fs := flag.NewFlagSet("summarise", flag.ContinueOnError)
	base := fs.String("base", "acmegate", "server the ratios are computed for")
	if err := fs.Parse(args); err != nil {
		return exitBadSetup
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: bench summarise [-base NAME] FILE")
		return exitBadSetup
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return exitBadSetup
	}
	defer f.Close()
	groups, err := readGroups(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return exitBadSetup
	}
	writeSummary(os.Stdout, groups, *base)
	return exitOK
}

// readGroups reads JSON report lines, skipping every other line.
func readGroups(r io.Reader) (map[groupKey]*group, error) {
	groups := make(map[groupKey]*group)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var rep Report
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			return nil, fmt.Errorf("reading report line: %w", err)
		}
		client := rep.Client
		if client == "" {
			client = clientAPI // reports from before -client
		}
		k := groupKey{mode: rep.Mode, client: client, c: rep.Concurrency, server: rep.Server}
		g := groups[k]
		if g == nil {
			g = &group{}
			groups[k] = g
		}
		if rep.TimedOut {
			g.failed++
			continue
		}
		g.errors += rep.Errors
		g.runs = append(g.runs, &rep)
	}
	return groups, sc.Err()
}

func (g *group) summary() summary {
	med := func(f func(*Report) float64) float64 {
		vals := make([]float64, 0, len(g.runs))
		for _, r := range g.runs {
			vals = append(vals, f(r))
		}
		return median(vals)
	}
	lo, hi := spread(g.runs, func(r *Report) float64 { return r.CertsPerSec })
	return summary{
		minCertsSec: lo,
		maxCertsSec: hi,
		runs:        len(g.runs),
		failed:      g.failed,
		errors:      g.errors,
		certsPerSec: med(func(r *Report) float64 { return r.CertsPerSec }),
		p50:         med(func(r *Report) float64 { return r.Latency.P50 }),
		p99:         med(func(r *Report) float64 { return r.Latency.P99 }),
		cpuMs:       med(func(r *Report) float64 { return r.ServerCPUMsPerCert }),
		peakRSS:     med(func(r *Report) float64 { return r.ServerPeakRSSMiB }),
		clientCPU:   med(func(r *Report) float64 { return r.ClientCPUMsPerCert }),
		pollsCert:   med(func(r *Report) float64 { return r.PollsPerCert }),
	}
}

// spread returns the least and the greatest f over the runs; 0, 0 for
// none.
func spread(runs []*Report, f func(*Report) float64) (lo, hi float64) {
	for i, r := range runs {
		v := f(r)
		if i == 0 {
			lo, hi = v, v
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// median returns the middle value, or the mean of the two middle values;
// 0 for none.
func median(vals []float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// writeSummary prints a Markdown table of medians per mode, then the
// ratios of base to every other server. A client column appears when the
// runs used more than one client mode.
func writeSummary(w io.Writer, groups map[groupKey]*group, base string) {
	keys := make([]groupKey, 0, len(groups))
	clients := make(map[string]bool)
	for k := range groups {
		keys = append(keys, k)
		clients[k.client] = true
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		return cmp.Or(strings.Compare(a.mode, b.mode), strings.Compare(a.client, b.client),
			cmp.Compare(a.c, b.c), strings.Compare(a.server, b.server))
	})
	cols := tableColumns{client: len(clients) > 1}

	fmt.Fprintln(w, cols.header("server", "runs (timed out)", "certs/s", "certs/s min-max",
		"p50 ms", "p99 ms", "server CPU ms/cert", "peak RSS MiB", "client CPU ms/cert",
		"polls/cert", "errors"))
	fmt.Fprintln(w, cols.rule("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:",
		"---:", "---:", "---:"))
	for _, k := range keys {
		s := groups[k].summary()
		fmt.Fprintf(w, "%s %s | %d (%d) | %.1f | %.1f-%.1f | %.1f | %.1f | %.2f | %.1f | %.2f | "+
			"%.1f | %d |\n",
			cols.lead(k), k.server, s.runs, s.failed, s.certsPerSec, s.minCertsSec, s.maxCertsSec,
			s.p50, s.p99, s.cpuMs, s.peakRSS, s.clientCPU, s.pollsCert, s.errors)
	}
	fmt.Fprintln(w)
	writeRatios(w, groups, keys, base, cols)
}

// tableColumns prints the leading columns of the tables: mode, the
// client mode when there is more than one, and c.
type tableColumns struct {
	client bool
}

func (t tableColumns) header(rest ...string) string {
	head := "| mode |"
	if t.client {
		head += " client |"
	}
	return head + " c | " + strings.Join(rest, " | ") + " |"
}

func (t tableColumns) rule(rest ...string) string {
	head := "|---|"
	if t.client {
		head += "---|"
	}
	return head + "---:|" + strings.Join(rest, "|") + "|"
}

// lead returns the leading cells of k's row, ending with "|".
func (t tableColumns) lead(k groupKey) string {
	if t.client {
		return fmt.Sprintf("| %s | %s | %d |", k.mode, k.client, k.c)
	}
	return fmt.Sprintf("| %s | %d |", k.mode, k.c)
}

// writeRatios prints base/other for throughput and CPU per certificate:
// above 1 means base issues faster, and uses more CPU per certificate.
// Runs are compared only with runs of the same client mode.
func writeRatios(
	w io.Writer,
	groups map[groupKey]*group,
	keys []groupKey,
	base string,
	cols tableColumns,
) {
	fmt.Fprintln(w, cols.header("ratio", "certs/s", "server CPU ms/cert", "p50 latency",
		"p99 latency", "peak RSS"))
	fmt.Fprintln(w, cols.rule("---", "---:", "---:", "---:", "---:", "---:"))
	for _, k := range keys {
		if k.server == base {
			continue
		}
		bk := k
		bk.server = base
		b, ok := groups[bk]
		if !ok || len(b.runs) == 0 || len(groups[k].runs) == 0 {
			continue
		}
		bs, other := b.summary(), groups[k].summary()
		fmt.Fprintf(w, "%s %s/%s | %s | %s | %s | %s | %s |\n", cols.lead(k), base, k.server,
			ratio(bs.certsPerSec, other.certsPerSec), ratio(bs.cpuMs, other.cpuMs),
			ratio(bs.p50, other.p50), ratio(bs.p99, other.p99), ratio(bs.peakRSS, other.peakRSS))
	}
}

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}
