package jws

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// baseHeader is a valid jwk-style protected header for k.ec256 plus extra;
// a nil value in extra deletes the member.
func baseHeader(t testing.TB, k *testKeys, extra map[string]any) map[string]any {
	t.Helper()
	hdr := map[string]any{
		"jwk":   jwkJSON(t, k.ec256),
		"nonce": testNonce,
		"url":   testURL,
	}
	for name, v := range extra {
		if v == nil {
			delete(hdr, name)
			continue
		}
		hdr[name] = v
	}
	return hdr
}

// withHeader signs a valid body whose protected header is changed by extra.
func withHeader(extra map[string]any) func(t testing.TB, k *testKeys) []byte {
	return func(t testing.TB, k *testKeys) []byte {
		alg := "ES256"
		if a, ok := extra["alg"].(string); ok {
			alg = a
		}
		return signHeader(t, k.ec256, alg, baseHeader(t, k, extra), []byte("{}"))
	}
}

// withRawHeader signs a body whose protected header is the exact text hdr,
// where %s stands for the ES256 jwk.
func withRawHeader(hdr string) func(t testing.TB, k *testKeys) []byte {
	return func(t testing.TB, k *testKeys) []byte {
		raw := hdr
		if strings.Contains(hdr, "%s") {
			raw = fmt.Sprintf(hdr, jwkJSON(t, k.ec256))
		}
		return signRaw(t, k.ec256, "ES256", raw, []byte("{}"))
	}
}

// literal returns a fixed body.
func literal(body string) func(t testing.TB, k *testKeys) []byte {
	return func(testing.TB, *testKeys) []byte { return []byte(body) }
}

// validBody is an ES256 request with an embedded jwk.
func validBody(t testing.TB, k *testKeys) []byte {
	return withHeader(nil)(t, k)
}

// editOuter decodes a valid body, lets edit change its outer object, and
// re-encodes it.
func editOuter(edit func(m map[string]any)) func(t testing.TB, k *testKeys) []byte {
	return func(t testing.TB, k *testKeys) []byte {
		var m map[string]any
		if err := json.Unmarshal(validBody(t, k), &m); err != nil {
			t.Fatalf("decoding body: %v", err)
		}
		edit(m)
		out, _ := json.Marshal(m)
		return out
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	k := keys(t)
	huge := fakeRSA(t, 16384, 65537)
	tests := []struct {
		name string
		body func(t testing.TB, k *testKeys) []byte
		want problem.Type
	}{
		{"A1 alg none", withHeader(map[string]any{"alg": "none"}), problem.BadSignatureAlgorithm},
		{"A1 alg HS256", withHeader(map[string]any{"alg": "HS256"}), problem.BadSignatureAlgorithm},
		{"A1 alg unknown", withHeader(map[string]any{"alg": "ES257"}), problem.BadSignatureAlgorithm},
		{"A1 alg missing", withRawHeader(`{"jwk":%s,"nonce":"n","url":"u"}`), problem.Malformed},
		{"A1 alg not a string", withRawHeader(`{"alg":1,"jwk":%s,"nonce":"n","url":"u"}`),
			problem.Malformed},
		{"A7 jwk and kid", withHeader(map[string]any{"kid": testKID}), problem.Malformed},
		{"A7 neither jwk nor kid", withHeader(map[string]any{"jwk": nil}), problem.Malformed},
		{"A4 compact serialization", func(t testing.TB, k *testKeys) []byte {
			var m map[string]string
			_ = json.Unmarshal(validBody(t, k), &m)
			return []byte(m["protected"] + "." + m["payload"] + "." + m["signature"])
		}, problem.Malformed},
		{"A4 dot flood", literal("e30." + strings.Repeat(".", 40000)), problem.Malformed},
		{"A3 general serialization", editOuter(func(m map[string]any) {
			m["signatures"] = []any{map[string]any{
				"protected": m["protected"], "signature": m["signature"],
			}}
			delete(m, "protected")
			delete(m, "signature")
		}), problem.Malformed},
		{"A3 flattened plus signatures", editOuter(func(m map[string]any) {
			m["signatures"] = []any{map[string]any{"signature": "AAAA"}}
		}), problem.Malformed},
		{"A3 unprotected header", editOuter(func(m map[string]any) {
			m["header"] = map[string]any{"kid": "https://ca.test/acme/acct/victim"}
		}), problem.Malformed},
		{"A3 empty signature", editOuter(func(m map[string]any) { m["signature"] = "" }),
			problem.Malformed},
		{"A3 missing signature", editOuter(func(m map[string]any) { delete(m, "signature") }),
			problem.Malformed},
		{"missing payload", editOuter(func(m map[string]any) { delete(m, "payload") }),
			problem.Malformed},
		{"empty protected", editOuter(func(m map[string]any) { m["protected"] = "" }),
			problem.Malformed},
		{"protected is an object", editOuter(func(m map[string]any) {
			m["protected"] = map[string]any{"alg": "ES256"}
		}), problem.Malformed},
		{"unknown outer member", editOuter(func(m map[string]any) { m["extra"] = "x" }),
			problem.Malformed},
		{"case-variant outer member", editOuter(func(m map[string]any) {
			m["Protected"] = m["protected"]
		}), problem.Malformed},
		{"padded payload", editOuter(func(m map[string]any) { m["payload"] = "e30=" }),
			problem.Malformed},
		{"payload with line break", editOuter(func(m map[string]any) { m["payload"] = "e3\n0" }),
			problem.Malformed},
		{"A12 duplicate outer payload", func(t testing.TB, k *testKeys) []byte {
			body := validBody(t, k)
			return append(body[:len(body)-1], []byte(`,"payload":"e30"}`)...)
		}, problem.Malformed},
		{"trailing data", func(t testing.TB, k *testKeys) []byte {
			return append(validBody(t, k), []byte(" {}")...)
		}, problem.Malformed},
		{"A6 zip", withHeader(map[string]any{"zip": "DEF"}), problem.Malformed},
		{"A6 crit unknown", withHeader(map[string]any{"crit": []string{"foo"}, "foo": 1}),
			problem.Malformed},
		{"A6 b64 false", withHeader(map[string]any{"b64": false, "crit": []string{"b64"}}),
			problem.Malformed},
		{"A6 b64 without crit", withHeader(map[string]any{"b64": false}), problem.Malformed},
		{"x5c header", withHeader(map[string]any{"x5c": []string{"MAA"}}), problem.Malformed},
		{"jku header", withHeader(map[string]any{"jku": "https://evil.test/k"}),
			problem.Malformed},
		{"A12 duplicate url", withRawHeader(
			`{"alg":"ES256","jwk":%s,"nonce":"n","url":"https://a.test/","url":"https://b.test/"}`),
			problem.Malformed},
		{"A12 case-variant url", withRawHeader(
			`{"alg":"ES256","jwk":%s,"nonce":"n","URL":"https://b.test/"}`), problem.Malformed},
		{"A12 duplicate inside jwk", withRawHeader(
			`{"alg":"ES256","jwk":{"kty":"EC","kty":"RSA"},"nonce":"n","url":"u"}`),
			problem.Malformed},
		{"header deeply nested", withRawHeader(`{"alg":"ES256","jwk":%s,"nonce":"n","url":"u",` +
			`"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`), problem.Malformed},
		{"header not an object", withRawHeader(`["ES256"]`), problem.Malformed},
		{"A9 missing url", withHeader(map[string]any{"url": nil}), problem.Malformed},
		{"A9 url not a string", withHeader(map[string]any{"url": 7}), problem.Malformed},
		{"B4 missing nonce", withHeader(map[string]any{"nonce": nil}), problem.BadNonce},
		{"B4 empty nonce", withHeader(map[string]any{"nonce": ""}), problem.BadNonce},
		{"B4 nonce not a string", withHeader(map[string]any{"nonce": 5}), problem.BadNonce},
		{"A8 private key in jwk", withHeader(map[string]any{
			"jwk": mustJSON(jose.JSONWebKey{Key: k.ec256}),
		}), problem.BadPublicKey},
		{"A8 symmetric jwk", withHeader(map[string]any{
			"jwk": map[string]string{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
		}), problem.BadPublicKey},
		{"A8 RSA 1024 bits", withHeader(map[string]any{
			"alg": "RS256", "jwk": json.RawMessage(rsaJWK(fakeRSA(t, 1024, 65537).N, 65537)),
		}), problem.BadPublicKey},
		{"A8 RSA 16384 bits", withHeader(map[string]any{
			"alg": "RS256", "jwk": json.RawMessage(rsaJWK(huge.N, 65537)),
		}), problem.BadPublicKey},
		{"A8 RSA e=3", withHeader(map[string]any{
			"alg": "RS256", "jwk": json.RawMessage(rsaJWK(k.rsa2048.N, 3)),
		}), problem.BadPublicKey},
		{"A8 EC point off the curve", withHeader(map[string]any{
			"jwk": ecJWK("P-256", 32, big.NewInt(1), big.NewInt(1)),
		}), problem.BadPublicKey},
		{"A8 EC point at infinity", withHeader(map[string]any{
			"jwk": ecJWK("P-256", 32, big.NewInt(0), big.NewInt(0)),
		}), problem.BadPublicKey},
		{"A8 jwk with certificate", withHeader(map[string]any{
			"jwk": withMember(jwkJSON(t, k.ec256), "x5c", []string{"MAA"}),
		}), problem.BadPublicKey},
		{"protected not base64url", editOuter(func(m map[string]any) { m["protected"] = "e30*" }),
			problem.Malformed},
		{"empty body", literal(""), problem.Malformed},
		{"whitespace body", literal(" \n\t"), problem.Malformed},
		{"null body", literal("null"), problem.Malformed},
		{"array body", literal(`[{}]`), problem.Malformed},
		{"truncated JSON", literal(`{"protected":"e30"`), problem.Malformed},
		{"invalid UTF-8", literal("{\"protected\":\"\xff\"}"), problem.Malformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := tc.body(t, k)
			_, err := Parse(body)
			t.Logf("%v", err)
			wantProblem(t, err, tc.want)
		})
	}
}

func TestParseExtractsHeader(t *testing.T) {
	t.Parallel()
	k := keys(t)
	req, err := Parse(joseSign(t, k.ec256, jose.ES256, testKID, []byte("{}")))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Header{Algorithm: "ES256", Nonce: testNonce, URL: testURL, KeyID: testKID}
	if req.Protected != want {
		t.Errorf("got header %+v, want %+v", req.Protected, want)
	}
}

// mustJSON marshals v or panics; for test tables only.
func mustJSON(v any) json.RawMessage {
	out, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return out
}

// ecJWK returns an EC JWK with the given coordinates padded to size bytes.
func ecJWK(crv string, size int, x, y *big.Int) json.RawMessage {
	return mustJSON(map[string]string{
		"kty": "EC", "crv": crv,
		"x": b64(x.FillBytes(make([]byte, size))),
		"y": b64(y.FillBytes(make([]byte, size))),
	})
}

// withMember adds member name to the JSON object obj.
func withMember(obj json.RawMessage, name string, v any) json.RawMessage {
	var m map[string]any
	_ = json.Unmarshal(obj, &m)
	m[name] = v
	return mustJSON(m)
}
