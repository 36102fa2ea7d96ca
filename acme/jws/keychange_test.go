package jws

import (
	"crypto"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

const keyChangeURL = "https://ca.test/acme/key-change"

// keyChange describes an inner JWS; the zero value of each field means the
// valid choice: signed by k.ec384 (the new key) with its own jwk.
type keyChange struct {
	signer   func(k *testKeys) any            // key that signs; default the new key
	jwk      func(k *testKeys) any            // key put in the jwk header
	header   map[string]any                   // extra header members; nil deletes
	payload  func(k *testKeys) map[string]any // default account + oldKey
	alg      string
	rawInner []byte
}

// build returns the inner JWS described by c.
func (c keyChange) build(t testing.TB, k *testKeys) []byte {
	t.Helper()
	signer := any(k.ec384)
	if c.signer != nil {
		signer = c.signer(k)
	}
	jwk := any(k.ec384)
	if c.jwk != nil {
		jwk = c.jwk(k)
	}
	alg := "ES384"
	if c.alg != "" {
		alg = c.alg
	}
	hdr := map[string]any{"jwk": mustJSON(jose.JSONWebKey{Key: publicOf(jwk)}), "url": keyChangeURL}
	for name, v := range c.header {
		if v == nil {
			delete(hdr, name)
			continue
		}
		hdr[name] = v
	}
	payload := map[string]any{"account": testKID, "oldKey": jwkJSON(t, k.ec256)}
	if c.payload != nil {
		payload = c.payload(k)
	}
	return signHeader(t, signer, alg, hdr, mustJSON(payload))
}

// publicOf returns the public half of a test private key.
func publicOf(priv any) any {
	return priv.(interface{ Public() crypto.PublicKey }).Public()
}

func TestVerifyKeyChange(t *testing.T) {
	t.Parallel()
	k := keys(t)
	oldKey := publicJWK(t, k.ec256)

	t.Run("success", func(t *testing.T) {
		t.Parallel()
		got, err := VerifyKeyChange(keyChange{}.build(t, k), keyChangeURL, testKID, oldKey)
		if err != nil {
			t.Fatalf("VerifyKeyChange: %v", err)
		}
		if same, _ := sameKey(got, publicJWK(t, k.ec384)); !same {
			t.Errorf("got a key other than the new key")
		}
	})

	t.Run("success signed by go-jose", func(t *testing.T) {
		t.Parallel()
		opts := (&jose.SignerOptions{EmbedJWK: true}).WithHeader("url", keyChangeURL)
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k.ed}, opts)
		if err != nil {
			t.Fatalf("NewSigner: %v", err)
		}
		obj, err := signer.Sign(mustJSON(map[string]any{"account": testKID, "oldKey": oldKey}))
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		inner := []byte(obj.FullSerialize())
		if _, err := VerifyKeyChange(inner, keyChangeURL, testKID, oldKey); err != nil {
			t.Fatalf("VerifyKeyChange: %v", err)
		}
	})

	tests := []struct {
		name   string
		change keyChange
		want   problem.Type
	}{
		{"C1 jwk of the victim signed by another key", keyChange{
			jwk:    func(k *testKeys) any { return k.ec384 },
			signer: func(k *testKeys) any { return k.other384 },
		}, problem.Malformed},
		{"C1 unsigned", keyChange{signer: func(*testKeys) any { return nil }}, problem.Malformed},
		{"C2 url differs from the outer url", keyChange{
			header: map[string]any{"url": "https://ca.test/acme/new-order"},
		}, problem.Malformed},
		{"C2 inner nonce", keyChange{header: map[string]any{"nonce": testNonce}}, problem.Malformed},
		{"C2 oldKey is not the account key", keyChange{
			payload: func(k *testKeys) map[string]any {
				return map[string]any{"account": testKID, "oldKey": jwkJSON(t, k.other256)}
			},
		}, problem.Malformed},
		{"C2 account is not the outer kid", keyChange{
			payload: func(k *testKeys) map[string]any {
				return map[string]any{"account": "https://ca.test/acme/acct/2",
					"oldKey": jwkJSON(t, k.ec256)}
			},
		}, problem.Malformed},
		{"C2 oldKey missing", keyChange{
			payload: func(*testKeys) map[string]any { return map[string]any{"account": testKID} },
		}, problem.Malformed},
		{"A12 case-variant account", keyChange{
			payload: func(k *testKeys) map[string]any {
				return map[string]any{"Account": testKID, "oldKey": jwkJSON(t, k.ec256)}
			},
		}, problem.Malformed},
		{"inner uses kid", keyChange{header: map[string]any{"jwk": nil, "kid": testKID}},
			problem.Malformed},
		{"new key equals the old key", keyChange{
			jwk: func(k *testKeys) any { return k.ec256 }, signer: func(k *testKeys) any { return k.ec256 },
			alg: "ES256",
		}, problem.Malformed},
		{"A8 new key too small", keyChange{header: map[string]any{
			"jwk": json.RawMessage(rsaJWK(fakeRSA(t, 1024, 65537).N, 65537)),
		}, alg: "RS256"}, problem.BadPublicKey},
		{"A1 inner alg HS256", keyChange{alg: "HS256"}, problem.BadSignatureAlgorithm},
		{"inner compact", keyChange{rawInner: []byte("e30.e30.AAAA")}, problem.Malformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inner := tc.change.rawInner
			if inner == nil {
				inner = tc.change.build(t, k)
			}
			got, err := VerifyKeyChange(inner, keyChangeURL, testKID, oldKey)
			t.Logf("%v", err)
			if got != nil {
				t.Errorf("got a new key, want none")
			}
			wantProblem(t, err, tc.want)
		})
	}
}
