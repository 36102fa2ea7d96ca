package jws

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

func TestCheckKey(t *testing.T) {
	t.Parallel()
	k := keys(t)
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatalf("generating P-224 key: %v", err)
	}
	even := fakeRSA(t, 2048, 65537)
	even.N.SetBit(even.N, 0, 0)
	offCurve := &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}
	infinity := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int), Y: new(big.Int)}
	tooBig := &ecdsa.PublicKey{
		Curve: elliptic.P256(),
		X:     new(big.Int).Lsh(big.NewInt(1), 300),
		Y:     big.NewInt(1),
	}
	tests := []struct {
		name string
		key  any
		ok   bool
	}{
		{"RSA 2048", k.rsa2048.Public(), true},
		{"RSA 3072", fakeRSA(t, 3072, 65537), true},
		{"RSA 4096", fakeRSA(t, 4096, 65537), true},
		{"P-256", k.ec256.Public(), true},
		{"P-384", k.ec384.Public(), true},
		{"P-521", k.ec521.Public(), true},
		{"Ed25519", k.ed.Public(), true},
		{"A8 RSA 1024", fakeRSA(t, 1024, 65537), false},
		{"A8 RSA 16384", fakeRSA(t, 16384, 65537), false},
		{"A8 RSA e=3", fakeRSA(t, 2048, 3), false},
		{"A8 RSA even modulus", even, false},
		{"A8 P-224", p224.Public(), false},
		{"A8 EC off the curve", offCurve, false},
		{"A8 EC point at infinity", infinity, false},
		{"A8 EC coordinate too large", tooBig, false},
		{"A8 EC private", k.ec256, false},
		{"A8 RSA private", k.rsa2048, false},
		{"A8 Ed25519 private", k.ed, false},
		{"A8 Ed25519 short", ed25519.PublicKey(make([]byte, 31)), false},
		{"A8 symmetric", []byte("0123456789abcdef0123456789abcdef"), false},
		{"nil key", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckKey(&jose.JSONWebKey{Key: tc.key})
			if tc.ok {
				if err != nil {
					t.Fatalf("got %v, want the key accepted", err)
				}
				return
			}
			wantProblem(t, err, problem.BadPublicKey)
		})
	}
	wantProblem(t, CheckKey(nil), problem.BadPublicKey)
}

func TestThumbprint(t *testing.T) {
	t.Parallel()
	// RFC 7638, Section 3.1.
	const rfcKey = `{"kty":"RSA","e":"AQAB","n":` +
		`"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4` +
		`cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9y` +
		`BXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6q` +
		`MQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqb` +
		`w0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}`
	var key jose.JSONWebKey
	if err := json.Unmarshal([]byte(rfcKey), &key); err != nil {
		t.Fatalf("decoding the RFC 7638 key: %v", err)
	}
	got, err := Thumbprint(&key)
	if err != nil {
		t.Fatalf("Thumbprint: %v", err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("got thumbprint %q, want %q", got, want)
	}
	_, err = Thumbprint(&jose.JSONWebKey{Key: []byte("mac key")})
	wantProblem(t, err, problem.BadPublicKey)
	_, err = Thumbprint(nil)
	wantProblem(t, err, problem.BadPublicKey)
}
