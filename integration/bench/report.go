package main

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// maxErrorSamples bounds the distinct error messages in a report.
const maxErrorSamples = 5

// Report is the result of one run, printed as one JSON line. Durations are
// in milliseconds; the server fields are zero without -pid.
//
// Client is the client mode, "api" or "lego" (see -client); reports from
// before the flag have none and were api runs. In lego mode Phases and
// PollsPerCert stay zero, since Certifier.Obtain is one call, and Requests
// is the mean number of HTTP requests of a successful issuance, nonce
// fetches and retries included.
type Report struct {
	Server       string    `json:"server,omitempty"`
	Mode         string    `json:"mode,omitempty"`
	Round        int       `json:"round,omitempty"`
	Client       string    `json:"client,omitempty"`
	Directory    string    `json:"directory"`
	Started      time.Time `json:"started"`
	Concurrency  int       `json:"concurrency"`
	Requested    int       `json:"requested"`
	Issued       int       `json:"issued"`
	Errors       int       `json:"errors"`
	TimedOut     bool      `json:"timed_out"`
	Seconds      float64   `json:"seconds"`
	CertsPerSec  float64   `json:"certs_per_second"`
	Latency      Latency   `json:"latency_ms"`
	Phases       Phases    `json:"phases_mean_ms"`
	PollsPerCert float64   `json:"polls_per_cert"`
	Requests     float64   `json:"requests_per_cert,omitempty"`

	ServerPID          int     `json:"server_pid,omitempty"`
	ServerCPUSeconds   float64 `json:"server_cpu_seconds"`
	ServerCPUMsPerCert float64 `json:"server_cpu_ms_per_cert"`
	ServerPeakRSSMiB   float64 `json:"server_peak_rss_mib"`
	ServerRSSMiB       float64 `json:"server_rss_mib"`
	ClientCPUMsPerCert float64 `json:"client_cpu_ms_per_cert"`

	NonceRetries int64         `json:"nonce_retries"`
	ErrorSamples []ErrorSample `json:"error_samples,omitempty"`
}

// Latency summarises the time of one issuance, from the newOrder request
// to the downloaded certificate (in lego mode, of one Certifier.Obtain
// call), over the successful ones.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Phases is the mean time of each phase of a successful issuance.
type Phases struct {
	NewOrder  float64 `json:"new_order"`
	Authorize float64 `json:"authorize"`
	Finalize  float64 `json:"finalize"`
	Download  float64 `json:"download"`
}

// ErrorSample is one distinct error message and how often it occurred.
type ErrorSample struct {
	Count   int    `json:"count"`
	Message string `json:"message"`
}

func newReport(
	opts options,
	started time.Time,
	elapsed time.Duration,
	done []issuance,
	errs map[string]int,
	failed int,
) *Report {
	lats := make([]time.Duration, len(done))
	var phases [numPhases]time.Duration
	polls, requests := 0, 0
	for i, m := range done {
		lats[i] = m.total
		for p, d := range m.phases {
			phases[p] += d
		}
		polls += m.polls
		requests += m.requests
	}
	r := &Report{
		Server:      opts.server,
		Mode:        opts.mode,
		Round:       opts.round,
		Directory:   opts.directory,
		Started:     started.UTC().Truncate(time.Second),
		Concurrency: opts.concurrency,
		Requested:   opts.total,
		Issued:      len(lats),
		Errors:      failed,
		Seconds:     round(elapsed.Seconds(), 3),
		Latency:     summarise(lats),
	}
	if n := len(done); n > 0 {
		mean := func(d time.Duration) float64 { return ms(d / time.Duration(n)) }
		r.Phases = Phases{
			NewOrder:  mean(phases[phaseNewOrder]),
			Authorize: mean(phases[phaseAuthorize]),
			Finalize:  mean(phases[phaseFinalize]),
			Download:  mean(phases[phaseDownload]),
		}
		r.PollsPerCert = round(float64(polls)/float64(n), 2)
		r.Requests = round(float64(requests)/float64(n), 2)
	}
	if elapsed > 0 {
		r.CertsPerSec = round(float64(len(lats))/elapsed.Seconds(), 2)
	}
	for msg, n := range errs {
		r.ErrorSamples = append(r.ErrorSamples, ErrorSample{Count: n, Message: msg})
	}
	slices.SortFunc(r.ErrorSamples, func(a, b ErrorSample) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Message, b.Message))
	})
	if len(r.ErrorSamples) > maxErrorSamples {
		r.ErrorSamples = r.ErrorSamples[:maxErrorSamples]
	}
	return r
}

// addServer fills the server fields from process pid, whose CPU time was
// cpuBefore when the measurement started. It does nothing when pid is 0.
func (r *Report) addServer(pid int, cpuBefore time.Duration) error {
	if pid == 0 {
		return nil
	}
	cpu, err := processCPU(pid)
	if err != nil {
		return err
	}
	mem, err := processMemory(pid)
	if err != nil {
		return err
	}
	used := cpu - cpuBefore
	r.ServerPID = pid
	r.ServerCPUSeconds = round(used.Seconds(), 2)
	r.ServerCPUMsPerCert = round(perCert(used, r.Issued), 2)
	r.ServerPeakRSSMiB = round(float64(mem.peak)/(1<<20), 1)
	r.ServerRSSMiB = round(float64(mem.current)/(1<<20), 1)
	return nil
}

// summarise computes nearest-rank percentiles in milliseconds.
func summarise(lats []time.Duration) Latency {
	if len(lats) == 0 {
		return Latency{}
	}
	sorted := slices.Clone(lats)
	slices.Sort(sorted)
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	rank := func(p float64) float64 {
		i := max(int(math.Ceil(p*float64(len(sorted))))-1, 0)
		return ms(sorted[i])
	}
	return Latency{
		P50:  rank(0.50),
		P90:  rank(0.90),
		P99:  rank(0.99),
		Max:  ms(sorted[len(sorted)-1]),
		Mean: ms(sum / time.Duration(len(sorted))),
	}
}

func ms(d time.Duration) float64 { return round(d.Seconds()*1000, 1) }

func round(v float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(v*p) / p
}

// human is the one-line summary for people.
func (r *Report) human() string {
	var b strings.Builder
	fmt.Fprintf(&b, "c=%d issued=%d/%d errors=%d in %.2fs: %.2f certs/s;"+
		" latency p50=%.1fms p90=%.1fms p99=%.1fms max=%.1fms",
		r.Concurrency, r.Issued, r.Requested, r.Errors, r.Seconds, r.CertsPerSec,
		r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max)
	if r.ServerPID != 0 {
		fmt.Fprintf(&b, "; server cpu %.2fms/cert, peak rss %.1fMiB",
			r.ServerCPUMsPerCert, r.ServerPeakRSSMiB)
	}
	fmt.Fprintf(&b, "; client cpu %.2fms/cert", r.ClientCPUMsPerCert)
	if r.Client == clientLego {
		// Certifier.Obtain is one call: no phases or polls to show.
		fmt.Fprintf(&b, "; lego client, %.1f requests/cert", r.Requests)
	} else {
		fmt.Fprintf(&b, "; phases order/authz/final/dl %.0f/%.0f/%.0f/%.0fms, %.1f polls/cert",
			r.Phases.NewOrder, r.Phases.Authorize, r.Phases.Finalize, r.Phases.Download,
			r.PollsPerCert)
	}
	if r.NonceRetries > 0 {
		fmt.Fprintf(&b, "; %d badNonce retries", r.NonceRetries)
	}
	if r.TimedOut {
		b.WriteString("; TIMED OUT")
	}
	return b.String()
}
