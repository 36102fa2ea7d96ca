package server

import (
	"fmt"
	"testing"
	"time"
)

// TestLimiterSweepAndBound checks that idle buckets are dropped by the
// periodic sweep and that the number of buckets never passes the bound.
func TestLimiterSweepAndBound(t *testing.T) {
	now := time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(RateLimit{RequestsPerSecond: 1, Burst: 5}, func() time.Time { return now })
	l.maxKeys = 10

	for i := range 25 {
		if ok, _ := l.allow(fmt.Sprintf("198.51.100.%d", i)); !ok {
			t.Fatalf("first request of client %d refused", i)
		}
	}
	if got := l.size(); got != 10 {
		t.Errorf("got %d buckets, want the bound 10", got)
	}

	// After the sweep interval every bucket has refilled: all are idle.
	now = now.Add(limiterSweepEvery)
	l.allow("203.0.113.1")
	if got := l.size(); got != 1 {
		t.Errorf("after the sweep got %d buckets, want 1", got)
	}
}

// TestLimiterWait checks the wait reported for an empty bucket.
func TestLimiterWait(t *testing.T) {
	now := time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(RateLimit{RequestsPerSecond: 2}, func() time.Time { return now })
	if ok, _ := l.allow("k"); !ok {
		t.Fatalf("first request refused")
	}
	ok, wait := l.allow("k")
	if ok || wait != 500*time.Millisecond {
		t.Errorf("got %v and wait %v, want a refusal and 500ms", ok, wait)
	}
	if newLimiter(RateLimit{Burst: 9}, time.Now) != nil {
		t.Errorf("a zero rate must turn the limiter off")
	}
}
