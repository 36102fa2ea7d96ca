package policy

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/store"
)

// Usage names what a rate limit counts: events of Kind ("orders" or
// "certificates") of one account, or naming one identifier.
type Usage struct {
	Kind string
	// AccountID is set for account-scoped limits, Identifier for
	// identifier-scoped ones; never both.
	AccountID  string
	Identifier string
}

// Counter reads past usage. Implementations must count what every replica
// recorded; [StoreCounter] reads the shared database.
type Counter interface {
	// Recent returns the creation times of at most n of the newest events
	// of u created after since, newest first.
	Recent(ctx context.Context, u Usage, since time.Time, n int) ([]time.Time, error)
}

// StoreCounter counts orders and certificates in the store.
type StoreCounter struct {
	Store *store.Store
	// Before, when not zero, ignores events created at or after it, so a
	// replay counts only what had happened when a past order arrived.
	Before time.Time
}

var _ Counter = StoreCounter{}

// Recent implements [Counter].
func (c StoreCounter) Recent(ctx context.Context, u Usage, since time.Time,
	n int) ([]time.Time, error) {
	w := store.Window{After: since, Before: c.Before, Limit: n}
	r := c.Store.Read(ctx)
	switch {
	case u.Kind == KindOrders && u.AccountID != "":
		return r.RecentOrders(u.AccountID, w)
	case u.Kind == KindOrders:
		return r.RecentOrdersFor(u.Identifier, w)
	case u.AccountID != "":
		return r.RecentCertificates(u.AccountID, w)
	}
	return r.RecentCertificatesFor(u.Identifier, w)
}

// exceeded is one rate limit the order would break, and when it frees a
// slot.
type exceeded struct {
	limit RateLimit
	what  string
	retry time.Duration
}

// checkRateLimits refuses the order when any limit of the rule is reached.
// A window frees a slot when the Limit-th newest counted event leaves it,
// so the Retry-After is that event's time plus the window, minus now.
// The longest wait of all reached limits is the one announced.
//
// Replicas count from the shared database without a lock, so concurrent
// orders may together pass a limit by the number of requests in flight.
func (d *Decision) checkRateLimits(ctx context.Context, s Subject, c Counter) error {
	if len(d.rule.RateLimits) == 0 || d.liftedForAccount(LiftRateLimits) {
		return nil
	}
	var hits []exceeded
	for _, l := range d.rule.RateLimits {
		var usages []Usage
		if l.Scope == ScopeAccount {
			usages = []Usage{{Kind: l.Kind, AccountID: s.AccountID}}
		} else {
			for _, id := range s.Identifiers {
				if !d.liftedFor(id, LiftRateLimits) {
					usages = append(usages, Usage{Kind: l.Kind, Identifier: id.Value})
				}
			}
		}
		for _, u := range usages {
			hit, err := checkLimit(ctx, c, l, u, s.Now)
			if err != nil {
				return err
			}
			if hit != nil {
				hits = append(hits, *hit)
			}
		}
	}
	if len(hits) == 0 {
		return nil
	}
	return d.rateLimited(hits)
}

func checkLimit(ctx context.Context, c Counter, l RateLimit, u Usage,
	now time.Time) (*exceeded, error) {
	window := time.Duration(l.Window)
	times, err := c.Recent(ctx, u, now.Add(-window), l.Limit)
	if err != nil {
		return nil, fmt.Errorf("policy: counting %s: %w", l.Kind, err)
	}
	if len(times) < l.Limit {
		return nil, nil
	}
	what := "the account"
	if u.Identifier != "" {
		what = u.Identifier
	}
	frees := times[l.Limit-1].Add(window)
	return &exceeded{limit: l, what: what, retry: frees.Sub(now)}, nil
}

func (d *Decision) rateLimited(hits []exceeded) error {
	worst := hits[0]
	for _, h := range hits[1:] {
		if h.retry > worst.retry {
			worst = h
		}
	}
	secs := int(math.Ceil(worst.retry.Seconds()))
	if secs < 1 {
		secs = 1
	}
	var also string
	if len(hits) > 1 {
		others := make([]string, 0, len(hits)-1)
		for _, h := range hits {
			if h != worst {
				others = append(others, describeLimit(h))
			}
		}
		also = "; also reached: " + strings.Join(others, "; ")
	}
	return &problem.Error{
		Type:       problem.RateLimited,
		RetryAfter: secs,
		Detail: fmt.Sprintf("policy rule %s: %s; retry after %s%s", d.Explain(),
			describeLimit(worst), (time.Duration(secs) * time.Second).String(), also),
	}
}

// describeLimit says "5 certificates per 7d for a.example reached".
func describeLimit(h exceeded) string {
	return fmt.Sprintf("%d %s per %s for %s reached", h.limit.Limit, h.limit.Kind,
		h.limit.Window, h.what)
}
