package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"time"

	"github.com/acmegate/acmegate/store"
)

// Names of the store leases under which one replica at a time runs a
// background loop.
const (
	upkeepLease    = "upkeep"
	retentionLease = "retention"
)

// replicaID returns an identifier for this process as a lease holder: the
// host name, for operators reading the leases table, and random bytes,
// because several replicas may share a host.
func replicaID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "acmegate"
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return truncateHost(host, 40) + "-" + hex.EncodeToString(b)
}

func truncateHost(host string, n int) string {
	if len(host) > n {
		return host[:n]
	}
	return host
}

// lease claims one named store lease for this process on every round of a
// background loop. Each loop has its own lease value; it is not safe for
// concurrent use.
type lease struct {
	st     *store.Store
	name   string
	holder string
	// ttl is how long a claim lasts; the loop's period times two lets one
	// round be late before another replica takes over.
	ttl  time.Duration
	log  *slog.Logger
	held bool
}

func newLease(st *store.Store, name, holder string, ttl time.Duration, log *slog.Logger) *lease {
	return &lease{st: st, name: name, holder: holder, ttl: ttl,
		log: log.With("lease", name, "replica", holder)}
}

// claim takes or renews the lease and reports whether this replica holds
// it for the next ttl. A store error counts as not holding it: skipping a
// round is safe, running it twice at once is only wasteful.
func (l *lease) claim(ctx context.Context) bool {
	ok, err := l.st.TryLease(ctx, l.name, l.holder, l.ttl)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Error("claiming background lease failed", "error", err)
		}
		ok = false
	}
	if ok != l.held {
		if ok {
			l.log.Info("background lease taken")
		} else {
			l.log.Info("background lease held by another replica")
		}
		l.held = ok
	}
	return ok
}
