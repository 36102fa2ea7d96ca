// Package caa checks Certification Authority Authorization records
// (RFC 8659) before a certificate is issued, with the accounturi and
// validationmethods parameters of RFC 8657.
//
// [Checker.Check] finds the relevant RRset by climbing from the name towards
// the root and stopping at the first name that has CAA records (RFC 8659,
// Section 3), then decides whether those records let this CA issue for this
// account and validation method. Lookups, CNAME following and the agreement
// of several resolvers belong to package resolver. When to check (after a
// successful validation, again at finalize when the validation is older than
// the recheck window) and which method validated an authorization are the
// state machine's knowledge: it passes them in.
//
// # Choices
//
// These belong in the project's divergences list:
//
//   - Every failed lookup (SERVFAIL, REFUSED, timeout, an answer still
//     truncated over TCP, resolvers that disagree) refuses issuance with a
//     dns error. RFC 8659, Section 3 requires the check before issuance; the
//     exception of the CA/Browser Forum Baseline Requirements, Section
//     3.2.2.8, which lets a lookup failure count as permission, is not used.
//   - NXDOMAIN is an empty RRset at every level, the top-level label
//     included: internal names often sit under a private top-level label
//     that no server knows.
//   - Known property tags are issue, issuewild and iodef (RFC 8659,
//     Section 4.1); any other tag with the critical flag refuses issuance.
//   - Parameter tags are matched without regard to case, so that
//     "AccountURI=" restricts like "accounturi=" rather than being ignored.
//   - A property with more than one validationmethods parameter, or one
//     whose list does not follow RFC 8657, Section 4, authorizes nothing,
//     as RFC 8657, Section 3 says for accounturi.
package caa

import (
	"context"
	"strings"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/resolver"
)

// DefaultTimeout bounds one [Checker.Check], every level of the tree and
// every CNAME included.
const DefaultTimeout = 30 * time.Second

// Checker decides whether CAA records allow this CA to issue. It is safe for
// concurrent use.
type Checker struct {
	res        *resolver.Resolver
	identities []string
}

// New returns a Checker that looks records up with res and recognises the
// issuer domain names in identities (RFC 8659, Section 4.2) as this CA, for
// example "acmegate.example.internal". They are compared without regard to
// case or a trailing dot. With no identities every issue or issuewild
// property refuses issuance, which is safe but rarely meant.
func New(res *resolver.Resolver, identities []string) *Checker {
	c := &Checker{res: res}
	for _, id := range identities {
		c.identities = append(c.identities, canonicalName(id))
	}
	return c
}

// Check reports whether the CAA records relevant to id allow this CA to issue
// a certificate for it to the account accountURI after a validation by method
// (a challenge type such as "http-01"). For a wildcard name, id holds the
// base name without "*." and wildcard is true.
//
// It returns the answer records received while climbing the tree, in
// presentation form, for the audit record, whatever the outcome. The error
// is nil when issuance is allowed; a *challenges.Error of kind caa naming the
// records when they forbid it; of kind dns when a lookup failed (which also
// forbids issuance); of kind malformed for an invalid identifier; and an
// error of another type for an internal fault. IP identifiers have no CAA
// (RFC 8659 defines it for domain names only) and give nil, nil.
func (c *Checker) Check(
	ctx context.Context,
	id challenges.Identifier,
	wildcard bool,
	accountURI string,
	method string,
) ([]string, error) {
	switch id.Type {
	case challenges.IdentifierIP:
		return nil, nil
	case challenges.IdentifierDNS:
		if err := challenges.CheckHostName(id.Value); err != nil {
			return nil, err
		}
	default:
		return nil, challenges.Errorf(challenges.KindMalformed,
			"unsupported identifier type %q", challenges.Excerpt(id.Type, 32))
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()

	// RFC 8659, Section 3: climb from the name up to, but not including, the
	// root, and stop at the first name that has a CAA RRset.
	name := canonicalName(id.Value)
	var seen []string
	for owner := name; owner != ""; owner = parent(owner) {
		set, answers, err := c.res.LookupCAA(ctx, owner)
		seen = append(seen, answers...)
		if err != nil {
			return seen, err
		}
		if len(set) > 0 {
			req := request{
				name:       name,
				owner:      owner,
				wildcard:   wildcard,
				accountURI: accountURI,
				method:     method,
			}
			return seen, c.judge(req, set)
		}
	}
	return seen, nil
}

// parent returns name without its leftmost label, or "" for a single label.
func parent(name string) string {
	_, rest, _ := strings.Cut(name, ".")
	return rest
}

// canonicalName lower-cases a name and drops a trailing dot.
func canonicalName(name string) string {
	return strings.TrimSuffix(strings.ToLower(name), ".")
}
