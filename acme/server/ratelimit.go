package server

import (
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// RateLimit is one token bucket per client: RequestsPerSecond tokens are
// added each second up to Burst, and each request takes one. A zero
// RequestsPerSecond turns the limit off; a Burst below one means one.
type RateLimit struct {
	RequestsPerSecond float64
	Burst             int
}

// The buckets live in this process's memory: with several replicas behind
// a load balancer, each replica enforces the limits on its own, so a client
// spread over n replicas gets up to n times the configured rate.

// limiterMaxKeys bounds how many clients a limiter tracks; past it, an
// arbitrary bucket is forgotten to make room (that client starts afresh).
const limiterMaxKeys = 100_000

// limiterSweepEvery is how often idle buckets are dropped.
const limiterSweepEvery = time.Minute

// limiter holds token buckets keyed by client (an IP address or an account
// ID). A bucket that has refilled completely is idle: dropping it changes
// nothing, so the periodic sweep removes those. It is safe for concurrent
// use.
type limiter struct {
	rate    float64
	burst   float64
	now     func() time.Time
	maxKeys int

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newLimiter returns a limiter for l, or nil when l is off.
func newLimiter(l RateLimit, now func() time.Time) *limiter {
	if l.RequestsPerSecond <= 0 {
		return nil
	}
	return &limiter{
		rate: l.RequestsPerSecond, burst: float64(max(l.Burst, 1)), now: now,
		maxKeys: limiterMaxKeys, buckets: map[string]*bucket{}, lastSweep: now(),
	}
}

// allow takes a token from key's bucket. When the bucket is empty it
// returns false and how long until a token is available.
func (l *limiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) >= limiterSweepEvery {
		l.sweep(now)
	}

	b, ok := l.buckets[key]
	if !ok {
		l.makeRoom()
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := (1 - b.tokens) / l.rate
	return false, time.Duration(wait * float64(time.Second))
}

// sweep drops the buckets that would be full by now.
func (l *limiter) sweep(now time.Time) {
	refill := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= refill {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}

// makeRoom forgets one bucket when the limiter is full; map order makes
// the choice arbitrary.
func (l *limiter) makeRoom() {
	if len(l.buckets) < l.maxKeys {
		return
	}
	for k := range l.buckets {
		delete(l.buckets, k)
		return
	}
}

// size reports how many buckets the limiter holds.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// check returns a rateLimited problem when key is over the limit; a nil
// limiter allows everything. Retry-After is the wait for the next token,
// rounded up to whole seconds and at least one (RFC 8555, Section 6.6).
func (l *limiter) check(key, what string) error {
	if l == nil {
		return nil
	}
	ok, wait := l.allow(key)
	if ok {
		return nil
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return &problem.Error{Type: problem.RateLimited, RetryAfter: secs,
		Detail: "too many requests from this " + what + "; retry in " +
			strconv.Itoa(secs) + " seconds"}
}

// limitByIP applies the per-IP limit to every route, the directory and
// new-nonce included. The client is the TCP peer: X-Forwarded-For and
// similar headers are not trusted, so behind a proxy all its clients share
// the proxy's bucket.
func (s *Server) limitByIP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.ipLimiter.check(peerIP(c.Request().RemoteAddr), "address"); err != nil {
			return err
		}
		return next(c)
	}
}

// peerIP returns the host part of a RemoteAddr, or all of it when it has
// no port.
func peerIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}
