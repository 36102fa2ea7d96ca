package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// stopGrace is how long measure waits for clients still inside a request
// once the run's deadline has passed, before it reports without them.
const stopGrace = 5 * time.Second

// maxErrorText bounds an error message kept for the report.
const maxErrorText = 240

// results collects what the clients measure; clients add concurrently.
type results struct {
	mu     sync.Mutex
	done   []issuance
	errors map[string]int // message -> count
	failed int
}

func (r *results) add(m issuance, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.done = append(r.done, m)
		return
	}
	r.failed++
	msg := err.Error()
	if len(msg) > maxErrorText {
		msg = msg[:maxErrorText] + "..."
	}
	if r.errors[msg] == 0 {
		fmt.Fprintf(os.Stderr, "bench: issuance failed: %s\n", msg)
	}
	r.errors[msg]++
}

// snapshot copies the results so far.
func (r *results) snapshot() ([]issuance, map[string]int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs := make(map[string]int, len(r.errors))
	for k, v := range r.errors {
		errs[k] = v
	}
	return append([]issuance(nil), r.done...), errs, r.failed
}

// measure runs opts.total issuances across the workers of f and reports.
func measure(
	ctx context.Context,
	opts options,
	f *fleet,
	retries *retryCounter,
) (*Report, error) {
	res := &results{errors: make(map[string]int)}
	var next atomic.Int64
	srvBefore, err := serverCPU(opts.pid)
	if err != nil {
		return nil, err
	}
	retriesBefore := retries.count()
	selfBefore := selfCPU()
	started := time.Now()

	// Each worker takes the next index until all are taken or time is up.
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range f.workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= opts.total {
					return
				}
				res.add(c.issue(ctx, i))
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	timedOut := false
	select {
	case <-done:
	case <-ctx.Done():
		timedOut = true
		select {
		case <-done:
		case <-time.After(stopGrace):
		}
	}
	elapsed := time.Since(started)

	issued, errs, failed := res.snapshot()
	rep := newReport(opts, started, elapsed, issued, errs, failed)
	rep.Client = f.client
	rep.TimedOut = timedOut || len(issued)+failed < opts.total
	rep.NonceRetries = retries.count() - retriesBefore
	rep.ClientCPUMsPerCert = round(perCert(selfCPU()-selfBefore, len(issued)), 2)
	if err := rep.addServer(opts.pid, srvBefore); err != nil {
		return nil, err
	}
	return rep, nil
}

// serverCPU reads the server's CPU time, or zero when no -pid was given.
func serverCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	return processCPU(pid)
}

// perCert returns d per certificate in milliseconds, or 0 for none.
func perCert(d time.Duration, certs int) float64 {
	if certs == 0 {
		return 0
	}
	return d.Seconds() * 1000 / float64(certs)
}

// retryCounter is lego's logger: it counts the badNonce retries lego
// reports and drops every other line.
type retryCounter struct {
	n atomic.Int64
}

func (r *retryCounter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "retry due to") {
		r.n.Add(1)
	}
	return len(p), nil
}

func (r *retryCounter) count() int64 { return r.n.Load() }
