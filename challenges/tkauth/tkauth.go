// Package tkauth validates token challenges for workloads, shaped as the
// tkauth-01 challenge of RFC 9447: instead of proving control of a name over
// the network, the client presents a JWT from an issuer the gateway trusts
// (a Kubernetes service account token, a workload identity token), and rules
// map the token's claims to the identifiers it may authorize.
//
// The challenge object carries "tkauth-type": [TokenType] ("jwt", ours;
// RFC 9447, Section 3 defines "atc" for its own token), and the client
// answers with the payload {"tkauth": "<compact JWS>"} (RFC 9447,
// Section 3). [Validator.Validate] then checks, in order: the request and the
// payload; the token's form and algorithm; its issuer and signature against
// statically configured keys ([LoadJWKSFile]); audience, time claims and
// lifetime; the presence of jti; the binding to the account key (cnf.jkt,
// RFC 7800, Section 3.1, with the JWK thumbprint of RFC 9449, Section 6.1);
// the rules; and last, single use of the jti through a [ReplayCache] that the
// caller backs with the database.
//
// Which identifiers are offered tkauth-01, and the challenge object itself,
// are the state machine's; [Mint] makes tokens for the CLI and for tests.
//
// # Choices
//
// These belong in the project's divergences list:
//
//   - tkauth-type "jwt" is not registered; RFC 9447 tokens ("atc", with
//     TNAuthList identifiers) are not supported.
//   - A token that carries cnf.jkt is accepted only from that account key,
//     even for an issuer that does not require the binding.
//   - Only dns identifiers are validated, and a request does not say whether
//     its name came from a wildcard: the state machine must not offer
//     tkauth-01 for wildcard authorizations.
//   - Without binding (Issuer.BindAccount false), a token can be used once by
//     whichever account presents it first; single use and short lifetimes
//     are then the only protection of a leaked token.
package tkauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/challenges"
)

// Type is the challenge type on the wire (RFC 9447, Section 3).
const Type = "tkauth-01"

// TokenType is the "tkauth-type" of our challenge objects: a JWT from a
// configured issuer.
const TokenType = "jwt"

// Defaults for [Issuer] and [Options].
const (
	DefaultMaxLifetime = time.Hour
	DefaultLeeway      = time.Minute
)

// MaxTokenSize bounds the token in a response payload, in bytes.
const MaxTokenSize = 16 << 10

// maxJTILen bounds the jti claim, which the replay cache stores.
const maxJTILen = 256

// defaultAlgorithms is what an issuer accepts when it names none.
var defaultAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

// asymmetric lists the signature algorithms an issuer may be configured
// with: never "none" nor an HMAC.
var asymmetric = []jose.SignatureAlgorithm{
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
}

// ErrReplayed is returned by a [ReplayCache] for a jti it has seen before.
var ErrReplayed = errors.New("tkauth: token already used")

// ReplayCache records which tokens were used, so that each is used once.
// The caller implements it with the database, so that every replica sees
// every use.
type ReplayCache interface {
	// Use records the jti of issuer as used until expires, after which the
	// token is refused anyway and the record may be dropped. It returns
	// ErrReplayed, and records nothing, when the pair was already used; it
	// must be atomic (a unique index), since two replicas may validate the
	// same token at once. Any other error is an internal fault.
	Use(ctx context.Context, issuer, jti string, expires time.Time) error
}

// Issuer is a token issuer the gateway trusts.
type Issuer struct {
	// Name is the iss claim of its tokens. Names are unique.
	Name string
	// Keys verify its tokens: public keys only, typically from a JWKS file
	// read with [LoadJWKSFile]. A token with a kid header is verified only
	// with the keys of that kid, a token without one with every key; keys
	// whose "alg" differs from the token's are skipped.
	Keys *jose.JSONWebKeySet
	// Audience is required in the aud claim, e.g. the gateway's directory
	// URL.
	Audience string
	// Algorithms the tokens may use. Empty means ES256, RS256 and EdDSA; only
	// asymmetric algorithms are allowed.
	Algorithms []jose.SignatureAlgorithm
	// MaxLifetime bounds exp minus iat. Zero means DefaultMaxLifetime.
	MaxLifetime time.Duration
	// BindAccount requires the claim "cnf": {"jkt": "<thumbprint>"} naming
	// the account key that presents the token: the base64url SHA-256 JWK
	// thumbprint (RFC 7638), as in the key authorization.
	BindAccount bool
	// Rules map the token to the identifiers it may authorize; at least one
	// is needed.
	Rules []Rule
}

// Rule maps a token to identifiers it may authorize.
//
// Claim names a claim: "sub", or a nested one with dots,
// "kubernetes.io.serviceaccount.name". A claim whose own name holds dots
// (the legacy "kubernetes.io/serviceaccount/namespace") is found too: the
// whole remaining path is tried as a name first, then the longest prefix
// before a dot that names an object. The claim must be a string.
//
// Pattern is a regular expression (Go syntax) that must match the whole
// claim value; its named groups feed the templates. Identifiers are
// templates such as "{name}.{namespace}.svc.cluster.local", each {group}
// replaced by what that group matched. A template may start with "*.": it
// then matches any name one label deeper ("*.{namespace}.svc" matches
// "api.payments.svc"). A group's value must be a single DNS label (letters,
// digits, hyphens, at most 63 characters, compared in lower case); a match
// that would put a dot or another character into a name yields nothing, so
// a claim value can never reach into another part of the name space.
type Rule struct {
	Claim       string
	Pattern     string
	Identifiers []string
}

// Options configures a [Validator].
type Options struct {
	// Issuers are the trusted issuers; at least one.
	Issuers []Issuer
	// Replay enforces single use of each jti; required.
	Replay ReplayCache
	// Now is the clock for token times and the record. Nil means time.Now.
	Now func() time.Time
	// Leeway is the clock skew allowed on exp, nbf and iat. Zero means
	// DefaultLeeway; a negative value allows none.
	Leeway time.Duration
}

// Validator validates tkauth-01 challenges. It is safe for concurrent use.
type Validator struct {
	issuers map[string]*issuer
	algs    []jose.SignatureAlgorithm // every issuer's, for parsing
	replay  ReplayCache
	now     func() time.Time
	leeway  time.Duration
}

var _ challenges.Validator = (*Validator)(nil)

// issuer is an [Issuer] with defaults applied and rules compiled.
type issuer struct {
	Issuer
	rules []rule
}

// New checks opts and returns a Validator. It returns an error naming the
// issuer and field at fault: no issuers, a duplicate or empty name, an empty
// audience, no keys or keys that are not public signature keys, an algorithm
// that is not asymmetric, no rules or a rule that does not compile, or no
// replay cache.
func New(opts Options) (*Validator, error) {
	if len(opts.Issuers) == 0 {
		return nil, errors.New("tkauth: no issuers")
	}
	if opts.Replay == nil {
		return nil, errors.New("tkauth: a replay cache is required")
	}
	v := &Validator{
		issuers: make(map[string]*issuer, len(opts.Issuers)),
		replay:  opts.Replay,
		now:     opts.Now,
		leeway:  max(opts.Leeway, 0),
	}
	if v.now == nil {
		v.now = time.Now
	}
	if opts.Leeway == 0 {
		v.leeway = DefaultLeeway
	}

	for i, cfg := range opts.Issuers {
		is, err := compileIssuer(cfg)
		if err != nil {
			return nil, fmt.Errorf("tkauth: issuer %d (%q): %w", i, cfg.Name, err)
		}
		if v.issuers[is.Name] != nil {
			return nil, fmt.Errorf("tkauth: issuer %d: duplicate name %q", i, is.Name)
		}
		v.issuers[is.Name] = is
		for _, alg := range is.Algorithms {
			if !slices.Contains(v.algs, alg) {
				v.algs = append(v.algs, alg)
			}
		}
	}
	return v, nil
}

// compileIssuer checks cfg, applies its defaults and compiles its rules.
func compileIssuer(cfg Issuer) (*issuer, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("empty name")
	case cfg.Audience == "":
		return nil, errors.New("empty audience")
	case len(cfg.Rules) == 0:
		return nil, errors.New("no rules")
	case cfg.MaxLifetime < 0:
		return nil, errors.New("negative maximum lifetime")
	}
	if err := checkKeys(cfg.Keys); err != nil {
		return nil, err
	}

	is := &issuer{Issuer: cfg}
	if len(is.Algorithms) == 0 {
		is.Algorithms = defaultAlgorithms
	}
	is.Algorithms = slices.Clone(is.Algorithms)
	for _, alg := range is.Algorithms {
		if !slices.Contains(asymmetric, alg) {
			return nil, fmt.Errorf("algorithm %q is not an asymmetric signature algorithm", alg)
		}
	}
	if is.MaxLifetime == 0 {
		is.MaxLifetime = DefaultMaxLifetime
	}
	for i, r := range cfg.Rules {
		compiled, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i, err)
		}
		is.rules = append(is.rules, compiled)
	}
	return is, nil
}

// Validate checks the token in req.Payload and that it authorizes
// req.Identifier for the account whose key thumbprint ends
// req.KeyAuthorization (the part after the first "."; RFC 8555,
// Section 8.1). On success the token's jti is spent.
//
// It returns a *challenges.Error of kind malformed for a bad request, a
// payload that is not {"tkauth": "<token>"} or a token that is not a compact
// JWS with well-typed claims, and of kind unauthorized for every other
// refusal: an algorithm not accepted, an unknown issuer or key, a bad
// signature, a wrong audience, a token expired, not yet valid, issued in the
// future or living too long, a missing exp, iat or jti, a jti already used,
// a cnf.jkt for another account key, and an identifier no rule allows.
// Details never contain the token. Any other error is an internal fault of
// the replay cache.
func (v *Validator) Validate(
	ctx context.Context,
	req challenges.Request,
) (challenges.Record, error) {
	rec := challenges.Record{Type: Type, Started: v.now()}
	err := v.validate(ctx, req)
	rec.Duration = v.now().Sub(rec.Started)
	return rec, err
}
