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
// server, mode and concurrency.
type groupKey struct {
	mode   string
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
		k := groupKey{mode: rep.Mode, c: rep.Concurrency, server: rep.Server}
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
	return summary{
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
// ratios of base to every other server.
func writeSummary(w io.Writer, groups map[groupKey]*group, base string) {
	keys := make([]groupKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		return cmp.Or(strings.Compare(a.mode, b.mode), cmp.Compare(a.c, b.c),
			strings.Compare(a.server, b.server))
	})

	fmt.Fprintln(w, "| mode | c | server | runs (timed out) | certs/s | p50 ms | p99 ms |"+
		" server CPU ms/cert | peak RSS MiB | client CPU ms/cert | polls/cert | errors |")
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, k := range keys {
		s := groups[k].summary()
		fmt.Fprintf(w, "| %s | %d | %s | %d (%d) | %.1f | %.1f | %.1f |"+
			" %.2f | %.1f | %.2f | %.1f | %d |\n",
			k.mode, k.c, k.server, s.runs, s.failed, s.certsPerSec, s.p50, s.p99, s.cpuMs,
			s.peakRSS, s.clientCPU, s.pollsCert, s.errors)
	}
	fmt.Fprintln(w)
	writeRatios(w, groups, keys, base)
}

// writeRatios prints base/other for throughput and CPU per certificate:
// above 1 means base issues faster, and uses more CPU per certificate.
func writeRatios(w io.Writer, groups map[groupKey]*group, keys []groupKey, base string) {
	fmt.Fprintf(w, "| mode | c | ratio | certs/s | server CPU ms/cert | p50 latency |\n")
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|")
	for _, k := range keys {
		if k.server == base {
			continue
		}
		b, ok := groups[groupKey{mode: k.mode, c: k.c, server: base}]
		if !ok || len(b.runs) == 0 || len(groups[k].runs) == 0 {
			continue
		}
		bs, other := b.summary(), groups[k].summary()
		fmt.Fprintf(w, "| %s | %d | %s/%s | %s | %s | %s |\n", k.mode, k.c, base, k.server,
			ratio(bs.certsPerSec, other.certsPerSec), ratio(bs.cpuMs, other.cpuMs),
			ratio(bs.p50, other.p50))
	}
}

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}
