package state

import (
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"
)

// TestNewIDTimeFirst checks the layout of resource IDs: 128 bits, the
// creation time in milliseconds first, so that IDs made close together
// share their leading characters, and random bits after it.
func TestNewIDTimeFirst(t *testing.T) {
	t.Parallel()
	clock := &testClock{now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	e := &Engine{clock: clock, rand: rand.Reader}
	id := func() string {
		t.Helper()
		s, err := e.newID()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := id(), id()
	clock.Add(time.Hour)
	later := id()
	if a == b {
		t.Fatalf("two IDs in the same millisecond are equal: %s", a)
	}
	for _, s := range []string{a, b, later} {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(raw) != 16 {
			t.Fatalf("ID %q: got %d bytes, %v; want 16 bytes of base64url", s, len(raw), err)
		}
	}
	// 48 bits of time are the first 8 characters.
	if a[:8] != b[:8] {
		t.Errorf("IDs of the same millisecond: %s and %s, want the same first 8 characters", a, b)
	}
	if a[:8] == later[:8] {
		t.Errorf("IDs an hour apart: %s and %s, want different first 8 characters", a, later)
	}
	if a[8:] == b[8:] {
		t.Errorf("IDs %s and %s share their random part", a, b)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(a)
	var ms int64
	for _, c := range raw[:6] {
		ms = ms<<8 | int64(c)
	}
	if want := clock.now.Add(-time.Hour).UnixMilli(); ms != want {
		t.Errorf("time of ID %s: got %d, want %d", a, ms, want)
	}
}

// TestNewTokenRandom checks that challenge tokens stay wholly random
// (RFC 8555, Section 8.1: at least 128 bits of entropy), unlike IDs.
func TestNewTokenRandom(t *testing.T) {
	t.Parallel()
	e := &Engine{clock: &testClock{now: time.Unix(1e9, 0)}, rand: rand.Reader}
	a, err := e.newToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.newToken()
	if len(a) != 22 || a[:8] == b[:8] {
		t.Errorf("tokens %q and %q: want 22 characters with no shared time prefix", a, b)
	}
}
