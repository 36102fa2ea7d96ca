package jws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

const (
	newAccountURL = "https://ca.test/acme/new-account"
	eabKID        = "eab-key-1"
)

var (
	eabMAC    = bytes.Repeat([]byte{0x5a}, 32)
	errStored = errors.New("store: database is locked")
)

// eabLookup knows eabKID and fails on "broken".
func eabLookup(kid string) ([]byte, error) {
	switch kid {
	case eabKID:
		return eabMAC, nil
	case "broken":
		return nil, errStored
	case "empty":
		return nil, nil
	}
	return nil, fmt.Errorf("eab key %q: %w", kid, ErrUnknownKeyID)
}

// eabBody signs an EAB over the jwk of k.ec256 with mac; extra changes the
// header (nil deletes) and payload replaces the jwk when set.
func eabBody(t testing.TB, k *testKeys, alg string, mac any, extra map[string]any,
	payload []byte,
) json.RawMessage {
	t.Helper()
	hdr := map[string]any{"kid": eabKID, "url": newAccountURL}
	for name, v := range extra {
		if v == nil {
			delete(hdr, name)
			continue
		}
		hdr[name] = v
	}
	if payload == nil {
		payload = jwkJSON(t, k.ec256)
	}
	return signHeader(t, mac, alg, hdr, payload)
}

func TestVerifyExternalAccountBinding(t *testing.T) {
	t.Parallel()
	k := keys(t)
	accountKey := publicJWK(t, k.ec256)

	t.Run("success signed by go-jose", func(t *testing.T) {
		t.Parallel()
		opts := (&jose.SignerOptions{}).
			WithHeader("kid", eabKID).
			WithHeader("url", newAccountURL)
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: eabMAC}, opts)
		if err != nil {
			t.Fatalf("NewSigner: %v", err)
		}
		obj, err := signer.Sign(jwkJSON(t, k.ec256))
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		kid, err := VerifyExternalAccountBinding(
			json.RawMessage(obj.FullSerialize()), newAccountURL, accountKey, eabLookup)
		if err != nil {
			t.Fatalf("VerifyExternalAccountBinding: %v", err)
		}
		if kid != eabKID {
			t.Errorf("got kid %q, want %q", kid, eabKID)
		}
	})

	tests := []struct {
		name string
		eab  json.RawMessage
		want problem.Type // "" means success
	}{
		{"success HS256", eabBody(t, k, "HS256", eabMAC, nil, nil), ""},
		{"C6 wrong MAC", eabBody(t, k, "HS256", bytes.Repeat([]byte{1}, 32), nil, nil),
			problem.Unauthorized},
		{"C6 other jwk", eabBody(t, k, "HS256", eabMAC, nil, jwkJSON(t, k.other256)),
			problem.Unauthorized},
		{"C6 alg RS256", eabBody(t, k, "RS256", eabMAC, nil, nil), problem.BadSignatureAlgorithm},
		{"C6 alg none", eabBody(t, k, "none", eabMAC, nil, nil), problem.BadSignatureAlgorithm},
		{"C6 alg HS512 with a short key", eabBody(t, k, "HS512", eabMAC, nil, nil),
			problem.Unauthorized},
		{"C6 unknown kid", eabBody(t, k, "HS256", eabMAC, map[string]any{"kid": "other"}, nil),
			problem.Unauthorized},
		{"C6 kid without a key", eabBody(t, k, "HS256", eabMAC, map[string]any{"kid": "empty"}, nil),
			problem.Unauthorized},
		{"C6 wrong url", eabBody(t, k, "HS256", eabMAC,
			map[string]any{"url": "https://other.test/acme/new-account"}, nil), problem.Malformed},
		{"missing url", eabBody(t, k, "HS256", eabMAC, map[string]any{"url": nil}, nil),
			problem.Malformed},
		{"nonce present", eabBody(t, k, "HS256", eabMAC, map[string]any{"nonce": testNonce}, nil),
			problem.Malformed},
		{"jwk instead of kid", eabBody(t, k, "HS256", eabMAC,
			map[string]any{"kid": nil, "jwk": jwkJSON(t, k.ec256)}, nil), problem.Malformed},
		{"payload not a key", eabBody(t, k, "HS256", eabMAC, nil, []byte(`{"kty":"EC"}`)),
			problem.Malformed},
		{"payload private key", eabBody(t, k, "HS256", eabMAC, nil,
			mustJSON(jose.JSONWebKey{Key: k.ec256})), problem.Malformed},
		{"not an object", json.RawMessage(`"e30.e30.e30"`), problem.Malformed},
		{"empty", nil, problem.Malformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kid, err := VerifyExternalAccountBinding(tc.eab, newAccountURL, accountKey, eabLookup)
			if tc.want == "" {
				if err != nil || kid != eabKID {
					t.Fatalf("got %q, %v; want %q and no error", kid, err, eabKID)
				}
				return
			}
			t.Logf("%v", err)
			wantProblem(t, err, tc.want)
			if kid != "" {
				t.Errorf("got kid %q on failure, want none", kid)
			}
		})
	}
}

func TestVerifyExternalAccountBindingLookupFailure(t *testing.T) {
	t.Parallel()
	k := keys(t)
	eab := eabBody(t, k, "HS256", eabMAC, map[string]any{"kid": "broken"}, nil)
	_, err := VerifyExternalAccountBinding(eab, newAccountURL, publicJWK(t, k.ec256), eabLookup)
	var pe *problem.Error
	if !errors.Is(err, errStored) || errors.As(err, &pe) {
		t.Fatalf("got %v, want the lookup error wrapped and no problem", err)
	}
}
