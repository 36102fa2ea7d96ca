package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/acme/server"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

// EAB keys stored by newEABEnv.
var (
	eabMAC      = bytes.Repeat([]byte{0x42}, 32)
	eabSingle   = "eab-single"
	eabReusable = "eab-reusable"
	eabRevoked  = "eab-revoked"
)

// newEABEnv builds a fixture whose engine requires external account
// binding, with a single-use, a reusable and a revoked key in the store.
func newEABEnv(t *testing.T) *env {
	t.Helper()
	gw := acmetest.New(t, acmetest.Options{
		Config: state.Config{RequireEAB: true},
		Meta:   server.Meta{ExternalAccountRequired: true},
	})
	revokedAt := gw.Clock.Now()
	err := gw.Store.Transact(context.Background(), func(tx *store.Tx) error {
		for _, k := range []*store.EABKey{
			{ID: eabSingle, MACKey: eabMAC},
			{ID: eabReusable, MACKey: eabMAC, Reusable: true},
			{ID: eabRevoked, MACKey: eabMAC, RevokedAt: &revokedAt},
		} {
			if err := tx.CreateEABKey(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("storing EAB keys: %v", err)
	}
	return &env{gw: gw}
}

// eab describes an external account binding (RFC 8555, Section 7.3.4) to
// build and sign.
type eab struct {
	header  map[string]any
	payload []byte
	key     any
	alg     string
}

// newEAB returns a correct binding of cl's key under the key ID kid.
func newEAB(t *testing.T, e *env, cl *acmetest.Client, kid string) *eab {
	return &eab{
		header:  map[string]any{"alg": "HS256", "kid": kid, "url": e.gw.URLFor("new-account")},
		payload: cl.JWKJSON(t),
		key:     eabMAC,
		alg:     "HS256",
	}
}

func (b *eab) json(t *testing.T) json.RawMessage {
	return acmetest.SignRaw(t, b.key, b.alg, mustJSON(t, b.header), b.payload)
}

// registerWithEAB returns a sender of new-account from a fresh key with the
// binding that edit makes.
func registerWithEAB(kid string, edit func(t *testing.T, e *env, b *eab)) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		cl := newcomer(t, e)
		b := newEAB(t, e, cl, kid)
		if edit != nil {
			edit(t, e, b)
		}
		return cl.PostJSON(t, e.gw.URLFor("new-account"), map[string]any{
			"termsOfServiceAgreed": true, "externalAccountBinding": b.json(t),
		})
	}
}

// TestEABRefusals covers catalogue row C6: with external account binding
// required, new accounts without a valid binding are refused and no
// account row appears.
func TestEABRefusals(t *testing.T) {
	t.Parallel()
	e := newEABEnv(t)
	eabAlgorithms := []string{"HS256", "HS384", "HS512"}

	cases := []refusal{
		{name: "C6 binding missing", send: newAccountWith(accountPayload),
			status: 401, typ: "externalAccountRequired"},
		{name: "C6 binding null", send: newAccountWith(`{"externalAccountBinding":null}`),
			status: 401, typ: "externalAccountRequired"},
		{name: "C6 MAC with the wrong key", send: registerWithEAB(eabSingle,
			func(t *testing.T, _ *env, b *eab) { b.key = bytes.Repeat([]byte{1}, 32) }),
			status: 403, typ: "unauthorized", detail: "MAC"},
		{name: "C6 unknown key ID", send: registerWithEAB("eab-nobody", nil),
			status: 403, typ: "unauthorized"},
		{name: "C6 revoked key", send: registerWithEAB(eabRevoked, nil),
			status: 403, typ: "unauthorized", detail: "revoked"},
		{name: "C6 binding over another jwk", send: registerWithEAB(eabSingle,
			func(t *testing.T, e *env, b *eab) { b.payload = newcomer(t, e).JWKJSON(t) }),
			status: 403, typ: "unauthorized", detail: "another account key"},
		{name: "C6 binding url differs", send: registerWithEAB(eabSingle,
			func(t *testing.T, e *env, b *eab) { b.header["url"] = e.gw.URLFor("new-order") }),
			status: 400, typ: "malformed", detail: "url"},
		{name: "C6 binding alg RS256", send: registerWithEAB(eabSingle,
			func(t *testing.T, e *env, b *eab) {
				b.header["alg"] = "RS256"
				b.alg = "RS256"
				b.key = acmetest.NewKey(t, jose.RS256)
			}), status: 400, typ: "badSignatureAlgorithm", check: wantAlgorithms(eabAlgorithms...)},
		{name: "C6 binding alg none", send: registerWithEAB(eabSingle,
			func(t *testing.T, e *env, b *eab) { b.header["alg"] = "none"; b.alg = "none" }),
			status: 400, typ: "badSignatureAlgorithm", check: wantAlgorithms(eabAlgorithms...)},
		{name: "C6 binding alg ES256 signed by the account key",
			send: func(t *testing.T, e *env) *acmetest.Response {
				cl := newcomer(t, e)
				b := newEAB(t, e, cl, eabSingle)
				b.header["alg"], b.alg, b.key = "ES256", "ES256", cl.Key
				return cl.PostJSON(t, e.gw.URLFor("new-account"), map[string]any{
					"externalAccountBinding": b.json(t)})
			}, status: 400, typ: "badSignatureAlgorithm"},
		{name: "C6 binding with a nonce", send: registerWithEAB(eabSingle,
			func(t *testing.T, e *env, b *eab) { b.header["nonce"] = e.gw.FreshNonce(t) }),
			status: 400, typ: "malformed", detail: "nonce"},
		{name: "C6 binding names a jwk instead of a kid", send: registerWithEAB(eabSingle,
			func(t *testing.T, e *env, b *eab) {
				delete(b.header, "kid")
				b.header["jwk"] = json.RawMessage(b.payload)
			}), status: 400, typ: "malformed"},
		{name: "C6 binding without url", send: registerWithEAB(eabSingle,
			func(t *testing.T, e *env, b *eab) { delete(b.header, "url") }),
			status: 400, typ: "malformed"},
		{name: "C6 binding payload is not a key", send: registerWithEAB(eabSingle,
			func(t *testing.T, e *env, b *eab) { b.payload = []byte(`{"kty":"EC"}`) }),
			status: 400, typ: "malformed"},
		{name: "C6 binding not a JWS", send: newAccountWith(`{"externalAccountBinding":"e30.e30.e30"}`),
			status: 400, typ: "malformed"},
		{name: "C6 binding with an unprotected header",
			send: func(t *testing.T, e *env) *acmetest.Response {
				cl := newcomer(t, e)
				var m map[string]any
				_ = json.Unmarshal(newEAB(t, e, cl, eabSingle).json(t), &m)
				m["header"] = map[string]any{"kid": eabReusable}
				return cl.PostJSON(t, e.gw.URLFor("new-account"), map[string]any{
					"externalAccountBinding": m})
			}, status: 400, typ: "malformed"},
	}
	runRefusals(t, e, cases)
}

// TestEABSingleUse covers the rest of C6: a valid binding creates the
// account and is echoed back; a single-use key binds one account only,
// a reusable key several.
func TestEABSingleUse(t *testing.T) {
	t.Parallel()
	e := newEABEnv(t)

	var dir struct {
		Meta map[string]any `json:"meta"`
	}
	e.gw.Get(t, e.gw.URLFor("directory")).Want(t, http.StatusOK).JSON(t, &dir)
	if dir.Meta["externalAccountRequired"] != true {
		t.Errorf("got directory meta %v, want externalAccountRequired true", dir.Meta)
	}

	r := registerWithEAB(eabSingle, nil)(t, e).Want(t, http.StatusCreated)
	var acct acmetest.Account
	r.JSON(t, &acct)
	if len(acct.ExternalAccountBinding) == 0 {
		t.Errorf("got no externalAccountBinding in the new account, want it echoed")
	}

	runRefusals(t, e, []refusal{{name: "C6 single-use key for a second account",
		send: registerWithEAB(eabSingle, nil), status: 403, typ: "unauthorized",
		check: func(t *testing.T, e *env, _ *acmetest.Response, _ *problem.Document) {
			var n int64
			e.gw.Store.DB().Model(&store.Account{}).Where("eab_key_id = ?", eabSingle).Count(&n)
			if n != 1 {
				t.Errorf("got %d accounts bound to the single-use key, want 1", n)
			}
		}}})

	registerWithEAB(eabReusable, nil)(t, e).Want(t, http.StatusCreated)
	registerWithEAB(eabReusable, nil)(t, e).Want(t, http.StatusCreated)
}
