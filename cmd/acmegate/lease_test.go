package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

func TestReplicaID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, addr string
	}{
		{"ipv4", "127.0.0.1:8443"},
		{"ipv6", "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
		{"absurdly long", strings.Repeat("a", 100) + ":8443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := replicaID(tt.addr)
			if len(id) > maxHolderLen {
				t.Errorf("replicaID(%q): got %d bytes, want at most %d", tt.addr, len(id), maxHolderLen)
			}
			if !strings.HasSuffix(id, tt.addr[max(len(tt.addr)-maxHolderLen, 0):]) {
				t.Errorf("replicaID(%q) = %q: want it to end with the address", tt.addr, id)
			}
			if again := replicaID(tt.addr); again != id {
				t.Errorf("replicaID(%q): got %q, then %q; want the same name after a restart",
					tt.addr, id, again)
			}
		})
	}
	if a, b := replicaID("127.0.0.1:8443"), replicaID("127.0.0.1:8444"); a == b {
		t.Errorf("two listen addresses: got the same name %q for both", a)
	}
}

// TestLeaseRestart checks that a replica restarted on its address claims
// its lease back at once, while another replica waits for it to lapse.
func TestLeaseRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := storetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	st := storetest.OpenWith(t, store.SQLite, store.Options{Now: clock.Now})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const ttl = time.Minute
	newReplica := func(addr string) *lease {
		return newLease(st, upkeepLease, replicaID(addr), ttl, log)
	}

	steps := []struct {
		name    string
		advance time.Duration
		lease   *lease
		want    bool
	}{
		{name: "first replica", lease: newReplica("127.0.0.1:8443"), want: true},
		{name: "second replica", lease: newReplica("127.0.0.1:9443"), want: false},
		{name: "first replica restarted", advance: time.Second,
			lease: newReplica("127.0.0.1:8443"), want: true},
		{name: "second replica after the lapse", advance: ttl + time.Second,
			lease: newReplica("127.0.0.1:9443"), want: true},
	}
	for _, s := range steps {
		clock.Add(s.advance)
		if got := s.lease.claim(ctx); got != s.want {
			t.Errorf("%s: claim: got %v, want %v", s.name, got, s.want)
		}
	}
}
