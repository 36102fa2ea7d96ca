package tkauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/json"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/acmegate/acmegate/challenges"
)

// payloadMember is the one member of a response payload (RFC 9447,
// Section 3).
const payloadMember = "tkauth"

// tokenClaims are the claims this package reads by name.
type tokenClaims struct {
	jwt.Claims
	Confirmation *struct {
		JKT string `json:"jkt"`
	} `json:"cnf,omitempty"`
}

// token is a parsed, not yet verified token.
type token struct {
	jwt    *jwt.JSONWebToken
	header jose.Header
	claims tokenClaims
	raw    map[string]any // every claim, for the rules
}

func (v *Validator) validate(ctx context.Context, req challenges.Request) error {
	// 1. The request and its payload.
	if err := req.Check(); err != nil {
		return err
	}
	if req.Identifier.Type != challenges.IdentifierDNS {
		return challenges.Errorf(challenges.KindMalformed,
			"%s cannot validate %s identifiers", Type, req.Identifier.Type)
	}
	compact, err := decodePayload(req.Payload)
	if err != nil {
		return err
	}

	// 2. The token: its form, then its issuer and signature. The claims are
	// decoded before the signature is checked, to find the issuer; nothing
	// in them is trusted until verify succeeds.
	tok, err := parseToken(compact, v.algs)
	if err != nil {
		return err
	}
	is := v.issuers[tok.claims.Issuer]
	if is == nil {
		return unauthorized("token issuer %q is not trusted",
			challenges.Excerpt(tok.claims.Issuer, 64))
	}
	if err := is.verify(tok); err != nil {
		return err
	}

	// 3. Audience, times, lifetime and jti.
	if err := is.checkClaims(tok.claims, v.now(), v.leeway); err != nil {
		return err
	}

	// 4. The account key. The thumbprint is what follows the first "." of
	// the key authorization (RFC 8555, Section 8.1); req.Check has made sure
	// it is there.
	_, thumbprint, _ := strings.Cut(req.KeyAuthorization, ".")
	if err := is.checkBinding(tok.claims, thumbprint); err != nil {
		return err
	}

	// 5. The rules.
	if err := is.authorize(tok.raw, strings.ToLower(req.Identifier.Value)); err != nil {
		return err
	}

	// 6. Single use, last, so that a token refused above is not spent.
	expires := tok.claims.Expiry.Time().Add(v.leeway)
	err = v.replay.Use(ctx, is.Name, tok.claims.ID, expires)
	if errors.Is(err, ErrReplayed) {
		return unauthorized("token of issuer %q was already used (same jti)", is.Name)
	}
	if err != nil {
		return fmt.Errorf("tkauth: recording the use of a token of %q: %w", is.Name, err)
	}
	return nil
}

// unauthorized returns a *challenges.Error of kind unauthorized.
func unauthorized(format string, args ...any) *challenges.Error {
	return challenges.Errorf(challenges.KindUnauthorized, format, args...)
}

// decodePayload returns the token of a response payload, which must be
// exactly {"tkauth": "<token>"}. The decoder refuses duplicate members and
// matches names exactly (SECURITY-CATALOGUE A12).
func decodePayload(payload []byte) (string, error) {
	malformed := func(why string) error {
		return challenges.Errorf(challenges.KindMalformed,
			`%s response payload must be {"tkauth": "<token>"}: %s`, Type, why)
	}
	if len(payload) == 0 {
		return "", malformed("payload is empty")
	}
	if len(payload) > MaxTokenSize+64 {
		return "", malformed(fmt.Sprintf("payload is longer than %d bytes", MaxTokenSize+64))
	}
	var members map[string]any
	if err := json.Unmarshal(payload, &members); err != nil || members == nil {
		return "", malformed("not a JSON object without duplicate members")
	}
	compact, ok := members[payloadMember].(string)
	switch {
	case !ok || compact == "":
		return "", malformed(`no "tkauth" string`)
	case len(members) != 1:
		return "", malformed(`members other than "tkauth"`)
	}
	return compact, nil
}

// parseToken parses a JWS in compact serialization whose algorithm is one
// of algs, and decodes its claims without verifying the signature. It
// returns a *challenges.Error of kind unauthorized for another algorithm
// ("none" and HMACs included) and of kind malformed for anything that is
// not such a JWS with a JSON object of claims.
func parseToken(compact string, algs []jose.SignatureAlgorithm) (*token, error) {
	malformed := func(why string) error {
		return challenges.Errorf(challenges.KindMalformed, "token %s", why)
	}
	if len(compact) > MaxTokenSize {
		return nil, malformed(fmt.Sprintf("is longer than %d bytes", MaxTokenSize))
	}
	// Three parts: two dots. Counting first keeps a flood of dots from
	// reaching the parser (SECURITY-CATALOGUE A4).
	if strings.Count(compact, ".") != 2 {
		return nil, malformed("is not a JWS in compact serialization (three parts)")
	}
	alg, err := headerAlgorithm(compact)
	if err != nil {
		return nil, malformed("header is not base64url-encoded JSON with an alg")
	}
	if !slices.Contains(algs, jose.SignatureAlgorithm(alg)) {
		return nil, unauthorized("token algorithm %q is not accepted", challenges.Excerpt(alg, 16))
	}

	parsed, err := jwt.ParseSigned(compact, algs)
	if err != nil || len(parsed.Headers) != 1 {
		return nil, malformed("is not a valid JWS")
	}
	tok := &token{jwt: parsed, header: parsed.Headers[0]}
	if err := parsed.UnsafeClaimsWithoutVerification(&tok.claims, &tok.raw); err != nil {
		return nil, malformed("claims are not a JSON object of well-typed claims")
	}
	return tok, nil
}

// headerAlgorithm returns the alg of a compact JWS's protected header.
func headerAlgorithm(compact string) (string, error) {
	encoded, _, _ := strings.Cut(compact, ".")
	data, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil {
		return "", fmt.Errorf("decoding header: %w", err)
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(data, &header); err != nil {
		return "", fmt.Errorf("parsing header: %w", err)
	}
	if header.Alg == "" {
		return "", errors.New("header has no alg")
	}
	return header.Alg, nil
}

// verify checks that the token is signed with an algorithm and a key of
// this issuer.
func (is *issuer) verify(tok *token) error {
	alg := tok.header.Algorithm
	if !slices.Contains(is.Algorithms, jose.SignatureAlgorithm(alg)) {
		return unauthorized("token algorithm %q is not accepted for issuer %q", alg, is.Name)
	}
	keys := is.Keys.Keys
	if kid := tok.header.KeyID; kid != "" {
		keys = is.Keys.Key(kid)
		if len(keys) == 0 {
			return unauthorized("token key ID %q is not a key of issuer %q",
				challenges.Excerpt(kid, 64), is.Name)
		}
	}
	for _, key := range keys {
		if key.Use != "" && key.Use != "sig" || key.Algorithm != "" && key.Algorithm != alg {
			continue
		}
		// With no destination, Claims only verifies the signature.
		if tok.jwt.Claims(key.Key) == nil {
			return nil
		}
	}
	return unauthorized("token signature does not verify with the keys of issuer %q", is.Name)
}

// checkClaims checks audience, time claims, lifetime and jti at now.
func (is *issuer) checkClaims(c tokenClaims, now time.Time, leeway time.Duration) error {
	switch {
	case c.Expiry == nil:
		return unauthorized("token of issuer %q has no exp claim", is.Name)
	case c.IssuedAt == nil:
		return unauthorized("token of issuer %q has no iat claim", is.Name)
	case c.ID == "":
		return unauthorized("token of issuer %q has no jti claim", is.Name)
	case len(c.ID) > maxJTILen:
		return unauthorized("token jti is longer than %d bytes", maxJTILen)
	}

	expected := jwt.Expected{AnyAudience: jwt.Audience{is.Audience}, Time: now}
	err := c.ValidateWithLeeway(expected, leeway)
	switch {
	case errors.Is(err, jwt.ErrInvalidAudience):
		return unauthorized("token audience does not include %q", is.Audience)
	case errors.Is(err, jwt.ErrExpired):
		return unauthorized("token expired at %s", stamp(c.Expiry))
	case errors.Is(err, jwt.ErrNotValidYet):
		return unauthorized("token is not valid before %s", stamp(c.NotBefore))
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return unauthorized("token is issued in the future, at %s", stamp(c.IssuedAt))
	case err != nil:
		return unauthorized("token claims are not valid")
	}

	lifetime := c.Expiry.Time().Sub(c.IssuedAt.Time())
	if lifetime > is.MaxLifetime || lifetime < 0 {
		return unauthorized("token lifetime (exp - iat) is %s, allowed at most %s",
			lifetime, is.MaxLifetime)
	}
	return nil
}

// stamp formats a claim time for a detail.
func stamp(d *jwt.NumericDate) string {
	return d.Time().UTC().Format(time.RFC3339)
}

// checkBinding checks cnf.jkt against the account key thumbprint: required
// when the issuer binds tokens to accounts, and honoured whenever present.
func (is *issuer) checkBinding(c tokenClaims, thumbprint string) error {
	var jkt string
	if c.Confirmation != nil {
		jkt = c.Confirmation.JKT
	}
	switch {
	case jkt == "" && is.BindAccount:
		return unauthorized("token of issuer %q has no cnf.jkt claim naming the account key",
			is.Name)
	case jkt != "" && jkt != thumbprint:
		return unauthorized("token is bound to another account key (cnf.jkt)")
	}
	return nil
}
