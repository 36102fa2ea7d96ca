package jws

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

func TestVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	k := keys(t)
	payload := []byte(`{"identifiers":[{"type":"dns","value":"x.corp.internal"}]}`)
	tests := []struct {
		name string
		priv crypto.Signer
		alg  jose.SignatureAlgorithm
	}{
		{"ES256", k.ec256, jose.ES256},
		{"ES384", k.ec384, jose.ES384},
		{"ES512", k.ec521, jose.ES512},
		{"RS256", k.rsa2048, jose.RS256},
		{"PS256", k.rsa2048, jose.PS256},
		{"EdDSA", k.ed, jose.EdDSA},
	}
	for _, tc := range tests {
		t.Run(tc.name+" jwk", func(t *testing.T) {
			t.Parallel()
			req, err := Parse(joseSign(t, tc.priv, tc.alg, "", payload))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if req.Protected.JWK == nil || req.Protected.KeyID != "" {
				t.Fatalf("got jwk %v and kid %q, want a jwk only", req.Protected.JWK, req.Protected.KeyID)
			}
			got, err := req.Verify(req.Protected.JWK)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !bytes.Equal(got, payload) {
				t.Errorf("got payload %q, want %q", got, payload)
			}
		})
		t.Run(tc.name+" kid", func(t *testing.T) {
			t.Parallel()
			req, err := Parse(joseSign(t, tc.priv, tc.alg, testKID, []byte{}))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := req.Verify(publicJWK(t, tc.priv))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if len(got) != 0 {
				t.Errorf("got payload %q, want the empty POST-as-GET payload", got)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	k := keys(t)
	tests := []struct {
		name string
		body func(t testing.TB, k *testKeys) []byte
		key  func(k *testKeys) *jose.JSONWebKey
		want problem.Type
	}{
		{"A1 RS256 over an EC jwk",
			withHeader(map[string]any{"alg": "RS256"}), nil, problem.Malformed},
		{"A1 EdDSA over an RSA jwk", func(t testing.TB, k *testKeys) []byte {
			hdr := baseHeader(t, k, map[string]any{"jwk": jwkJSON(t, k.rsa2048)})
			return signHeader(t, k.ed, "EdDSA", hdr, []byte("{}"))
		}, nil, problem.Malformed},
		{"A2 ES256 over a P-384 jwk", func(t testing.TB, k *testKeys) []byte {
			hdr := baseHeader(t, k, map[string]any{"jwk": jwkJSON(t, k.ec384)})
			return signHeader(t, k.ec384, "ES256", hdr, []byte("{}"))
		}, nil, problem.Malformed},
		{"A2 ES256 over an RSA account key",
			kidBody(func(k *testKeys) any { return k.ec256 }, "ES256"),
			func(k *testKeys) *jose.JSONWebKey { return publicJWK(t, k.rsa2048) },
			problem.Malformed},
		{"A2 jwk alg disagrees with header", func(t testing.TB, k *testKeys) []byte {
			jwk := withMember(jwkJSON(t, k.ec256), "alg", "ES384")
			hdr := baseHeader(t, k, map[string]any{"jwk": jwk})
			return signHeader(t, k.ec256, "ES256", hdr, []byte("{}"))
		}, nil, problem.Malformed},
		{"A1 HMAC key confusion", kidBody(func(k *testKeys) any { return k.ec256 }, "ES256"),
			func(*testKeys) *jose.JSONWebKey { return &jose.JSONWebKey{Key: []byte("secret")} },
			problem.Malformed},
		{"private account key",
			kidBody(func(k *testKeys) any { return k.ec256 }, "ES256"),
			func(k *testKeys) *jose.JSONWebKey { return &jose.JSONWebKey{Key: k.ec256} },
			problem.Malformed},
		{"signed by another key", func(t testing.TB, k *testKeys) []byte {
			return signHeader(t, k.other256, "ES256", baseHeader(t, k, nil), []byte("{}"))
		}, nil, problem.Malformed},
		{"kid verified with another account key",
			kidBody(func(k *testKeys) any { return k.ec256 }, "ES256"),
			func(k *testKeys) *jose.JSONWebKey { return publicJWK(t, k.other256) },
			problem.Malformed},
		{"tampered payload", func(t testing.TB, k *testKeys) []byte {
			var m map[string]string
			_ = json.Unmarshal(validBody(t, k), &m)
			return flat(m["protected"], b64([]byte(`{"x":1}`)), m["signature"])
		}, nil, problem.Malformed},
		{"truncated signature", func(t testing.TB, k *testKeys) []byte {
			var m map[string]string
			_ = json.Unmarshal(validBody(t, k), &m)
			return flat(m["protected"], m["payload"], m["signature"][:20])
		}, nil, problem.Malformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := Parse(tc.body(t, k))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			key := req.Protected.JWK
			if tc.key != nil {
				key = tc.key(k)
			}
			_, err = req.Verify(key)
			t.Logf("%v", err)
			wantProblem(t, err, tc.want)
		})
	}
}

// kidBody signs a kid-style request with the key chosen by priv.
func kidBody(priv func(k *testKeys) any, alg string) func(t testing.TB, k *testKeys) []byte {
	return func(t testing.TB, k *testKeys) []byte {
		hdr := map[string]any{"kid": testKID, "nonce": testNonce, "url": testURL}
		return signHeader(t, priv(k), alg, hdr, []byte("{}"))
	}
}

func TestVerifyNeedsKey(t *testing.T) {
	t.Parallel()
	req, err := Parse(validBody(t, keys(t)))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	_, err = req.Verify(nil)
	var pe *problem.Error
	if err == nil || errors.As(err, &pe) {
		t.Fatalf("got %v, want a plain internal error for a missing key", err)
	}
	if _, err := (&Request{}).Verify(req.Protected.JWK); err == nil {
		t.Fatalf("got no error for a Request not made by Parse")
	}
}
