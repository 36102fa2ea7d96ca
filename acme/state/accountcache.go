package state

import (
	"slices"
	"sync"
)

// accountCache keeps the usable accounts of one engine by ID, so that a
// request signed with a kid does not read and parse the account row
// again. It is only correct where this engine makes every change to its
// accounts: one process on its own database ([Config.CacheAccounts]).
// Replicas on a shared database must not use it, or a deactivation or key
// rollover on one would go unseen by the others.
type accountCache struct {
	mu sync.Mutex
	// gen counts invalidations: a reader that loaded an account before
	// one must not store what it read.
	gen uint64
	m   map[string]*Account
}

// maxCachedAccounts bounds the cache; when full it starts over.
const maxCachedAccounts = 10000

func newAccountCache() *accountCache {
	return &accountCache{m: map[string]*Account{}}
}

// get returns a copy of the cached account and the generation to pass to
// put when it is missing.
func (c *accountCache) get(id string) (*Account, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.m[id]; ok {
		return copyAccount(a), c.gen
	}
	return nil, c.gen
}

// put stores acct, read from the database at generation gen, unless an
// invalidation came in between.
func (c *accountCache) put(gen uint64, acct *Account) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.m) >= maxCachedAccounts {
		clear(c.m)
	}
	c.m[acct.ID] = copyAccount(acct)
}

// forget drops id; call it after every change to the account commits, or
// fails (it may have committed).
func (c *accountCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.m, id)
}

// copyAccount copies a so that callers cannot change the cached value.
// The key is shared: nothing modifies a parsed key.
func copyAccount(a *Account) *Account {
	cp := *a
	cp.Contacts = slices.Clone(a.Contacts)
	return &cp
}
