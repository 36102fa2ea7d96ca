package server_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/acme/state"
)

// newAccountWith returns a sender that posts payload to new-account from a
// fresh P-256 key.
func newAccountWith(payload string) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		return newcomer(t, e).Post(t, e.gw.URLFor("new-account"), []byte(payload))
	}
}

// newAccountJWK returns a sender that posts a new-account request whose jwk
// header is the given JSON, signed by key under alg.
func newAccountJWK(key func(t *testing.T) crypto.Signer, alg string,
	jwk func(t *testing.T, key crypto.Signer) string) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		k := key(t)
		cl := e.gw.ClientFor(k, jose.SignatureAlgorithm(alg))
		url := e.gw.URLFor("new-account")
		hdr := cl.Header(t, url)
		hdr["jwk"] = json.RawMessage(jwk(t, k))
		return cl.Send(t, url, cl.SignHeader(t, hdr, []byte(accountPayload)))
	}
}

// publicJWK returns the public JWK of key as a map to edit.
func publicJWK(t *testing.T, key crypto.Signer) map[string]any {
	t.Helper()
	b, err := (&jose.JSONWebKey{Key: key.Public()}).MarshalJSON()
	if err != nil {
		t.Fatalf("encoding the jwk: %v", err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// TestAccountRefusals covers catalogue rows A8 and C4 and the contact
// rules of RFC 8555, Section 7.3: no account row appears and existing
// accounts are unchanged.
func TestAccountRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	rsa2048 := acmetest.NewKey(t, jose.RS256)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatalf("generating an RSA 1024 key: %v", err)
	}
	ec := func(t *testing.T) crypto.Signer { return acmetest.NewKey(t, jose.ES256) }
	rsaKey := func(*testing.T) crypto.Signer { return rsa2048 }
	editJWK := func(edit func(m map[string]any)) func(t *testing.T, key crypto.Signer) string {
		return func(t *testing.T, key crypto.Signer) string {
			m := publicJWK(t, key)
			edit(m)
			return string(mustJSON(t, m))
		}
	}
	b64n := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

	cases := []refusal{
		{name: "C4 onlyReturnExisting for an unknown key",
			send:   newAccountWith(`{"onlyReturnExisting":true}`),
			status: 400, typ: "accountDoesNotExist"},
		{name: "contact tel: URL", send: newAccountWith(`{"contact":["tel:+15555550100"]}`),
			status: 400, typ: "unsupportedContact"},
		{name: "contact https: URL", send: newAccountWith(`{"contact":["https://corp.internal/me"]}`),
			status: 400, typ: "unsupportedContact"},
		{name: "contact without scheme", send: newAccountWith(`{"contact":["admin@corp.internal"]}`),
			status: 400, typ: "unsupportedContact"},
		{name: "contact not an address", send: newAccountWith(`{"contact":["mailto:not an address"]}`),
			status: 400, typ: "invalidContact"},
		{name: "contact empty mailto", send: newAccountWith(`{"contact":["mailto:"]}`),
			status: 400, typ: "invalidContact"},
		{name: "contact with two addresses",
			send:   newAccountWith(`{"contact":["mailto:a@corp.internal,b@corp.internal"]}`),
			status: 400, typ: "invalidContact"},
		{name: "contact with a header field",
			send:   newAccountWith(`{"contact":["mailto:a@corp.internal?subject=hi"]}`),
			status: 400, typ: "invalidContact"},
		{name: "contact with a display name",
			send:   newAccountWith(`{"contact":["mailto:Admin <a@corp.internal>"]}`),
			status: 400, typ: "invalidContact"},
		{name: "eleven contacts", send: newAccountWith(`{"contact":[` +
			strings.TrimSuffix(strings.Repeat(`"mailto:a@corp.internal",`, 11), ",") + `]}`),
			status: 400, typ: "invalidContact"},
		{name: "contact not an array", send: newAccountWith(`{"contact":"mailto:a@corp.internal"}`),
			status: 400, typ: "malformed"},
		{name: "termsOfServiceAgreed not a boolean", send: newAccountWith(`{"termsOfServiceAgreed":"yes"}`),
			status: 400, typ: "malformed"},
		{name: "payload not an object", send: newAccountWith(`[]`), status: 400, typ: "malformed"},
		{name: "payload not JSON", send: newAccountWith(`{`), status: 400, typ: "malformed"},

		{name: "A8 RSA 1024 account key", send: newAccountJWK(
			func(*testing.T) crypto.Signer { return rsa1024 }, "RS256",
			editJWK(func(map[string]any) {})), status: 400, typ: "badPublicKey", detail: "1024"},
		{name: "A8 RSA 8192-bit modulus", send: newAccountJWK(rsaKey, "RS256",
			editJWK(func(m map[string]any) {
				n := make([]byte, 1024)
				n[0], n[1023] = 0x80, 1
				m["n"] = b64n(n)
			})), status: 400, typ: "badPublicKey"},
		{name: "A8 RSA exponent 3", send: newAccountJWK(rsaKey, "RS256",
			editJWK(func(m map[string]any) { m["e"] = "Aw" })), status: 400, typ: "badPublicKey",
			detail: "65537"},
		{name: "A8 private member d", send: newAccountJWK(ec, "ES256",
			func(t *testing.T, key crypto.Signer) string {
				b, _ := (&jose.JSONWebKey{Key: key}).MarshalJSON()
				return string(b)
			}), status: 400, typ: "badPublicKey", detail: "private"},
		{name: "A8 symmetric oct key", send: newAccountJWK(ec, "ES256",
			func(*testing.T, crypto.Signer) string { return `{"kty":"oct","k":"c2VjcmV0"}` }),
			status: 400, typ: "badPublicKey"},
		{name: "A8 EC point off the curve", send: newAccountJWK(ec, "ES256",
			editJWK(func(m map[string]any) {
				m["x"] = b64n([]byte(strings.Repeat("\x01", 32)))
				m["y"] = b64n([]byte(strings.Repeat("\x02", 32)))
			})), status: 400, typ: "badPublicKey"},
		{name: "A8 unsupported curve P-192", send: newAccountJWK(ec, "ES256",
			editJWK(func(m map[string]any) { m["crv"] = "P-192" })), status: 400, typ: "badPublicKey"},
		{name: "A8 jwk with a certificate chain", send: newAccountJWK(ec, "ES256",
			editJWK(func(m map[string]any) { m["x5c"] = []string{"MIIB"} })), status: 400,
			typ: "badPublicKey"},
		{name: "A8 jwk of unknown type", send: newAccountJWK(ec, "ES256",
			func(*testing.T, crypto.Signer) string { return `{"kty":"XYZ"}` }), status: 400,
			typ: "badPublicKey"},

		{name: "update with an unsupported contact",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return e.a.Post(t, e.a.KID, []byte(`{"contact":["tel:+15555550100"]}`))
			}, status: 400, typ: "unsupportedContact"},
		{name: "update with an invalid contact",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return e.a.Post(t, e.a.KID, []byte(`{"contact":["mailto:x"]}`))
			}, status: 400, typ: "invalidContact"},
		{name: "update status to revoked", send: func(t *testing.T, e *env) *acmetest.Response {
			return e.a.Post(t, e.a.KID, []byte(`{"status":"revoked"}`))
		}, status: 400, typ: "malformed", detail: "deactivated"},
		{name: "D1 update of another account", send: func(t *testing.T, e *env) *acmetest.Response {
			return e.b.Post(t, e.a.KID, []byte(`{"status":"deactivated"}`))
		}, status: 403, typ: "unauthorized"},
		{name: "D1 orders list of another account",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return e.b.PostAsGet(t, e.a.KID+"/orders")
			}, status: 403, typ: "unauthorized"},
	}
	runRefusals(t, e, cases)
}

// TestNewAccountTwice covers catalogue row C4: a second new-account with
// the same key finds the first account (RFC 8555, Section 7.3.1).
func TestNewAccountTwice(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	first := c.PostJSON(t, gw.URLFor("new-account"), map[string]any{"termsOfServiceAgreed": true}).
		Want(t, http.StatusCreated)
	second := c.PostJSON(t, gw.URLFor("new-account"), map[string]any{"termsOfServiceAgreed": true}).
		Want(t, http.StatusOK)
	existing := c.PostJSON(t, gw.URLFor("new-account"), map[string]any{"onlyReturnExisting": true}).
		Want(t, http.StatusOK)
	if first.Location() == "" || second.Location() != first.Location() ||
		existing.Location() != first.Location() {
		t.Errorf("got Locations %q, %q and %q, want one account URL", first.Location(),
			second.Location(), existing.Location())
	}
	if n := gw.Snapshot(t).Counts["accounts"]; n != 1 {
		t.Errorf("got %d accounts, want 1", n)
	}
	var acct acmetest.Account
	second.JSON(t, &acct)
	if acct.Status != "valid" || acct.Orders != first.Location()+"/orders" {
		t.Errorf("got %+v, want a valid account with its orders URL", acct)
	}
}

// TestAccountUpdate checks a contact change and a POST-as-GET of the
// account (RFC 8555, Section 7.3.2).
func TestAccountUpdate(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.EdDSA)
	c.Register(t)
	var acct acmetest.Account
	c.PostJSON(t, c.KID, map[string]any{"contact": []string{"mailto:new@corp.internal"}}).
		Want(t, http.StatusOK).JSON(t, &acct)
	if len(acct.Contact) != 1 || acct.Contact[0] != "mailto:new@corp.internal" {
		t.Errorf("got contacts %v, want the new one", acct.Contact)
	}
	r := c.PostAsGet(t, c.KID).Want(t, http.StatusOK)
	if r.Location() != c.KID {
		t.Errorf("got Location %q, want %q", r.Location(), c.KID)
	}
	var list struct{ Orders []string }
	c.PostAsGet(t, c.KID+"/orders").Want(t, http.StatusOK).JSON(t, &list)
	if list.Orders == nil || len(list.Orders) != 0 {
		t.Errorf("got orders %v, want an empty list", list.Orders)
	}
}

// TestDeactivatedAccount covers catalogue row C4: after deactivation
// (RFC 8555, Section 7.3.6) every request naming the account, and every
// new-account with its key, is refused with unauthorized.
func TestDeactivatedAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	var acct acmetest.Account
	e.a.PostJSON(t, e.a.KID, map[string]string{"status": "deactivated"}).Want(t, http.StatusOK).
		JSON(t, &acct)
	if acct.Status != "deactivated" {
		t.Fatalf("got status %q, want deactivated", acct.Status)
	}
	again := func(payload string) sender {
		return func(t *testing.T, e *env) *acmetest.Response {
			kid := e.a.KID
			defer func() { e.a.KID = kid }()
			e.a.KID = ""
			return e.a.Post(t, e.gw.URLFor("new-account"), []byte(payload))
		}
	}
	runRefusals(t, e, []refusal{
		{name: "C4 POST-as-GET of the account",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return e.a.PostAsGet(t, e.a.KID)
			}, status: 403, typ: "unauthorized"},
		{name: "C4 reactivation", send: func(t *testing.T, e *env) *acmetest.Response {
			return e.a.Post(t, e.a.KID, []byte(`{"status":"valid"}`))
		}, status: 403, typ: "unauthorized"},
		{name: "C4 new-order", send: func(t *testing.T, e *env) *acmetest.Response {
			return e.a.Post(t, e.gw.URLFor("new-order"), []byte(orderPayload))
		}, status: 403, typ: "unauthorized"},
		{name: "C4 finalize", send: func(t *testing.T, e *env) *acmetest.Response {
			return e.a.Finalize(t, e.ready, acmetest.CSR(t, acmetest.NewKey(t, jose.ES256),
				readyNames, nil))
		}, status: 403, typ: "unauthorized"},
		{name: "C4 challenge", send: func(t *testing.T, e *env) *acmetest.Response {
			return e.a.Respond(t, e.pendingAz.Challenges[0].URL)
		}, status: 403, typ: "unauthorized"},
		{name: "C4 certificate download", send: func(t *testing.T, e *env) *acmetest.Response {
			return e.a.PostAsGet(t, e.issued.CertURL)
		}, status: 403, typ: "unauthorized"},
		{name: "C4 new-account with the same key", send: again(accountPayload),
			status: 403, typ: "unauthorized"},
		{name: "C4 onlyReturnExisting with the same key", send: again(`{"onlyReturnExisting":true}`),
			status: 403, typ: "unauthorized"},
	})
}

// keyChange is the inner JWS of a key change (RFC 8555, Section 7.3.5)
// before it is signed; tests break one part of it.
type keyChange struct {
	header  map[string]any
	payload map[string]any
	signer  crypto.Signer
	alg     string
}

// newKeyChange returns a correct inner JWS rolling cl's account to newKey.
func newKeyChange(t *testing.T, e *env, cl *acmetest.Client, newKey crypto.Signer,
	alg jose.SignatureAlgorithm) *keyChange {
	t.Helper()
	newClient := e.gw.ClientFor(newKey, alg)
	return &keyChange{
		header: map[string]any{"alg": string(alg), "jwk": newClient.JWKJSON(t),
			"url": e.gw.URLFor("key-change")},
		payload: map[string]any{"account": cl.KID, "oldKey": cl.JWKJSON(t)},
		signer:  newKey,
		alg:     string(alg),
	}
}

// body signs the inner JWS.
func (k *keyChange) body(t *testing.T) []byte {
	t.Helper()
	return acmetest.SignRaw(t, k.signer, k.alg, mustJSON(t, k.header), mustJSON(t, k.payload))
}

// rollover returns a sender of a key change by account A, built by edit.
func rollover(edit func(t *testing.T, e *env, k *keyChange)) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		k := newKeyChange(t, e, e.a, acmetest.NewKey(t, jose.ES256), jose.ES256)
		if edit != nil {
			edit(t, e, k)
		}
		return e.a.Post(t, e.gw.URLFor("key-change"), k.body(t))
	}
}

// TestKeyChangeRefusals covers catalogue rows C1, C2 and C3: key changes
// that must fail leave every account key as it was.
func TestKeyChangeRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatalf("generating an RSA 1024 key: %v", err)
	}

	cases := []refusal{
		{name: "C1 inner signed by a key other than its jwk",
			send: rollover(func(t *testing.T, _ *env, k *keyChange) {
				k.signer = acmetest.NewKey(t, jose.ES256)
			}), status: 400, typ: "malformed", detail: "does not verify"},
		{name: "C1 inner names the victim's key but is signed by another",
			send: rollover(func(t *testing.T, e *env, k *keyChange) {
				k.header["jwk"] = e.b.JWKJSON(t)
			}), status: 400, typ: "malformed", detail: "does not verify"},
		{name: "C2 inner url differs from the outer url",
			send: rollover(func(t *testing.T, e *env, k *keyChange) {
				k.header["url"] = e.gw.URLFor("new-account")
			}), status: 400, typ: "malformed", detail: "url"},
		{name: "C2 inner url missing", send: rollover(func(t *testing.T, e *env, k *keyChange) {
			delete(k.header, "url")
		}), status: 400, typ: "malformed"},
		{name: "C2 inner has a nonce", send: rollover(func(t *testing.T, e *env, k *keyChange) {
			k.header["nonce"] = e.gw.FreshNonce(t)
		}), status: 400, typ: "malformed", detail: "nonce"},
		{name: "C2 oldKey is another key", send: rollover(func(t *testing.T, e *env, k *keyChange) {
			k.payload["oldKey"] = e.b.JWKJSON(t)
		}), status: 400, typ: "malformed", detail: "oldKey"},
		{name: "C2 oldKey missing", send: rollover(func(t *testing.T, e *env, k *keyChange) {
			delete(k.payload, "oldKey")
		}), status: 400, typ: "malformed", detail: "oldKey"},
		{name: "C2 account names another account", send: rollover(func(t *testing.T, e *env, k *keyChange) {
			k.payload["account"] = e.b.KID
		}), status: 400, typ: "malformed", detail: "account"},
		{name: "C2 account missing", send: rollover(func(t *testing.T, e *env, k *keyChange) {
			delete(k.payload, "account")
		}), status: 400, typ: "malformed"},
		{name: "C2 inner names the key by kid", send: rollover(func(t *testing.T, e *env, k *keyChange) {
			delete(k.header, "jwk")
			k.header["kid"] = e.a.KID
		}), status: 400, typ: "malformed"},
		{name: "inner alg none", send: rollover(func(t *testing.T, e *env, k *keyChange) {
			k.header["alg"] = "none"
			k.alg = "none"
		}), status: 400, typ: "badSignatureAlgorithm",
			check: wantAlgorithms(accountAlgorithms...)},
		{name: "inner alg HS256", send: rollover(func(t *testing.T, e *env, k *keyChange) {
			k.header["alg"] = "HS256"
		}), status: 400, typ: "badSignatureAlgorithm"},
		{name: "new key equals the old key", send: rollover(func(t *testing.T, e *env, k *keyChange) {
			k.header["jwk"] = e.a.JWKJSON(t)
			k.signer = e.a.Key
		}), status: 400, typ: "malformed", detail: "same"},
		{name: "A8 new key RSA 1024", send: rollover(func(t *testing.T, e *env, k *keyChange) {
			k.header["jwk"] = e.gw.ClientFor(rsa1024, jose.RS256).JWKJSON(t)
			k.header["alg"] = "RS256"
			k.alg = "RS256"
			k.signer = rsa1024
		}), status: 400, typ: "badPublicKey"},
		{name: "A12 inner payload with a duplicate account",
			send: func(t *testing.T, e *env) *acmetest.Response {
				k := newKeyChange(t, e, e.a, acmetest.NewKey(t, jose.ES256), jose.ES256)
				payload := `{"account":"` + e.b.KID + `","account":"` + e.a.KID + `","oldKey":` +
					string(e.a.JWKJSON(t)) + `}`
				body := acmetest.SignRaw(t, k.signer, k.alg, mustJSON(t, k.header), []byte(payload))
				return e.a.Post(t, e.gw.URLFor("key-change"), body)
			}, status: 400, typ: "malformed", detail: "duplicate"},
		{name: "inner in compact serialization",
			send: func(t *testing.T, e *env) *acmetest.Response {
				k := newKeyChange(t, e, e.a, acmetest.NewKey(t, jose.ES256), jose.ES256)
				var m map[string]string
				_ = json.Unmarshal(k.body(t), &m)
				compact := m["protected"] + "." + m["payload"] + "." + m["signature"]
				return e.a.Post(t, e.gw.URLFor("key-change"), mustJSON(t, compact))
			}, status: 400, typ: "malformed"},
		{name: "empty outer payload", send: func(t *testing.T, e *env) *acmetest.Response {
			return e.a.PostAsGet(t, e.gw.URLFor("key-change"))
		}, status: 400, typ: "malformed"},
		{name: "C3 new key belongs to another account",
			send: func(t *testing.T, e *env) *acmetest.Response {
				k := newKeyChange(t, e, e.a, e.b.Key, e.b.Alg)
				return e.a.Post(t, e.gw.URLFor("key-change"), k.body(t))
			}, status: 409, typ: "conflict",
			check: func(t *testing.T, e *env, r *acmetest.Response, _ *problem.Document) {
				if r.Location() != e.b.KID {
					t.Errorf("got Location %q, want the other account %q", r.Location(), e.b.KID)
				}
			}},
	}
	runRefusals(t, e, cases)
}

// TestKeyChange rolls an account to a new key of another type: the new key
// works at once and the old one no longer does (RFC 8555, Section 7.3.5).
func TestKeyChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	newKey := acmetest.NewKey(t, jose.EdDSA)
	k := newKeyChange(t, e, e.a, newKey, jose.EdDSA)
	var acct acmetest.Account
	e.a.Post(t, e.gw.URLFor("key-change"), k.body(t)).Want(t, http.StatusOK).JSON(t, &acct)
	if acct.Status != "valid" {
		t.Errorf("got account status %q, want valid", acct.Status)
	}

	oldKey := e.gw.ClientFor(e.a.Key, e.a.Alg)
	oldKey.KID = e.a.KID
	before := e.gw.Snapshot(t)
	// The account key is now Ed25519, so an ES256 request is refused for
	// its algorithm before its signature is even checked.
	wantProblem(t, oldKey.PostAsGet(t, e.a.KID), http.StatusBadRequest, "malformed")
	oldKey.KID = ""
	wantProblem(t, oldKey.Post(t, e.gw.URLFor("new-account"), []byte(`{"onlyReturnExisting":true}`)),
		http.StatusBadRequest, "accountDoesNotExist")
	if diff := before.Diff(e.gw.Snapshot(t)); diff != "" {
		t.Errorf("requests with the old key changed stored state: %s", diff)
	}

	rolled := e.gw.ClientFor(newKey, jose.EdDSA)
	rolled.KID = e.a.KID
	rolled.PostAsGet(t, e.a.KID).Want(t, http.StatusOK)
	rolled.KID = ""
	r := rolled.Post(t, e.gw.URLFor("new-account"), []byte(`{"onlyReturnExisting":true}`))
	if r.Want(t, http.StatusOK).Location() != e.a.KID {
		t.Errorf("got Location %q for the new key, want %q", r.Location(), e.a.KID)
	}
	// The orders made under the old key still belong to the account.
	rolled.KID = e.a.KID
	rolled.PostAsGet(t, e.pendingURL).Want(t, http.StatusOK)
}

// TestNewAccountConcurrent covers C4 under a race: ten simultaneous
// new-account requests with one key make one account, and every answer
// names it.
func TestNewAccountConcurrent(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	const n = 10
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = c.SignWithNonce(t, gw.URLFor("new-account"), gw.FreshNonce(t), []byte(accountPayload))
	}
	results := make([]*acmetest.Response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range bodies {
		wg.Go(func() {
			<-start
			results[i] = gw.Do(t, gw.NewRequest(t, http.MethodPost, gw.URLFor("new-account"),
				acmetest.ContentType, bodies[i]))
		})
	}
	close(start)
	wg.Wait()

	created, loc := 0, results[0].Location()
	for i, r := range results {
		if r.Status == http.StatusCreated {
			created++
		} else if r.Status != http.StatusOK {
			t.Errorf("request %d: got %s, want 201 or 200", i, r)
		}
		if r.Location() != loc || loc == "" {
			t.Errorf("request %d: got Location %q, want %q", i, r.Location(), loc)
		}
	}
	if created != 1 {
		t.Errorf("got %d accounts created, want 1", created)
	}
	if got := gw.Snapshot(t).Counts["accounts"]; got != 1 {
		t.Errorf("got %d account rows, want 1", got)
	}
}

// TestKeyChangeConcurrent covers the race of C3: accounts A and B roll
// over to the same new key at once; one wins, the other gets conflict, and
// both accounts stay usable.
func TestKeyChangeConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	key := acmetest.NewKey(t, jose.ES256)
	bodies := map[*acmetest.Client][]byte{}
	for _, cl := range []*acmetest.Client{e.a, e.b} {
		inner := newKeyChange(t, e, cl, key, jose.ES256).body(t)
		bodies[cl] = cl.Sign(t, e.gw.URLFor("key-change"), inner)
	}
	results := map[*acmetest.Client]*acmetest.Response{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for cl, body := range bodies {
		wg.Go(func() {
			<-start
			r := e.gw.Do(t, e.gw.NewRequest(t, http.MethodPost, e.gw.URLFor("key-change"),
				acmetest.ContentType, body))
			mu.Lock()
			results[cl] = r
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()

	var winner, loser *acmetest.Client
	for cl, r := range results {
		switch r.Status {
		case http.StatusOK:
			winner = cl
		case http.StatusConflict:
			loser = cl
			if doc := r.Problem(t); doc.Type != urn("conflict") {
				t.Errorf("got type %q, want conflict", doc.Type)
			}
		default:
			t.Errorf("got %s, want 200 or 409", r)
		}
	}
	if winner == nil || loser == nil {
		t.Fatalf("got no single winner: %v", results)
	}
	rolled := e.gw.ClientFor(key, jose.ES256)
	rolled.KID = winner.KID
	rolled.PostAsGet(t, winner.KID).Want(t, http.StatusOK)
	loser.PostAsGet(t, loser.KID).Want(t, http.StatusOK)
}

// TestDirectoryScope covers catalogue row A10: two directories of one
// deployment share a store, and an account of one does not exist at the
// other, whatever its kid says.
func TestDirectoryScope(t *testing.T) {
	t.Parallel()
	prod := newEnv(t, acmetest.Options{})
	staging := &env{gw: acmetest.New(t, acmetest.Options{Store: prod.gw.Store, Prefix: "/staging",
		Config: state.Config{Directory: "staging"}})}
	id := prod.a.KID[strings.LastIndex(prod.a.KID, "/")+1:]
	visitor := func(kid func(e *env) string) who {
		return func(t *testing.T, e *env) *acmetest.Client {
			cl := e.gw.ClientFor(prod.a.Key, prod.a.Alg)
			cl.KID = kid(e)
			return cl
		}
	}
	order := func(signer who) sender {
		return func(t *testing.T, e *env) *acmetest.Response {
			return signer(t, e).Post(t, e.gw.URLFor("new-order"), []byte(orderPayload))
		}
	}
	runRefusals(t, staging, []refusal{
		{name: "A10 kid of a production account at staging",
			send:   order(visitor(func(e *env) string { return e.gw.URLFor("acct", id) })),
			status: 400, typ: "accountDoesNotExist"},
		{name: "A10 production kid URL at staging",
			send:   order(visitor(func(*env) string { return prod.a.KID })),
			status: 400, typ: "malformed", detail: "not an account URL"},
		{name: "A10 production order fetched at staging",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return visitor(func(e *env) string { return e.gw.URLFor("acct", id) })(t, e).
					PostAsGet(t, e.gw.URLFor("order", prod.pendingURL[strings.LastIndex(prod.pendingURL, "/")+1:]))
			}, status: 400, typ: "accountDoesNotExist"},
	})

	// The same key may hold an account in each directory.
	c := staging.gw.ClientFor(prod.a.Key, prod.a.Alg)
	r := c.PostJSON(t, staging.gw.URLFor("new-account"), map[string]any{"termsOfServiceAgreed": true}).
		Want(t, http.StatusCreated)
	if !strings.HasPrefix(r.Location(), staging.gw.URLFor("acct")+"/") || strings.HasSuffix(r.Location(), id) {
		t.Errorf("got Location %q, want a new staging account", r.Location())
	}
}

// TestEABDirectoryScope covers catalogue row C6 (e): a key made for one
// directory must not bind accounts at another.
func TestEABDirectoryScope(t *testing.T) {
	t.Parallel()
	prod := newEABEnv(t)
	staging := &env{gw: acmetest.New(t, acmetest.Options{Store: prod.gw.Store, Prefix: "/staging",
		Config: state.Config{Directory: "staging", RequireEAB: true}})}
	registerWithEAB(eabReusable, nil)(t, prod).Want(t, http.StatusCreated)
	runRefusals(t, staging, []refusal{{name: "C6 production key at staging",
		send: registerWithEAB(eabReusable, nil), status: 403, typ: "unauthorized"}})
}
