package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"math/big"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

const (
	testURL   = "https://ca.test/acme/new-order"
	testNonce = "bm9uY2Utdmlzb3ItMTIzNA"
	testKID   = "https://ca.test/acme/acct/1"
)

// testKeys are generated once per test binary; RSA generation is slow.
type testKeys struct {
	ec256, ec384, ec521 *ecdsa.PrivateKey
	other256, other384  *ecdsa.PrivateKey
	rsa2048             *rsa.PrivateKey
	ed                  ed25519.PrivateKey
}

var keysOnce = sync.OnceValues(func() (*testKeys, error) {
	k := &testKeys{}
	var err error
	for _, p := range []struct {
		dst   **ecdsa.PrivateKey
		curve elliptic.Curve
	}{
		{&k.ec256, elliptic.P256()}, {&k.ec384, elliptic.P384()},
		{&k.ec521, elliptic.P521()}, {&k.other256, elliptic.P256()},
		{&k.other384, elliptic.P384()},
	} {
		if *p.dst, err = ecdsa.GenerateKey(p.curve, rand.Reader); err != nil {
			return nil, err
		}
	}
	if k.rsa2048, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	return k, nil
})

// keys returns the shared test keys.
func keys(t testing.TB) *testKeys {
	t.Helper()
	k, err := keysOnce()
	if err != nil {
		t.Fatalf("generating test keys: %v", err)
	}
	return k
}

// publicJWK returns the public JWK of priv.
func publicJWK(t testing.TB, priv crypto.Signer) *jose.JSONWebKey {
	t.Helper()
	return &jose.JSONWebKey{Key: priv.Public()}
}

// jwkJSON returns the JSON form of the public key of priv.
func jwkJSON(t testing.TB, priv crypto.Signer) json.RawMessage {
	t.Helper()
	out, err := json.Marshal(publicJWK(t, priv))
	if err != nil {
		t.Fatalf("marshalling jwk: %v", err)
	}
	return out
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// flat assembles a flattened JWS from already encoded members.
func flat(protected, payload, signature string) []byte {
	out, _ := json.Marshal(map[string]string{
		"protected": protected, "payload": payload, "signature": signature,
	})
	return out
}

// signRaw signs protected (raw JSON text, kept byte for byte) and payload
// with key as alg would, and returns the flattened JWS. key may be a private
// key, a MAC key ([]byte) or nil for a junk signature.
func signRaw(t testing.TB, key any, alg, protected string, payload []byte) []byte {
	t.Helper()
	p, pl := b64([]byte(protected)), b64(payload)
	return flat(p, pl, b64(signature(t, key, alg, []byte(p+"."+pl))))
}

// signHeader is signRaw with a header built from a map.
func signHeader(t testing.TB, key any, alg string, hdr map[string]any, payload []byte) []byte {
	t.Helper()
	hdr["alg"] = alg
	raw, err := json.Marshal(hdr)
	if err != nil {
		t.Fatalf("marshalling header: %v", err)
	}
	return signRaw(t, key, alg, string(raw), payload)
}

// signature computes a JWS signature over input (RFC 7518, Section 3).
func signature(t testing.TB, key any, alg string, input []byte) []byte {
	t.Helper()
	digest := func(h hash.Hash) []byte { h.Write(input); return h.Sum(nil) }
	var (
		sig []byte
		err error
	)
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		h := map[int]hash.Hash{32: sha256.New(), 48: sha512.New384(), 66: sha512.New()}[size]
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, k, digest(h)); err == nil {
			sig = make([]byte, 2*size)
			r.FillBytes(sig[:size])
			s.FillBytes(sig[size:])
		}
	case *rsa.PrivateKey:
		if alg == "PS256" {
			opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
			sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, digest(sha256.New()), opts)
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest(sha256.New()))
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, input)
	case []byte:
		newHash := map[string]func() hash.Hash{"HS384": sha512.New384, "HS512": sha512.New}[alg]
		if newHash == nil {
			newHash = sha256.New
		}
		sig = digest(hmac.New(newHash, k))
	default:
		sig = []byte("not a signature")
	}
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return sig
}

// joseSign signs payload with go-jose itself, embedding the jwk when kid is
// empty, and returns the flattened JWS.
func joseSign(t testing.TB, priv any, alg jose.SignatureAlgorithm, kid string,
	payload []byte,
) []byte {
	t.Helper()
	opts := (&jose.SignerOptions{}).
		WithHeader("nonce", testNonce).
		WithHeader("url", testURL)
	var key any = priv
	if kid == "" {
		opts.EmbedJWK = true
	} else {
		key = jose.JSONWebKey{Key: priv, KeyID: kid}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("creating go-jose signer: %v", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("signing with go-jose: %v", err)
	}
	return []byte(obj.FullSerialize())
}

// wantProblem fails unless err is a *problem.Error of type want.
func wantProblem(t testing.TB, err error, want problem.Type) {
	t.Helper()
	var pe *problem.Error
	if !errors.As(err, &pe) {
		t.Fatalf("got error %v (%T), want a *problem.Error of type %s", err, err, want)
	}
	if pe.Type != want {
		t.Fatalf("got problem %s (%q), want %s", pe.Type, pe.Detail, want)
	}
	if want == problem.BadSignatureAlgorithm && len(pe.Algorithms) == 0 {
		t.Fatalf("got badSignatureAlgorithm without the accepted algorithms")
	}
}

// fakeRSA returns an RSA public key with a modulus of exactly bits bits and
// exponent e, built without key generation so that huge sizes are cheap.
func fakeRSA(t testing.TB, bits, e int) *rsa.PublicKey {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatalf("random modulus: %v", err)
	}
	n.SetBit(n, bits-1, 1)
	n.SetBit(n, 0, 1)
	return &rsa.PublicKey{N: n, E: e}
}

// rsaJWK returns the JSON of an RSA public JWK with modulus n and exponent e.
func rsaJWK(n *big.Int, e int) string {
	out, _ := json.Marshal(map[string]string{
		"kty": "RSA",
		"n":   b64(n.Bytes()),
		"e":   b64(big.NewInt(int64(e)).Bytes()),
	})
	return string(out)
}
