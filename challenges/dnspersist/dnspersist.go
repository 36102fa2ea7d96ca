package dnspersist

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/resolver"
)

// Type is the challenge type (draft-ietf-acme-dns-persist-02, Section 3).
const Type = "dns-persist-01"

// Label is the name prepended to a domain to find its validation record
// (draft-ietf-acme-dns-persist-02, Section 4).
const Label = "_validation-persist"

// MaxIssuerDomainNames bounds the issuer domain names a CA may offer
// (draft-ietf-acme-dns-persist-02, Section 3.1).
const MaxIssuerDomainNames = 10

// MaxAncestors bounds how many ancestors of a name are asked for a
// policy=wildcard record when Options.Subdomains is on.
const MaxAncestors = 10

// DefaultTimeout bounds a validation when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Options configure a [Validator].
type Options struct {
	// IssuerDomainNames are this CA's issuer domain names; a record must
	// name one of them. They must pass [CheckIssuerDomainNames].
	IssuerDomainNames []string
	// AccountHashPrefix is the accountHashPrefix advertised in the
	// directory, such as "https://ca.corp.internal/acme/account-hash/";
	// hashed account URIs must start with it. It must be an absolute URI.
	AccountHashPrefix string
	// Subdomains lets a policy=wildcard record at an ancestor of the name
	// authorize it (draft-ietf-acme-dns-persist-02, Section 6). Off, only
	// the record at the name itself counts.
	Subdomains bool
	// Timeout bounds the whole validation, every lookup included. Zero
	// means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock for persistUntil and the record's timings. Nil
	// means time.Now.
	Now func() time.Time
}

// Validator validates dns-persist-01 challenges. It is safe for concurrent
// use.
type Validator struct {
	res     *resolver.Resolver
	opts    Options
	issuers map[string]bool
}

var _ challenges.Validator = (*Validator)(nil)

// New returns a Validator that looks records up with res; a quorum set on
// res applies to every lookup. It fails when the issuer domain names or the
// account hash prefix are unusable.
func New(res *resolver.Resolver, opts Options) (*Validator, error) {
	if err := CheckIssuerDomainNames(opts.IssuerDomainNames); err != nil {
		return nil, err
	}
	if u, err := url.Parse(opts.AccountHashPrefix); err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("dnspersist: account hash prefix %q is not an absolute URI",
			opts.AccountHashPrefix)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	v := &Validator{res: res, opts: opts, issuers: map[string]bool{}}
	for _, n := range opts.IssuerDomainNames {
		v.issuers[n] = true
	}
	return v, nil
}

// account is the requester a record must name: its URL, and the
// thumbprint of its key or, for a record made before a key change, of a
// key it retired.
type account struct {
	url         string
	thumbprints []string
}

// named reports whether uri, found in a record at domain, is the hashed
// account URI of a for that domain or for any domain, with one of its keys.
func (a account) named(prefix, domain, uri string) bool {
	for _, thumbprint := range a.thumbprints {
		if uri == HashedAccountURI(prefix, domain, thumbprint, a.url) ||
			uri == HashedAccountURI(prefix, AnyDomain, thumbprint, a.url) {
			return true
		}
	}
	return false
}

// place is a domain whose validation record may authorize the name.
type place struct {
	// domain is where the record is published, without [Label].
	domain string
	// needWildcard means the record must say policy=wildcard: the name is
	// a wildcard or lies below domain.
	needWildcard bool
}

// Validate looks up the validation records for req and checks that one of
// them names this CA and the requesting account (req.AccountURI, with the
// key thumbprint of req.KeyAuthorization) and covers the name
// (draft-ietf-acme-dns-persist-02, Section 4.2). The record of a success
// carries the matching record's persistUntil in ValidUntil. Errors are
// *challenges.Error as the package comment lists them; a request without
// an account URI is an internal fault.
func (v *Validator) Validate(
	ctx context.Context,
	req challenges.Request,
) (challenges.Record, error) {
	rec := challenges.Record{
		Type:      Type,
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
	// draft-ietf-acme-dns-persist-02, Section 8.1 registers the method for
	// dns identifiers only.
	if req.Identifier.Type != challenges.IdentifierDNS {
		return challenges.Errorf(challenges.KindMalformed,
			"%s cannot validate %s identifiers", Type, req.Identifier.Type)
	}
	if req.AccountURI == "" {
		return errors.New("dnspersist: the request names no account URI")
	}
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()

	// Check prefixed the key authorization with the token and a dot.
	acct := account{url: req.AccountURI, thumbprints: append(
		[]string{req.KeyAuthorization[len(req.Token)+1:]}, req.RetiredThumbprints...)}
	name := req.Identifier.Value
	if req.Wildcard {
		name = "*." + name
	}
	var first, relevant error
	for i, p := range v.places(req.Identifier.Value, req.Wildcard) {
		until, found, err := v.checkAt(ctx, p, acct, name, rec)
		if err == nil {
			rec.Hostname = Label + "." + p.domain
			rec.ValidUntil = until
			return nil
		}
		if i == 0 {
			first = err
		}
		if found && relevant == nil {
			relevant = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	rec.Hostname = Label + "." + req.Identifier.Value
	// A record for this CA that fails says more than a missing record.
	if relevant != nil {
		return relevant
	}
	return first
}

// places lists where records that may authorize the identifier value are
// published: the value itself, then, with Options.Subdomains, its nearest
// ancestors of two or more labels (draft-ietf-acme-dns-persist-02,
// Section 6.1).
func (v *Validator) places(value string, wildcard bool) []place {
	out := []place{{domain: value, needWildcard: wildcard}}
	if !v.opts.Subdomains {
		return out
	}
	for d := parent(value); strings.Contains(d, ".") && len(out) <= MaxAncestors; d = parent(d) {
		out = append(out, place{domain: d, needWildcard: true})
	}
	return out
}

// parent returns name without its first label, or "" for a single label.
func parent(name string) string {
	_, rest, _ := strings.Cut(name, ".")
	return rest
}

// checkAt judges the records at p for the requested name. It returns the
// persistUntil of the best matching record (zero when it has none), and
// reports whether a record for this CA was found, so that its failure can
// be preferred to a missing record elsewhere.
func (v *Validator) checkAt(
	ctx context.Context,
	p place,
	acct account,
	name string,
	rec *challenges.Record,
) (time.Time, bool, error) {
	qname := Label + "." + p.domain
	values, answers, err := v.res.LookupTXT(ctx, qname)
	rec.Answers = append(rec.Answers, answers...)
	if err != nil {
		return time.Time{}, false, err
	}
	if len(values) == 0 {
		return time.Time{}, false, challenges.Errorf(challenges.KindIncorrectResponse,
			"no TXT record found at %s", qname)
	}

	// draft-ietf-acme-dns-persist-02, Section 4.3.2: records for other
	// CAs are ignored, and any one record for this CA that meets every
	// requirement suffices.
	var best time.Time
	matched := false
	var firstErr error
	for _, value := range values {
		r, ok := parseRecord(value)
		if !ok || !v.issuers[r.issuer] {
			continue
		}
		until, err := v.judge(r, p, acct, name, qname)
		switch {
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
		case !matched:
			best, matched = until, true
		case best.IsZero():
			// Already unbounded.
		case until.IsZero() || until.After(best):
			best = until
		}
	}
	if matched {
		return best, true, nil
	}
	if firstErr != nil {
		return time.Time{}, true, firstErr
	}
	return time.Time{}, false, challenges.Errorf(challenges.KindUnauthorized,
		"none of the %d TXT records at %s names this CA (%s)",
		len(values), qname, strings.Join(v.opts.IssuerDomainNames, ", "))
}

// judge checks one record for this CA found at p: syntax first, then
// whether it names the account, is still in force and covers the name. It
// returns the record's persistUntil, zero when it has none.
func (v *Validator) judge(
	r validationRecord,
	p place,
	acct account,
	name, qname string,
) (time.Time, error) {
	fail := func(kind, format string, args ...any) error {
		return challenges.Errorf(kind, "the record for %s at %s %s", r.issuer, qname,
			fmt.Sprintf(format, args...))
	}
	var ce *challenges.Error
	if errors.As(r.err, &ce) {
		return time.Time{}, fail(ce.Kind, "is malformed: %s", ce.Detail)
	}
	uri, ok := r.params[tagAccountURI]
	if !ok {
		return time.Time{}, fail(challenges.KindMalformed, "has no accounturi")
	}
	if why := v.hashedURIFault(uri); why != "" {
		return time.Time{}, fail(challenges.KindMalformed, "has an accounturi %q that %s",
			challenges.Excerpt(uri, 128), why)
	}
	until, err := persistUntil(r.params)
	if err != nil {
		return time.Time{}, fail(challenges.KindMalformed, "%s", err)
	}

	// draft-ietf-acme-dns-persist-02, Section 4.2: the hashed URI is
	// recomputed for the record's own domain and for the any-domain form,
	// with the account's current key and then with each key it used
	// before, newest first, and compared octet for octet.
	if !acct.named(v.opts.AccountHashPrefix, p.domain, uri) {
		return time.Time{}, fail(challenges.KindUnauthorized,
			"names another account, or this account with a key it never used")
	}
	// draft-ietf-acme-dns-persist-02, Section 4.1: after persistUntil the
	// record no longer validates.
	if !until.IsZero() && v.opts.Now().After(until) {
		return time.Time{}, fail(challenges.KindUnauthorized, "expired at persistUntil %s",
			until.UTC().Format(time.RFC3339))
	}
	// draft-ietf-acme-dns-persist-02, Section 5.1: only policy=wildcard
	// reaches wildcards and subdomains.
	if p.needWildcard && !r.wildcardPolicy() {
		return time.Time{}, fail(challenges.KindUnauthorized,
			"lacks policy=wildcard, so it does not cover %s", name)
	}
	return until, nil
}

// hashedURIFault returns why uri is not a well-formed hashed account URI
// of this CA, or "" when it is one (draft-ietf-acme-dns-persist-02,
// Section 9.3.1).
func (v *Validator) hashedURIFault(uri string) string {
	rest, ok := strings.CutPrefix(uri, v.opts.AccountHashPrefix)
	if !ok {
		return "is not under this CA's accountHashPrefix " + v.opts.AccountHashPrefix
	}
	alg, digest, ok := strings.Cut(rest, "/")
	if !ok || alg != HashAlgorithm {
		return "does not use the hash algorithm " + HashAlgorithm
	}
	// The unpadded base64url of a SHA-256 digest has 43 characters.
	if len(digest) != 43 || !isBase64URL(digest) {
		return "does not end in an unpadded base64url SHA-256 digest"
	}
	return ""
}

// persistUntil returns the record's persistUntil, zero when absent. The
// value must be a base-10 count of seconds since the Unix epoch
// (draft-ietf-acme-dns-persist-02, Section 4.1).
func persistUntil(params map[string]string) (time.Time, error) {
	raw, ok := params[tagPersistUntil]
	if !ok {
		return time.Time{}, nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			raw = ""
			break
		}
	}
	secs, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || secs > maxUnix {
		return time.Time{}, fmt.Errorf("has a persistUntil %q that is not a base-10 Unix time",
			challenges.Excerpt(params[tagPersistUntil], 32))
	}
	return time.Unix(secs, 0).UTC(), nil
}

// maxUnix is the last second of year 9999, beyond which a persistUntil
// cannot be a meant time and time arithmetic would overflow.
const maxUnix = 253402300799
