package tkauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/tkauth"
)

const (
	issuerName = "https://kubernetes.default.svc.cluster.local"
	audience   = "https://acmegate.test/acme/directory"
	chalToken  = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
	thumbprint = "nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ"
	subject    = "system:serviceaccount:payments:api"
	apiName    = "api.payments.svc.cluster.local"
)

// now is the fake clock's time in every test.
var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// Test keys, made once: an ES256 key with kid "es", an Ed25519 key with kid
// "ed", and an ES256 key the issuer does not know.
var (
	esKey    = mustECDSA()
	edKey    = mustEd25519()
	strayKey = mustECDSA()
)

func mustECDSA() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEd25519() ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// memoryReplay is a ReplayCache in memory, for tests only.
type memoryReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
	err  error // returned by every Use when set
}

func (m *memoryReplay) Use(_ context.Context, issuer, jti string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	key := issuer + "\x00" + jti
	if _, ok := m.seen[key]; ok {
		return tkauth.ErrReplayed
	}
	if m.seen == nil {
		m.seen = make(map[string]time.Time)
	}
	m.seen[key] = expires
	return nil
}

// keySet returns the public keys of the issuer.
func keySet() *jose.JSONWebKeySet {
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: esKey.Public(), KeyID: "es", Use: "sig"},
		{Key: edKey.Public(), KeyID: "ed", Algorithm: string(jose.EdDSA)},
	}}
}

// serviceAccountRule maps a Kubernetes service account subject to its
// service name, and to any name below it.
func serviceAccountRule() tkauth.Rule {
	return tkauth.Rule{
		Claim:   "sub",
		Pattern: `system:serviceaccount:(?P<namespace>[^:]+):(?P<name>[^:]+)`,
		Identifiers: []string{
			"{name}.{namespace}.svc.cluster.local",
			"*.{name}.{namespace}.svc",
		},
	}
}

func testIssuer() tkauth.Issuer {
	return tkauth.Issuer{
		Name:     issuerName,
		Keys:     keySet(),
		Audience: audience,
		Rules:    []tkauth.Rule{serviceAccountRule()},
	}
}

// newValidator returns a validator for testIssuer as changed by edit, with
// a memory replay cache and the fake clock.
func newValidator(t *testing.T, edit func(*tkauth.Issuer)) (*tkauth.Validator, *memoryReplay) {
	t.Helper()
	is := testIssuer()
	if edit != nil {
		edit(&is)
	}
	replay := &memoryReplay{}
	v, err := tkauth.New(tkauth.Options{
		Issuers: []tkauth.Issuer{is},
		Replay:  replay,
		Now:     func() time.Time { return now },
		Leeway:  time.Minute,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v, replay
}

var jtiCounter atomic.Int64

// claims returns the claims of a good token, changed by edit.
func claims(edit func(map[string]any)) map[string]any {
	c := map[string]any{
		"iss": issuerName,
		"aud": []string{audience, "https://other.test"},
		"sub": subject,
		"iat": now.Add(-time.Minute).Unix(),
		"exp": now.Add(9 * time.Minute).Unix(),
		"jti": fmt.Sprintf("jti-%d", jtiCounter.Add(1)),
	}
	if edit != nil {
		edit(c)
	}
	return c
}

// sign signs claims with key under alg, with kid in the header when set.
func sign(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string, c map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("making a signer: %v", err)
	}
	s, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return s
}

// unsigned builds a token with alg "none" by hand; go-jose refuses to.
func unsigned(c map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(c) + "."
}

// payload wraps a token in a response payload.
func payload(tok string) []byte {
	b, _ := json.Marshal(map[string]string{"tkauth": tok})
	return b
}

func request(identifier string, body []byte) challenges.Request {
	return challenges.Request{
		Identifier:       challenges.Identifier{Type: challenges.IdentifierDNS, Value: identifier},
		Token:            chalToken,
		KeyAuthorization: challenges.KeyAuthorization(chalToken, thumbprint),
		Payload:          body,
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestValidate covers SECURITY-CATALOGUE E12 (token bound to the account,
// expiry, audience, none and HS256 refused) and A4 (a dot flood is refused
// before parsing).
func TestValidate(t *testing.T) {
	t.Parallel()
	es := func(t *testing.T, edit func(map[string]any)) string {
		return sign(t, esKey, jose.ES256, "es", claims(edit))
	}
	tests := []struct {
		name       string
		edit       func(*tkauth.Issuer)
		body       func(t *testing.T) []byte
		identifier string // default apiName
		wantKind   string
		wantDetail string
	}{
		{
			name: "ES256 service account token",
			body: func(t *testing.T) []byte { return payload(es(t, nil)) },
		},
		{
			name: "EdDSA token",
			body: func(t *testing.T) []byte {
				return payload(sign(t, edKey, jose.EdDSA, "ed", claims(nil)))
			},
		},
		{
			name: "token without kid tries every key",
			body: func(t *testing.T) []byte {
				return payload(sign(t, edKey, jose.EdDSA, "", claims(nil)))
			},
		},
		{
			name:       "wildcard template allows one label below",
			identifier: "v2.api.payments.svc",
			body:       func(t *testing.T) []byte { return payload(es(t, nil)) },
		},
		{
			name:       "identifier in upper case",
			identifier: "API.Payments.svc.cluster.local",
			body:       func(t *testing.T) []byte { return payload(es(t, nil)) },
		},
		{
			name: "cnf.jkt of this account",
			edit: func(is *tkauth.Issuer) { is.BindAccount = true },
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) {
					c["cnf"] = map[string]string{"jkt": thumbprint}
				}))
			},
		},
		{
			name:       "identifier of another service",
			identifier: "db.payments.svc.cluster.local",
			body:       func(t *testing.T) []byte { return payload(es(t, nil)) },
			wantKind:   challenges.KindUnauthorized,
			wantDetail: `authorizes api.payments.svc.cluster.local, *.api.payments.svc, ` +
				`not db.payments.svc.cluster.local`,
		},
		{
			name:       "wildcard template is not the name itself",
			identifier: "api.payments.svc",
			body:       func(t *testing.T) []byte { return payload(es(t, nil)) },
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "not api.payments.svc",
		},
		{
			name:       "wildcard template is one label only",
			identifier: "a.b.api.payments.svc",
			body:       func(t *testing.T) []byte { return payload(es(t, nil)) },
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "not a.b.api.payments.svc",
		},
		{
			name: "subject that matches no rule",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) { c["sub"] = "user:alice" }))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "matches no rule",
		},
		{
			name: "a dot in a group value yields nothing",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) {
					c["sub"] = "system:serviceaccount:payments:api.payments"
				}))
			},
			identifier: "api.payments.payments.svc.cluster.local",
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "matches no rule",
		},
		{
			name:       "empty payload",
			body:       func(*testing.T) []byte { return nil },
			wantKind:   challenges.KindMalformed,
			wantDetail: "payload is empty",
		},
		{
			name:       "payload not JSON",
			body:       func(*testing.T) []byte { return []byte("tkauth=x") },
			wantKind:   challenges.KindMalformed,
			wantDetail: "not a JSON object",
		},
		{
			name:       "payload without tkauth",
			body:       func(*testing.T) []byte { return []byte(`{}`) },
			wantKind:   challenges.KindMalformed,
			wantDetail: `no "tkauth" string`,
		},
		{
			name:       "tkauth not a string",
			body:       func(*testing.T) []byte { return []byte(`{"tkauth": 1}`) },
			wantKind:   challenges.KindMalformed,
			wantDetail: `no "tkauth" string`,
		},
		{
			name:       "tkauth in another case",
			body:       func(*testing.T) []byte { return []byte(`{"TKAuth": "a.b.c"}`) },
			wantKind:   challenges.KindMalformed,
			wantDetail: `no "tkauth" string`,
		},
		{
			name: "duplicate tkauth",
			body: func(t *testing.T) []byte {
				return []byte(`{"tkauth": "a.b.c", "tkauth": "` + es(t, nil) + `"}`)
			},
			wantKind:   challenges.KindMalformed,
			wantDetail: "without duplicate members",
		},
		{
			name: "extra member",
			body: func(t *testing.T) []byte {
				return []byte(`{"tkauth": "` + es(t, nil) + `", "keyAuthorization": "x"}`)
			},
			wantKind:   challenges.KindMalformed,
			wantDetail: `members other than "tkauth"`,
		},
		{
			name:       "not a compact JWS",
			body:       func(*testing.T) []byte { return payload("not-a-token") },
			wantKind:   challenges.KindMalformed,
			wantDetail: "token is not a JWS in compact serialization",
		},
		{
			name:       "dot flood",
			body:       func(*testing.T) []byte { return payload("e30." + strings.Repeat(".", 10000)) },
			wantKind:   challenges.KindMalformed,
			wantDetail: "three parts",
		},
		{
			name:       "header not base64url",
			body:       func(*testing.T) []byte { return payload("e30=.e30.sig") },
			wantKind:   challenges.KindMalformed,
			wantDetail: "header is not base64url-encoded JSON",
		},
		{
			name:       "alg none",
			body:       func(*testing.T) []byte { return payload(unsigned(claims(nil))) },
			wantKind:   challenges.KindUnauthorized,
			wantDetail: `token algorithm "none" is not accepted`,
		},
		{
			name: "HS256 keyed with the public key",
			body: func(t *testing.T) []byte {
				pub, err := json.Marshal(jose.JSONWebKey{Key: esKey.Public()})
				if err != nil {
					t.Fatal(err)
				}
				return payload(sign(t, pub, jose.HS256, "es", claims(nil)))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: `token algorithm "HS256" is not accepted`,
		},
		{
			name: "algorithm of another issuer's list",
			edit: func(is *tkauth.Issuer) { is.Algorithms = []jose.SignatureAlgorithm{jose.EdDSA} },
			body: func(t *testing.T) []byte { return payload(es(t, nil)) },
			// ES256 is accepted by no issuer, so the parser already refuses it.
			wantKind:   challenges.KindUnauthorized,
			wantDetail: `token algorithm "ES256" is not accepted`,
		},
		{
			name: "signed by an unknown key under a known kid",
			body: func(t *testing.T) []byte {
				return payload(sign(t, strayKey, jose.ES256, "es", claims(nil)))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "token signature does not verify with the keys of issuer",
		},
		{
			name: "key whose alg does not fit",
			body: func(t *testing.T) []byte {
				return payload(sign(t, esKey, jose.ES256, "ed", claims(nil)))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "token signature does not verify",
		},
		{
			name: "unknown kid",
			body: func(t *testing.T) []byte {
				return payload(sign(t, esKey, jose.ES256, "gone", claims(nil)))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: `token key ID "gone" is not a key of issuer`,
		},
		{
			name: "tampered claims",
			body: func(t *testing.T) []byte {
				parts := strings.Split(es(t, nil), ".")
				b, _ := json.Marshal(claims(func(c map[string]any) {
					c["sub"] = "system:serviceaccount:payments:db"
				}))
				parts[1] = base64.RawURLEncoding.EncodeToString(b)
				return payload(strings.Join(parts, "."))
			},
			identifier: "db.payments.svc.cluster.local",
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "token signature does not verify",
		},
		{
			name: "unknown issuer",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) { c["iss"] = "https://evil.test" }))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: `token issuer "https://evil.test" is not trusted`,
		},
		{
			name: "claims of the wrong type",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) { c["exp"] = "tomorrow" }))
			},
			wantKind:   challenges.KindMalformed,
			wantDetail: "claims are not a JSON object of well-typed claims",
		},
		{
			name: "wrong audience",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) { c["aud"] = "https://other.test" }))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: `token audience does not include "` + audience + `"`,
		},
		{
			name: "no audience",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) { delete(c, "aud") }))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "token audience does not include",
		},
		{
			name: "expired",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) {
					c["iat"] = now.Add(-20 * time.Minute).Unix()
					c["exp"] = now.Add(-2 * time.Minute).Unix()
				}))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "token expired at 2026-03-04T05:04:07Z",
		},
		{
			name: "expired within the leeway",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) {
					c["iat"] = now.Add(-20 * time.Minute).Unix()
					c["exp"] = now.Add(-30 * time.Second).Unix()
				}))
			},
		},
		{
			name: "not yet valid",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) { c["nbf"] = now.Add(5 * time.Minute).Unix() }))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "token is not valid before 2026-03-04T05:11:07Z",
		},
		{
			name: "issued in the future",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) { c["iat"] = now.Add(5 * time.Minute).Unix() }))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "token is issued in the future",
		},
		{
			name: "lifetime too long",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) { c["exp"] = now.Add(2 * time.Hour).Unix() }))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "token lifetime (exp - iat) is 2h1m0s, allowed at most 1h0m0s",
		},
		{
			name: "lifetime within a longer maximum",
			edit: func(is *tkauth.Issuer) { is.MaxLifetime = 24 * time.Hour },
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) { c["exp"] = now.Add(2 * time.Hour).Unix() }))
			},
		},
		{
			name: "no exp",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) { delete(c, "exp") }))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "has no exp claim",
		},
		{
			name: "no iat",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) { delete(c, "iat") }))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "has no iat claim",
		},
		{
			name: "no jti",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) { delete(c, "jti") }))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "has no jti claim",
		},
		{
			name:       "no cnf when binding is required",
			edit:       func(is *tkauth.Issuer) { is.BindAccount = true },
			body:       func(t *testing.T) []byte { return payload(es(t, nil)) },
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "has no cnf.jkt claim naming the account key",
		},
		{
			name: "cnf.jkt of another account",
			edit: func(is *tkauth.Issuer) { is.BindAccount = true },
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) {
					c["cnf"] = map[string]string{"jkt": "other-account-thumbprint"}
				}))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "token is bound to another account key (cnf.jkt)",
		},
		{
			name: "cnf.jkt honoured without required binding",
			body: func(t *testing.T) []byte {
				return payload(es(t, func(c map[string]any) {
					c["cnf"] = map[string]string{"jkt": "other-account-thumbprint"}
				}))
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "token is bound to another account key (cnf.jkt)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, _ := newValidator(t, tt.edit)
			body := tt.body(t)
			req := request(apiName, body)
			if tt.identifier != "" {
				req.Identifier.Value = tt.identifier
			}

			rec, err := v.Validate(testCtx(t), req)
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			if rec.Type != tkauth.Type || !rec.Started.Equal(now) {
				t.Errorf("got record %+v, want type %s started at %v", rec, tkauth.Type, now)
			}
			wantNoToken(t, err, body)
		})
	}
}

// wantNoToken fails the test if an error detail shows any part of the token
// in body.
func wantNoToken(t *testing.T, err error, body []byte) {
	t.Helper()
	var ce *challenges.Error
	if !errors.As(err, &ce) {
		return
	}
	var p struct {
		TKAuth string `json:"tkauth"`
	}
	if json.Unmarshal(body, &p) != nil {
		return
	}
	for _, part := range strings.Split(p.TKAuth, ".") {
		if len(part) >= 16 && strings.Contains(ce.Detail, part) {
			t.Errorf("got detail %q, which shows part of the token", ce.Detail)
		}
	}
}

// TestValidateReplay checks single use: the same token refused the second
// time, also for another identifier it allows (SECURITY-CATALOGUE E12).
func TestValidateReplay(t *testing.T) {
	t.Parallel()
	v, replay := newValidator(t, nil)
	tok := sign(t, esKey, jose.ES256, "es", claims(func(c map[string]any) { c["jti"] = "once" }))

	_, err := v.Validate(testCtx(t), request(apiName, payload(tok)))
	challtest.WantError(t, err, "", "")
	_, err = v.Validate(testCtx(t), request("x.api.payments.svc", payload(tok)))
	challtest.WantError(t, err, challenges.KindUnauthorized, "was already used (same jti)")

	want := now.Add(9*time.Minute + time.Minute)
	if got := replay.seen[issuerName+"\x00once"]; !got.Equal(want) {
		t.Errorf("got replay record until %v, want exp plus leeway %v", got, want)
	}
}

// TestValidateRefusedTokenNotSpent checks that a token refused before the
// replay check can still be used for an identifier it allows.
func TestValidateRefusedTokenNotSpent(t *testing.T) {
	t.Parallel()
	v, _ := newValidator(t, nil)
	tok := sign(t, esKey, jose.ES256, "es", claims(nil))

	_, err := v.Validate(testCtx(t), request("db.payments.svc.cluster.local", payload(tok)))
	challtest.WantError(t, err, challenges.KindUnauthorized, "not db.payments")
	_, err = v.Validate(testCtx(t), request(apiName, payload(tok)))
	challtest.WantError(t, err, "", "")
}

func TestValidateReplayCacheFault(t *testing.T) {
	t.Parallel()
	v, replay := newValidator(t, nil)
	replay.err = errors.New("database is locked")
	tok := sign(t, esKey, jose.ES256, "es", claims(nil))

	_, err := v.Validate(testCtx(t), request(apiName, payload(tok)))
	var ce *challenges.Error
	if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "database is locked") {
		t.Fatalf("got error %v, want the cache's internal error", err)
	}
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	v, _ := newValidator(t, nil)
	tok := sign(t, esKey, jose.ES256, "es", claims(nil))
	tests := []struct {
		name       string
		edit       func(*challenges.Request)
		wantDetail string
	}{
		{
			name: "IP identifier",
			edit: func(r *challenges.Request) {
				r.Identifier = challenges.Identifier{Type: "ip", Value: "10.0.0.1"}
			},
			wantDetail: "tkauth-01 cannot validate ip identifiers",
		},
		{
			name:       "key authorization of another token",
			edit:       func(r *challenges.Request) { r.KeyAuthorization = "other." + thumbprint },
			wantDetail: "key authorization does not belong to the challenge token",
		},
		{
			name:       "wildcard prefix",
			edit:       func(r *challenges.Request) { r.Identifier.Value = "*.api.payments.svc" },
			wantDetail: "wildcard prefix",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := request(apiName, payload(tok))
			tt.edit(&req)
			_, err := v.Validate(testCtx(t), req)
			challtest.WantError(t, err, challenges.KindMalformed, tt.wantDetail)
		})
	}
}

// TestValidateNestedClaims maps a projected Kubernetes token, whose service
// account sits in nested claims, and a legacy one, whose claim names hold
// dots and slashes.
func TestValidateNestedClaims(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rules []tkauth.Rule
		edit  func(map[string]any)
	}{
		{
			name: "projected token",
			rules: []tkauth.Rule{{
				Claim:       "kubernetes.io.serviceaccount.name",
				Pattern:     `(?P<name>.+)`,
				Identifiers: []string{"{name}.payments.svc.cluster.local"},
			}},
			edit: func(c map[string]any) {
				c["kubernetes.io"] = map[string]any{
					"namespace":      "payments",
					"serviceaccount": map[string]any{"name": "api", "uid": "1234"},
				}
			},
		},
		{
			name: "legacy token",
			rules: []tkauth.Rule{{
				Claim:       "kubernetes.io/serviceaccount/service-account.name",
				Pattern:     `(?P<name>.+)`,
				Identifiers: []string{"{name}.payments.svc.cluster.local"},
			}},
			edit: func(c map[string]any) {
				c["kubernetes.io/serviceaccount/service-account.name"] = "api"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, _ := newValidator(t, func(is *tkauth.Issuer) { is.Rules = tt.rules })
			tok := sign(t, esKey, jose.ES256, "es", claims(func(c map[string]any) {
				c["sub"] = "unused"
				tt.edit(c)
			}))
			_, err := v.Validate(testCtx(t), request(apiName, payload(tok)))
			challtest.WantError(t, err, "", "")
		})
	}
}

func TestMint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  crypto.Signer
		kid  string
	}{
		{"ES256", esKey, "es"},
		{"EdDSA", edKey, "ed"},
		{"no kid", edKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, _ := newValidator(t, func(is *tkauth.Issuer) { is.BindAccount = true })
			extra := map[string]any{"cnf": map[string]string{"jkt": thumbprint}}
			tok, err := tkauth.Mint(tt.key, tt.kid, issuerName, audience, subject,
				extra, 10*time.Minute, now)
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			_, err = v.Validate(testCtx(t), request(apiName, payload(tok)))
			challtest.WantError(t, err, "", "")
		})
	}
}

func TestMintRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		issuer   string
		claims   map[string]any
		ttl      time.Duration
		wantText string
	}{
		{"no issuer", "", nil, time.Minute, "needs an issuer and an audience"},
		{"no lifetime", issuerName, nil, 0, "with lifetime 0s"},
		{"registered claim", issuerName, map[string]any{"exp": 1}, time.Minute, `"exp" is set by Mint`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tkauth.Mint(esKey, "es", tt.issuer, audience, subject, tt.claims, tt.ttl, now)
			if err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantText)
			}
		})
	}
}

// TestMintUniqueJTI checks that two tokens minted at the same instant can
// both be used.
func TestMintUniqueJTI(t *testing.T) {
	t.Parallel()
	v, _ := newValidator(t, nil)
	for range 2 {
		tok, err := tkauth.Mint(esKey, "es", issuerName, audience, subject, nil, time.Minute, now)
		if err != nil {
			t.Fatalf("Mint: %v", err)
		}
		_, err = v.Validate(testCtx(t), request(apiName, payload(tok)))
		challtest.WantError(t, err, "", "")
	}
}
