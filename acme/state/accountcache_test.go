package state

import "testing"

// TestAccountCacheStaleRead drops what a reader loaded before an
// invalidation, and hands out copies the caller may change.
func TestAccountCacheStaleRead(t *testing.T) {
	c := newAccountCache()
	_, gen := c.get("a1")
	// A deactivation commits while the reader holds the old row.
	c.forget("a1")
	c.put(gen, &Account{ID: "a1", Status: StatusValid})
	if got, _ := c.get("a1"); got != nil {
		t.Fatalf("a row read before the invalidation was cached: %+v", got)
	}

	_, gen = c.get("a1")
	c.put(gen, &Account{ID: "a1", Status: StatusValid, Contacts: []string{"mailto:a@example.com"}})
	got, _ := c.get("a1")
	if got == nil || got.Status != StatusValid {
		t.Fatalf("got %+v, want the cached valid account", got)
	}
	got.Status = StatusDeactivated
	got.Contacts[0] = "mailto:changed@example.com"
	again, _ := c.get("a1")
	if again.Status != StatusValid || again.Contacts[0] != "mailto:a@example.com" {
		t.Fatalf("a caller's change reached the cache: %+v", again)
	}
}

// TestAccountCacheBounded starts over instead of growing past its bound.
func TestAccountCacheBounded(t *testing.T) {
	c := newAccountCache()
	for i := range maxCachedAccounts + 10 {
		_, gen := c.get("x")
		c.put(gen, &Account{ID: string(rune('a'+i%26)) + string(rune(i))})
	}
	if n := len(c.m); n > maxCachedAccounts {
		t.Fatalf("%d accounts cached, want at most %d", n, maxCachedAccounts)
	}
}
