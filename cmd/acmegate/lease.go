package main

import (
	"context"
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

// replicaID returns this process's name as a lease holder: the host name
// and the address its ACME listener is bound to. No two live processes
// share both (the listener is bound before any lease is claimed), and a
// replica restarted after a crash gets the same name back, so it resumes
// its own lease at once instead of waiting for it to lapse. Long host
// names are cut so the name fits the holder column.
func replicaID(listenAddr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "acmegate"
	}
	room := max(maxHolderLen-len(listenAddr)-1, 8)
	if len(host) > room {
		host = host[:room]
	}
	id := host + "/" + listenAddr
	if len(id) > maxHolderLen {
		id = id[len(id)-maxHolderLen:]
	}
	return id
}

// maxHolderLen is the size of the holder column of [store.Lease].
const maxHolderLen = 64

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
