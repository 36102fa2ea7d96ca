package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/problem"
)

const accountPayload = `{"termsOfServiceAgreed":true}`

// wantAlgorithms checks the algorithms member of a badSignatureAlgorithm
// problem (RFC 8555, Section 6.2).
func wantAlgorithms(want ...string) func(*testing.T, *env, *acmetest.Response, *problem.Document) {
	return func(t *testing.T, _ *env, _ *acmetest.Response, doc *problem.Document) {
		got := slices.Clone(doc.Algorithms)
		slices.Sort(got)
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("got algorithms %v, want %v", doc.Algorithms, want)
		}
	}
}

// accountAlgorithms are the JWS algorithms acmegate accepts for accounts.
var accountAlgorithms = []string{"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"}

// b64 encodes s as unpadded base64url.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jwkWith returns the client's public JWK with extra members.
func jwkWith(t *testing.T, cl *acmetest.Client, extra map[string]any) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(cl.JWKJSON(t), &m); err != nil {
		t.Fatalf("decoding the jwk: %v", err)
	}
	for k, v := range extra {
		m[k] = v
	}
	return mustJSON(t, m)
}

// TestJWSRefusals covers catalogue rows A1 to A7 and A12 on the HTTP
// path: each request is refused with the pinned type and nothing is
// created. A mismatch between a supported alg and the key (A1 "RS256 over
// an EC key", A2) is pinned as malformed; badSignatureAlgorithm is for
// algorithms acmegate does not accept at all.
func TestJWSRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	rsaClient := e.gw.NewClient(t, jose.RS256)
	rsa := func(*testing.T, *env) *acmetest.Client { return rsaClient }
	p384 := func(t *testing.T, e *env) *acmetest.Client { return e.gw.NewClient(t, jose.ES384) }
	newOrder, newAccount := at("new-order"), at("new-account")

	cases := []refusal{
		// A1: algorithms that are never accepted.
		{name: "A1 alg none", send: withHeader(newcomer, newAccount, accountPayload,
			map[string]any{"alg": "none"}), status: 400, typ: "badSignatureAlgorithm",
			check: wantAlgorithms(accountAlgorithms...)},
		{name: "A1 alg HS256 keyed with the public jwk",
			send: func(t *testing.T, e *env) *acmetest.Response {
				cl := newcomer(t, e)
				url := e.gw.URLFor("new-account")
				hdr := cl.Header(t, url)
				hdr["alg"] = "HS256"
				body := acmetest.SignRaw(t, []byte(cl.JWKJSON(t)), "HS256", mustJSON(t, hdr),
					[]byte(accountPayload))
				return cl.Send(t, url, body)
			}, status: 400, typ: "badSignatureAlgorithm", check: wantAlgorithms(accountAlgorithms...)},
		{name: "A1 alg HS512 on new-order", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"alg": "HS512"}), status: 400, typ: "badSignatureAlgorithm",
			check: wantAlgorithms(accountAlgorithms...)},
		{name: "A1 alg ES256K", send: withHeader(newcomer, newAccount, accountPayload,
			map[string]any{"alg": "ES256K"}), status: 400, typ: "badSignatureAlgorithm"},
		{name: "A1 alg RS384", send: withHeader(rsa, newAccount, accountPayload,
			map[string]any{"alg": "RS384"}), status: 400, typ: "badSignatureAlgorithm"},
		{name: "A1 alg missing", send: withHeader(newcomer, newAccount, accountPayload,
			map[string]any{"alg": nil}), status: 400, typ: "malformed", detail: "no alg"},
		{name: "A1 alg not a string", send: withHeader(newcomer, newAccount, accountPayload,
			map[string]any{"alg": 256}), status: 400, typ: "malformed"},
		{name: "A1 RS256 over an EC jwk", send: withHeader(newcomer, newAccount, accountPayload,
			map[string]any{"alg": "RS256"}), status: 400, typ: "malformed", detail: "does not match"},
		{name: "A1 EdDSA over an EC jwk", send: withHeader(newcomer, newAccount, accountPayload,
			map[string]any{"alg": "EdDSA"}), status: 400, typ: "malformed", detail: "does not match"},

		// A2: the key and the algorithm disagree.
		{name: "A2 ES384 over a P-256 jwk", send: withHeader(newcomer, newAccount, accountPayload,
			map[string]any{"alg": "ES384"}), status: 400, typ: "malformed"},
		{name: "A2 ES256 over a P-384 jwk", send: withHeader(p384, newAccount, accountPayload,
			map[string]any{"alg": "ES256"}), status: 400, typ: "malformed"},
		{name: "A2 ES256 over an RSA jwk", send: withHeader(rsa, newAccount, accountPayload,
			map[string]any{"alg": "ES256"}), status: 400, typ: "malformed"},
		{name: "A2 jwk alg member disagrees with the header",
			send: func(t *testing.T, e *env) *acmetest.Response {
				cl := newcomer(t, e)
				url := e.gw.URLFor("new-account")
				hdr := cl.Header(t, url)
				hdr["jwk"] = jwkWith(t, cl, map[string]any{"alg": "ES384"})
				return cl.Send(t, url, cl.SignHeader(t, hdr, []byte(accountPayload)))
			}, status: 400, typ: "malformed", detail: "alg"},
		{name: "A2 RS256 with the kid of an EC account", send: withHeader(acctA, newOrder,
			orderPayload, map[string]any{"alg": "RS256"}), status: 400, typ: "malformed"},

		// A3: signatures and unprotected headers.
		{name: "A3 general serialization with a signatures array",
			send: editBody(acctA, newOrder, orderPayload, func(t *testing.T, e *env, jws map[string]any) {
				jws["signatures"] = []any{map[string]any{
					"protected": jws["protected"], "signature": jws["signature"]}}
				delete(jws, "protected")
				delete(jws, "signature")
			}), status: 400, typ: "malformed", detail: "single signature"},
		{name: "A3 signatures array beside a flattened signature",
			send: editBody(acctA, newOrder, orderPayload, func(t *testing.T, e *env, jws map[string]any) {
				jws["signatures"] = []any{map[string]any{
					"protected": jws["protected"], "signature": jws["signature"]}}
			}), status: 400, typ: "malformed"},
		{name: "A3 unprotected header naming another account",
			send: editBody(acctA, newOrder, orderPayload, func(t *testing.T, e *env, jws map[string]any) {
				jws["header"] = map[string]any{"kid": e.b.KID}
			}), status: 400, typ: "malformed", detail: "unprotected"},
		{name: "A3 empty unprotected header",
			send: editBody(acctA, newOrder, orderPayload, func(t *testing.T, e *env, jws map[string]any) {
				jws["header"] = map[string]any{}
			}), status: 400, typ: "malformed"},
		{name: "A3 empty signature",
			send: editBody(acctA, newOrder, orderPayload, func(t *testing.T, e *env, jws map[string]any) {
				jws["signature"] = ""
			}), status: 400, typ: "malformed", detail: "empty signature"},
		{name: "A3 signature missing",
			send: editBody(acctA, newOrder, orderPayload, func(t *testing.T, e *env, jws map[string]any) {
				delete(jws, "signature")
			}), status: 400, typ: "malformed"},
		{name: "A3 signed by another account's key",
			send: func(t *testing.T, e *env) *acmetest.Response {
				url := e.gw.URLFor("new-order")
				hdr := e.a.Header(t, url)
				return e.a.Send(t, url, e.b.SignHeader(t, hdr, []byte(orderPayload)))
			}, status: 400, typ: "malformed", detail: "signature is invalid"},
		{name: "A3 payload changed after signing",
			send: editBody(acctA, newOrder, orderPayload, func(t *testing.T, e *env, jws map[string]any) {
				jws["payload"] = b64(`{"identifiers":[{"type":"dns","value":"evil.corp.internal"}]}`)
			}), status: 400, typ: "malformed", detail: "signature is invalid"},
		{name: "A3 truncated signature",
			send: editBody(acctA, newOrder, orderPayload, func(t *testing.T, e *env, jws map[string]any) {
				jws["signature"] = jws["signature"].(string)[:20]
			}), status: 400, typ: "malformed"},
		{name: "A3 signature with padding",
			send: editBody(acctA, newOrder, orderPayload, func(t *testing.T, e *env, jws map[string]any) {
				jws["signature"] = jws["signature"].(string) + "=="
			}), status: 400, typ: "malformed"},

		// A4, A5: other serializations and JWE.
		{name: "A4 compact serialization", send: rawBody(newOrder, func(t *testing.T, e *env) []byte {
			var jws map[string]string
			_ = json.Unmarshal(e.a.Sign(t, e.gw.URLFor("new-order"), []byte(orderPayload)), &jws)
			return []byte(jws["protected"] + "." + jws["payload"] + "." + jws["signature"])
		}), status: 400, typ: "malformed", detail: "flattened"},
		{name: "A4 dot flood", send: rawBody(newOrder, func(*testing.T, *env) []byte {
			return []byte("e30." + strings.Repeat(".", 40000))
		}), status: 400, typ: "malformed"},
		{name: "A4 JSON array", send: rawBody(newOrder, func(t *testing.T, e *env) []byte {
			return []byte("[" + string(e.a.Sign(t, e.gw.URLFor("new-order"), []byte(orderPayload))) + "]")
		}), status: 400, typ: "malformed"},
		{name: "A4 JSON string", send: rawBody(newOrder, func(*testing.T, *env) []byte {
			return []byte(`"e30.e30.e30"`)
		}), status: 400, typ: "malformed"},
		{name: "A5 JWE with zip and a huge p2c", send: rawBody(newOrder, func(*testing.T, *env) []byte {
			prot := b64(`{"alg":"PBES2-HS256+A128KW","enc":"A128GCM","zip":"DEF","p2c":1000000000,"p2s":"AAAA"}`)
			return []byte(`{"protected":"` + prot + `","encrypted_key":"AAAA","iv":"AAAA",` +
				`"ciphertext":"AAAA","tag":"AAAA"}`)
		}), status: 400, typ: "malformed"},
		{name: "A13 invalid UTF-8", send: rawBody(newOrder, func(*testing.T, *env) []byte {
			return []byte("{\"protected\":\"\xff\xfe\",\"payload\":\"\",\"signature\":\"AA\"}")
		}), status: 400, typ: "malformed"},
		{name: "A13 trailing data after the JWS", send: rawBody(newOrder, func(t *testing.T, e *env) []byte {
			return append(e.a.Sign(t, e.gw.URLFor("new-order"), []byte(orderPayload)), []byte(" {}")...)
		}), status: 400, typ: "malformed"},

		// A6: extensions that change how the payload is read.
		{name: "A6 zip DEF", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"zip": "DEF"}), status: 400, typ: "malformed", detail: "zip"},
		{name: "A6 b64 false marked critical", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"b64": false, "crit": []string{"b64"}}), status: 400, typ: "malformed"},
		{name: "A6 b64 false alone", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"b64": false}), status: 400, typ: "malformed", detail: "b64"},
		{name: "A6 unknown critical header", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"crit": []string{"foo"}, "foo": 1}), status: 400, typ: "malformed",
			detail: "crit"},
		{name: "A6 jku header", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"jku": "https://evil.example/keys"}), status: 400, typ: "malformed"},
		{name: "A6 x5u header", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"x5u": "https://evil.example/cert"}), status: 400, typ: "malformed"},
		{name: "A6 x5c header", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"x5c": []string{"MIIB"}}), status: 400, typ: "malformed"},

		// A7: jwk and kid.
		{name: "A7 jwk and kid both", send: func(t *testing.T, e *env) *acmetest.Response {
			url := e.gw.URLFor("new-order")
			hdr := e.a.Header(t, url)
			hdr["jwk"] = e.a.JWKJSON(t)
			return e.a.Send(t, url, e.a.SignHeader(t, hdr, []byte(orderPayload)))
		}, status: 400, typ: "malformed", detail: "both"},
		{name: "A7 neither jwk nor kid", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"kid": nil}), status: 400, typ: "malformed"},
		{name: "A7 jwk of an existing account on new-order",
			send: func(t *testing.T, e *env) *acmetest.Response {
				url := e.gw.URLFor("new-order")
				hdr := e.a.Header(t, url)
				delete(hdr, "kid")
				hdr["jwk"] = e.a.JWKJSON(t)
				return e.a.Send(t, url, e.a.SignHeader(t, hdr, []byte(orderPayload)))
			}, status: 400, typ: "malformed", detail: "kid"},
		{name: "A7 jwk on the account URL", send: func(t *testing.T, e *env) *acmetest.Response {
			hdr := e.a.Header(t, e.a.KID)
			delete(hdr, "kid")
			hdr["jwk"] = e.a.JWKJSON(t)
			return e.a.Send(t, e.a.KID, e.a.SignHeader(t, hdr, nil))
		}, status: 400, typ: "malformed"},
		{name: "A7 jwk on key-change", send: func(t *testing.T, e *env) *acmetest.Response {
			url := e.gw.URLFor("key-change")
			hdr := e.a.Header(t, url)
			delete(hdr, "kid")
			hdr["jwk"] = e.a.JWKJSON(t)
			return e.a.Send(t, url, e.a.SignHeader(t, hdr, []byte("{}")))
		}, status: 400, typ: "malformed"},
		{name: "A7 kid on new-account", send: func(t *testing.T, e *env) *acmetest.Response {
			cl := newcomer(t, e)
			url := e.gw.URLFor("new-account")
			hdr := cl.Header(t, url)
			delete(hdr, "jwk")
			hdr["kid"] = e.a.KID
			return cl.Send(t, url, cl.SignHeader(t, hdr, []byte(accountPayload)))
		}, status: 400, typ: "malformed", detail: "jwk"},
		{name: "A10 kid naming another host", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"kid": "https://evil.example/acme/acct/" + "x"}), status: 400,
			typ: "malformed", detail: "not an account URL"},
		{name: "A10 kid of this account under another host",
			send: func(t *testing.T, e *env) *acmetest.Response {
				id := e.a.KID[strings.LastIndex(e.a.KID, "/")+1:]
				return withHeader(acctA, newOrder, orderPayload,
					map[string]any{"kid": "https://evil.example/acme/acct/" + id})(t, e)
			}, status: 400, typ: "malformed", detail: "not an account URL"},
		{name: "A7 kid naming an order", send: func(t *testing.T, e *env) *acmetest.Response {
			return withHeader(acctA, newOrder, orderPayload, map[string]any{"kid": e.pendingURL})(t, e)
		}, status: 400, typ: "malformed", detail: "not an account URL"},
		{name: "A7 kid naming the orders list",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return withHeader(acctA, newOrder, orderPayload,
					map[string]any{"kid": e.a.KID + "/orders"})(t, e)
			}, status: 400, typ: "malformed"},
		{name: "A7 kid with an empty account ID", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"kid": ""}), status: 400, typ: "malformed"},
		{name: "A7 kid naming no account", send: func(t *testing.T, e *env) *acmetest.Response {
			return withHeader(acctA, newOrder, orderPayload,
				map[string]any{"kid": e.gw.URLFor("acct", "AAAAAAAAAAAAAAAAAAAAAA")})(t, e)
		}, status: 400, typ: "accountDoesNotExist"},

		// A12: parser differentials.
		{name: "A12 duplicate url member", send: rawHeader(acctA, newOrder, orderPayload,
			func(t *testing.T, e *env, cl *acmetest.Client, url string) string {
				return fmt.Sprintf(`{"alg":"ES256","kid":%q,"nonce":%q,"url":%q,"url":%q}`,
					cl.KID, cl.Nonce(t), e.gw.URLFor("revoke-cert"), url)
			}), status: 400, typ: "malformed", detail: "duplicate"},
		{name: "A12 duplicate kid member", send: rawHeader(acctA, newOrder, orderPayload,
			func(t *testing.T, e *env, cl *acmetest.Client, url string) string {
				return fmt.Sprintf(`{"alg":"ES256","kid":%q,"kid":%q,"nonce":%q,"url":%q}`,
					e.b.KID, cl.KID, cl.Nonce(t), url)
			}), status: 400, typ: "malformed", detail: "duplicate"},
		{name: "A12 case-variant URL member", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"URL": "https://evil.example/"}), status: 400, typ: "malformed",
			detail: "only in case"},
		{name: "A12 case-variant Kid member", send: withHeader(acctA, newOrder, orderPayload,
			map[string]any{"Kid": "x"}), status: 400, typ: "malformed"},
		{name: "A12 duplicate identifiers in the payload",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return e.a.Post(t, e.gw.URLFor("new-order"), []byte(`{"identifiers":[{"type":"dns",`+
					`"value":"a.corp.internal"}],"identifiers":[{"type":"dns","value":"b.corp.internal"}]}`))
			}, status: 400, typ: "malformed", detail: "duplicate"},
		{name: "A12 case-variant Identifiers in the payload",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return e.a.Post(t, e.gw.URLFor("new-order"), []byte(`{"identifiers":[{"type":"dns",`+
					`"value":"a.corp.internal"}],"Identifiers":[{"type":"dns","value":"b.corp.internal"}]}`))
			}, status: 400, typ: "malformed", detail: "only in case"},
		{name: "A12 duplicate csr in the payload",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return e.a.Post(t, e.ready.Finalize, []byte(`{"csr":"AAAA","csr":"BBBB"}`))
			}, status: 400, typ: "malformed", detail: "duplicate"},
		{name: "A12 duplicate protected member", send: rawBody(newOrder, func(t *testing.T, e *env) []byte {
			var jws map[string]string
			_ = json.Unmarshal(e.a.Sign(t, e.gw.URLFor("new-order"), []byte(orderPayload)), &jws)
			return []byte(fmt.Sprintf(`{"protected":%q,"protected":%q,"payload":%q,"signature":%q}`,
				b64(`{"alg":"none"}`), jws["protected"], jws["payload"], jws["signature"]))
		}), status: 400, typ: "malformed", detail: "duplicate"},
		{name: "unknown outer member", send: editBody(acctA, newOrder, orderPayload,
			func(t *testing.T, e *env, jws map[string]any) { jws["extra"] = "x" }),
			status: 400, typ: "malformed", detail: "unknown member"},
		{name: "protected header not base64url", send: editBody(acctA, newOrder, orderPayload,
			func(t *testing.T, e *env, jws map[string]any) { jws["protected"] = "!!!" }),
			status: 400, typ: "malformed"},
		{name: "protected header not an object", send: editBody(acctA, newOrder, orderPayload,
			func(t *testing.T, e *env, jws map[string]any) { jws["protected"] = b64(`["alg"]`) }),
			status: 400, typ: "malformed"},
		{name: "payload not base64url", send: editBody(acctA, newOrder, orderPayload,
			func(t *testing.T, e *env, jws map[string]any) { jws["payload"] = "e30=" }),
			status: 400, typ: "malformed"},
		{name: "payload member not a string", send: editBody(acctA, newOrder, orderPayload,
			func(t *testing.T, e *env, jws map[string]any) { jws["payload"] = 1 }),
			status: 400, typ: "malformed"},
	}
	runRefusals(t, e, cases)
}
