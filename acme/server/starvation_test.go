package server_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/challenges"
)

// blackHoleSuffix marks identifiers whose validation never gets an answer,
// as a name resolving to a non-routable address does.
const blackHoleSuffix = ".blackhole.corp.internal"

// waitUntil polls cond every 20ms until it holds, failing the test when it
// still does not after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fetchChallenge reads a challenge with POST-as-GET.
func fetchChallenge(t *testing.T, c *acmetest.Client, url string) *acmetest.Challenge {
	t.Helper()
	var ch acmetest.Challenge
	c.PostAsGet(t, url).Want(t, http.StatusOK).JSON(t, &ch)
	return &ch
}

// wantQueueFull checks that r is the rateLimited refusal of a full
// validation queue, with a usable Retry-After.
func wantQueueFull(t *testing.T, r *acmetest.Response) {
	t.Helper()
	wantProblem(t, r, http.StatusTooManyRequests, "rateLimited")
	ra := r.Header.Get("Retry-After")
	if secs, err := strconv.Atoi(ra); err != nil || secs <= 0 {
		t.Errorf("got Retry-After %q, want a positive number of seconds", ra)
	}
}

// respondUntilQueued posts to the challenge until the gateway takes the
// validation (200), retrying on a full queue until d has passed. Retries
// come faster than Retry-After asks, to keep the test short.
func respondUntilQueued(t *testing.T, c *acmetest.Client, url string, d time.Duration) *acmetest.Challenge {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		r := c.Respond(t, url)
		if r.Status == http.StatusOK {
			var ch acmetest.Challenge
			r.JSON(t, &ch)
			return &ch
		}
		wantQueueFull(t, r)
		if time.Now().After(deadline) {
			t.Fatalf("challenge %s: the validation queue stayed full for %v", url, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestValidationStarvation covers catalogue row I7: one account aims many
// challenges at black-hole addresses. The worker pool stays bounded, the
// overflow is refused with rateLimited and Retry-After and left pending,
// another account's validation still completes, every black-hole
// challenge ends invalid with connection once its attempt times out, and
// nothing stays processing: no validation goroutine, no challenge.
//
// It is not parallel, so that the goroutine count it compares is its own.
func TestValidationStarvation(t *testing.T) {
	const (
		workers    = 2
		capacity   = workers + 4*workers // running plus queued
		timeout    = 300 * time.Millisecond
		blackHoles = 20
	)
	gw := acmetest.New(t, acmetest.Options{Config: state.Config{
		Validators:        workers,
		ValidationTimeout: timeout,
		ValidationWait:    50 * time.Millisecond,
	}})

	// running counts validations in progress; peak is its highest value.
	var running, peak atomic.Int64
	gw.Validator.Set(func(ctx context.Context, req challenges.Request) (challenges.Record, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if strings.HasSuffix(req.Identifier.Value, blackHoleSuffix) {
			<-ctx.Done()
			return challenges.Record{}, ctx.Err()
		}
		return challenges.Record{Type: "fake", Hostname: req.Identifier.Value}, nil
	})

	attacker := gw.NewClient(t, jose.ES256)
	attacker.Register(t)
	victim := gw.NewClient(t, jose.ES256)
	victim.Register(t)

	urls := make([]string, blackHoles)
	for i := range urls {
		_, _, ch := oneAuthz(t, attacker, fmt.Sprintf("h%d%s", i, blackHoleSuffix))
		urls[i] = ch.URL
	}
	bodies := make([][]byte, blackHoles)
	for i := range bodies {
		bodies[i] = attacker.SignWithNonce(t, urls[i], gw.FreshNonce(t), []byte("{}"))
	}
	baseline := runtime.NumGoroutine()

	// 1. All black-hole challenges at once: more than the pool holds.
	resps := make([]*acmetest.Response, blackHoles)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range bodies {
		wg.Go(func() {
			<-start
			resps[i] = gw.Do(t, gw.NewRequest(t, http.MethodPost, urls[i], acmetest.ContentType, bodies[i]))
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	burst := time.Since(began)

	var accepted, refused []string
	for i, r := range resps {
		switch r.Status {
		case http.StatusOK:
			var ch acmetest.Challenge
			r.JSON(t, &ch)
			// Processing with Retry-After; or, on a machine so loaded that
			// the answer came after the 300 ms attempt timed out, already
			// invalid. Either way the challenge was taken, not refused.
			processing := ch.Status == "processing" && r.Header.Get("Retry-After") != ""
			if !processing && ch.Status != "invalid" {
				t.Errorf("challenge %d: got status %q and Retry-After %q, want processing with Retry-After",
					i, ch.Status, r.Header.Get("Retry-After"))
			}
			accepted = append(accepted, urls[i])
		case http.StatusTooManyRequests:
			wantQueueFull(t, r)
			refused = append(refused, urls[i])
		default:
			t.Fatalf("challenge %d: got %s, want 200 processing or 429 rateLimited", i, r)
		}
	}
	t.Logf("burst of %d took %v: %d accepted, %d refused", blackHoles, burst, len(accepted), len(refused))
	if len(refused) == 0 {
		t.Fatalf("all %d black-hole challenges were accepted, want the overflow past %d refused",
			blackHoles, capacity)
	}
	// A refusal means the pool was full, so at least capacity were taken;
	// more only when an attempt timed out and freed a slot mid-burst.
	if len(accepted) < capacity || (burst < timeout && len(accepted) != capacity) {
		t.Errorf("got %d accepted in a burst of %v, want %d (workers plus queue)",
			len(accepted), burst, capacity)
	}
	for _, url := range refused {
		if ch := fetchChallenge(t, attacker, url); ch.Status != "pending" || ch.Error != nil {
			t.Errorf("refused challenge %s: got status %q error %+v, want pending without error",
				url, ch.Status, ch.Error)
		}
	}

	// 2. Another account's validation completes while the black holes hold
	// the workers: it gets a slot once attempts time out.
	victimStart := time.Now()
	const victimBound = 5 * time.Second
	_, _, vch := oneAuthz(t, victim, "victim.corp.internal")
	respondUntilQueued(t, victim, vch.URL, victimBound)
	waitUntil(t, victimBound-time.Since(victimStart), "the other account's challenge becoming valid",
		func() bool {
			ch := fetchChallenge(t, victim, vch.URL)
			if ch.Status == "invalid" {
				t.Fatalf("the other account's challenge became invalid: %+v", ch.Error)
			}
			return ch.Status == "valid"
		})
	t.Logf("the other account's validation completed after %v", time.Since(victimStart))

	// 3. The refused challenges can be retried; they queue as slots free.
	for _, url := range refused {
		respondUntilQueued(t, attacker, url, 10*time.Second)
	}

	// 4. Every black-hole challenge ends invalid with connection (timed
	// out), and none stays processing.
	waitUntil(t, 10*time.Second, "every black-hole challenge leaving processing", func() bool {
		for _, url := range urls {
			if fetchChallenge(t, attacker, url).Status != "invalid" {
				return false
			}
		}
		return true
	})
	for _, url := range urls {
		ch := fetchChallenge(t, attacker, url)
		if ch.Error == nil || ch.Error.Type != urn("connection") || !containsFold(ch.Error.Detail, "timed out") {
			t.Errorf("challenge %s: got error %+v, want connection, timed out", url, ch.Error)
		}
	}
	if p := peak.Load(); p > workers {
		t.Errorf("got %d validations running at once, want at most %d", p, workers)
	}
	if n := running.Load(); n != 0 {
		t.Errorf("got %d validations still running, want none", n)
	}
	if n, want := gw.Validator.Calls(), int64(blackHoles+1); n != want {
		t.Errorf("got %d validations, want %d (each black hole once, the other account once)", n, want)
	}

	// 5. The goroutines return to the baseline once the client's idle
	// connections are closed.
	gw.HTTP.Client().CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("got %d goroutines, want at most the baseline %d:\n%s",
				runtime.NumGoroutine(), baseline, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
