// Package dns01 validates dns-01 challenges (RFC 8555, Section 8.4): the
// TXT records at _acme-challenge.<name> must include the base64url-encoded
// SHA-256 digest of the key authorization.
//
// Lookups, CNAME following and the optional agreement of several resolvers
// belong to package resolver; this package builds the query name and judges
// the answer. Wildcard identifiers arrive without their "*." prefix
// (RFC 8555, Section 7.1.3), so they are validated at the base name.
package dns01

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/resolver"
)

// DefaultTimeout bounds a validation when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Label is the name prepended to the identifier (RFC 8555, Section 8.4).
const Label = "_acme-challenge"

// maxShown bounds how many found values an error detail lists.
const maxShown = 5

// Options tunes a [Validator]. The zero value gives the defaults.
type Options struct {
	// Timeout bounds the whole validation, CNAME hops and all servers
	// included. Zero means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock for the record's timings. Nil means time.Now.
	Now func() time.Time
}

// Validator validates dns-01 challenges. It is safe for concurrent use.
type Validator struct {
	res  *resolver.Resolver
	opts Options
}

var _ challenges.Validator = (*Validator)(nil)

// New returns a Validator that looks records up with res; a quorum set on
// res applies to every validation.
func New(res *resolver.Resolver, opts Options) *Validator {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Validator{res: res, opts: opts}
}

// TXTValue returns the record value that fulfils a dns-01 challenge: the
// base64url encoding, without padding, of the SHA-256 digest of the key
// authorization (RFC 8555, Section 8.4).
func TXTValue(keyAuthorization string) string {
	digest := sha256.Sum256([]byte(keyAuthorization))
	return base64.RawURLEncoding.EncodeToString(digest[:])
}

// Match reports whether one of the TXT values found equals want exactly.
// Other values are ignored: a name may carry records for several pending
// challenges at once.
func Match(values []string, want string) bool {
	for _, v := range values {
		if v == want {
			return true
		}
	}
	return false
}

// Validate looks up the TXT records for req and checks that one of them is
// [TXTValue] of req.KeyAuthorization. It returns a *challenges.Error of kind
// malformed for a bad request or an IP identifier (RFC 8738, Section 7), dns
// for failed lookups (NXDOMAIN, SERVFAIL, timeouts, disagreeing resolvers),
// and incorrectResponse when no TXT record or no matching one is found.
func (v *Validator) Validate(
	ctx context.Context,
	req challenges.Request,
) (challenges.Record, error) {
	rec := challenges.Record{
		Type:      challenges.TypeDNS01,
		Started:   v.opts.Now(),
		Resolvers: v.res.Servers(),
	}
	err := v.validate(ctx, req, &rec)
	rec.Duration = v.opts.Now().Sub(rec.Started)
	return rec, err
}

func (v *Validator) validate(
	ctx context.Context,
	req challenges.Request,
	rec *challenges.Record,
) error {
	if err := req.Check(); err != nil {
		return err
	}
	// RFC 8738, Section 7: dns-01 must not be used for IP identifiers.
	if req.Identifier.Type != challenges.IdentifierDNS {
		return challenges.Errorf(challenges.KindMalformed,
			"dns-01 cannot validate %s identifiers", req.Identifier.Type)
	}
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()

	name := Label + "." + req.Identifier.Value
	rec.Hostname = name
	values, answers, err := v.res.LookupTXT(ctx, name)
	rec.Answers = answers
	if err != nil {
		return err
	}

	want := TXTValue(req.KeyAuthorization)
	if Match(values, want) {
		return nil
	}
	if len(values) == 0 {
		return challenges.Errorf(challenges.KindIncorrectResponse,
			"no TXT record found at %s, want %q", name, want)
	}
	return challenges.Errorf(challenges.KindIncorrectResponse,
		"no TXT record at %s matches: found %s; want %q", name, describe(values), want)
}

// describe lists found values for an error detail: quoted, each cut short,
// at most maxShown of them.
func describe(values []string) string {
	shown := make([]string, 0, maxShown+1)
	for _, v := range values[:min(len(values), maxShown)] {
		shown = append(shown, fmt.Sprintf("%q", challenges.Excerpt(v, 64)))
	}
	if extra := len(values) - maxShown; extra > 0 {
		shown = append(shown, fmt.Sprintf("and %d more", extra))
	}
	return strings.Join(shown, ", ")
}
