package acmetest

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
	"fmt"
	"hash"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// ContentType is the media type of every ACME POST (RFC 8555, Section 6.2).
const ContentType = "application/jose+json"

// NewKey returns a fresh private key for alg: P-256, P-384 or P-521 for
// the ECDSA algorithms, RSA 2048 for RS256 and PS256, Ed25519 for EdDSA.
func NewKey(t testing.TB, alg jose.SignatureAlgorithm) crypto.Signer {
	t.Helper()
	var (
		key crypto.Signer
		err error
	)
	switch alg {
	case jose.ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.ES512:
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case jose.RS256, jose.PS256:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.EdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("acmetest: no key type for %s", alg)
	}
	if err != nil {
		t.Fatalf("generating a %s key: %v", alg, err)
	}
	return key
}

// Client is a minimal ACME client bound to one account key. It is safe for
// concurrent use once KID is set.
type Client struct {
	GW  *Gateway
	Key crypto.Signer
	Alg jose.SignatureAlgorithm
	// KID is the account URL; while it is empty, requests carry the jwk.
	KID string

	mu     sync.Mutex
	nonces []string
}

// NewClient returns a client with a fresh key for alg and no account.
func (g *Gateway) NewClient(t testing.TB, alg jose.SignatureAlgorithm) *Client {
	t.Helper()
	return &Client{GW: g, Key: NewKey(t, alg), Alg: alg}
}

// ClientFor returns a client using key with alg and no account.
func (g *Gateway) ClientFor(key crypto.Signer, alg jose.SignatureAlgorithm) *Client {
	return &Client{GW: g, Key: key, Alg: alg}
}

// JWK returns the public JWK of the client's key.
func (c *Client) JWK() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: c.Key.Public()}
}

// JWKJSON returns the public JWK of the client's key as JSON.
func (c *Client) JWKJSON(t testing.TB) json.RawMessage {
	t.Helper()
	b, err := c.JWK().MarshalJSON()
	if err != nil {
		t.Fatalf("encoding the jwk: %v", err)
	}
	return b
}

// Nonce returns an unused nonce: one left by an earlier answer, or a new
// one from HEAD new-nonce.
func (c *Client) Nonce(t testing.TB) string {
	t.Helper()
	c.mu.Lock()
	if n := len(c.nonces); n > 0 {
		nonce := c.nonces[n-1]
		c.nonces = c.nonces[:n-1]
		c.mu.Unlock()
		return nonce
	}
	c.mu.Unlock()
	return c.GW.FreshNonce(t)
}

// ForgetNonces drops the nonces kept from earlier answers, for instance
// after the gateway's clock moved past their lifetime.
func (c *Client) ForgetNonces() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nonces = nil
}

// FreshNonce asks new-nonce for a nonce.
func (g *Gateway) FreshNonce(t testing.TB) string {
	t.Helper()
	r := g.Do(t, g.NewRequest(t, http.MethodHead, g.URLFor("new-nonce"), "", nil))
	if r.Status != http.StatusOK || r.Nonce() == "" {
		t.Fatalf("HEAD new-nonce: got status %d and nonce %q, want 200 and a nonce", r.Status, r.Nonce())
	}
	return r.Nonce()
}

func (c *Client) keep(nonce string) {
	if nonce == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nonces = append(c.nonces, nonce)
}

// Sign signs payload for url with go-jose, with a fresh nonce, and returns
// the flattened JWS. A nil payload is the empty payload of POST-as-GET.
func (c *Client) Sign(t testing.TB, url string, payload []byte) []byte {
	t.Helper()
	return c.SignWithNonce(t, url, c.Nonce(t), payload)
}

// SignWithNonce is [Client.Sign] with a given nonce.
func (c *Client) SignWithNonce(t testing.TB, url, nonce string, payload []byte) []byte {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("url", url).WithHeader("nonce", nonce)
	if c.KID != "" {
		opts = opts.WithHeader("kid", c.KID)
	} else {
		opts.EmbedJWK = true
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: c.Alg, Key: c.Key}, opts)
	if err != nil {
		t.Fatalf("building a %s signer: %v", c.Alg, err)
	}
	if payload == nil {
		// go-jose omits the payload member for a nil payload, and RFC 7515,
		// Section 7.2.1 requires it; real clients sign an empty slice.
		payload = []byte{}
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return []byte(obj.FullSerialize())
}

// Header returns the protected header [Client.Sign] would use for url, as
// a map a test can change before [Client.SignHeader]: alg, nonce, url, and
// kid or jwk.
func (c *Client) Header(t testing.TB, url string) map[string]any {
	t.Helper()
	h := map[string]any{"alg": string(c.Alg), "nonce": c.Nonce(t), "url": url}
	if c.KID != "" {
		h["kid"] = c.KID
	} else {
		h["jwk"] = c.JWKJSON(t)
	}
	return h
}

// SignHeader signs payload under the header hdr with the client's key; see
// [SignRaw].
func (c *Client) SignHeader(t testing.TB, hdr map[string]any, payload []byte) []byte {
	t.Helper()
	b, err := json.Marshal(hdr)
	if err != nil {
		t.Fatalf("encoding the header: %v", err)
	}
	alg, _ := hdr["alg"].(string)
	return SignRaw(t, c.Key, alg, b, payload)
}

// Send POSTs body to url as application/jose+json and keeps the answer's
// nonce for later requests.
func (c *Client) Send(t testing.TB, url string, body []byte) *Response {
	t.Helper()
	r := c.GW.Do(t, c.GW.NewRequest(t, http.MethodPost, url, ContentType, body))
	c.keep(r.Nonce())
	return r
}

// Post signs payload for url and sends it.
func (c *Client) Post(t testing.TB, url string, payload []byte) *Response {
	t.Helper()
	return c.Send(t, url, c.Sign(t, url, payload))
}

// PostJSON posts v encoded as JSON.
func (c *Client) PostJSON(t testing.TB, url string, v any) *Response {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding the payload: %v", err)
	}
	return c.Post(t, url, b)
}

// PostAsGet fetches url with POST-as-GET (RFC 8555, Section 6.3).
func (c *Client) PostAsGet(t testing.TB, url string) *Response {
	t.Helper()
	return c.Post(t, url, nil)
}

// SignRaw builds a flattened JWS whose protected header is exactly the
// given bytes, signed with key under alg. It signs whatever it is asked to,
// so that tests can produce what a proper JOSE library refuses to: the
// signature uses the key's own scheme (ECDSA, RSA PKCS #1 v1.5 or PSS when
// alg starts with "PS", Ed25519, HMAC for a []byte key) with the hash named
// by alg's suffix; alg "none" gets a one-byte signature.
func SignRaw(t testing.TB, key any, alg string, protected, payload []byte) []byte {
	t.Helper()
	p := base64.RawURLEncoding.EncodeToString(protected)
	pl := base64.RawURLEncoding.EncodeToString(payload)
	sig, err := rawSignature(key, alg, []byte(p+"."+pl))
	if err != nil {
		t.Fatalf("signing with %s: %v", alg, err)
	}
	return Flattened(p, pl, base64.RawURLEncoding.EncodeToString(sig))
}

// Flattened assembles a flattened JWS from its three encoded members.
func Flattened(protected, payload, signature string) []byte {
	b, _ := json.Marshal(map[string]string{
		"protected": protected, "payload": payload, "signature": signature,
	})
	return b
}

func rawSignature(key any, alg string, input []byte) ([]byte, error) {
	if alg == "none" {
		return []byte{0}, nil
	}
	h, ch := hashFor(alg)
	h.Write(input)
	digest := h.Sum(nil)
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			return nil, err
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	case *rsa.PrivateKey:
		if strings.HasPrefix(alg, "PS") {
			return rsa.SignPSS(rand.Reader, k, ch, digest,
				&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(rand.Reader, k, ch, digest)
	case ed25519.PrivateKey:
		return ed25519.Sign(k, input), nil
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write(input)
		return m.Sum(nil), nil
	}
	return nil, fmt.Errorf("acmetest: cannot sign with %T", key)
}

func hashFor(alg string) (hash.Hash, crypto.Hash) {
	switch {
	case strings.HasSuffix(alg, "384"):
		return sha512.New384(), crypto.SHA384
	case strings.HasSuffix(alg, "512"):
		return sha512.New(), crypto.SHA512
	}
	return sha256.New(), crypto.SHA256
}

// Response is a gateway answer, read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Nonce returns the Replay-Nonce header.
func (r *Response) Nonce() string { return r.Header.Get("Replay-Nonce") }

// Location returns the Location header.
func (r *Response) Location() string { return r.Header.Get("Location") }

// HasLink reports whether one of the Link headers equals v.
func (r *Response) HasLink(v string) bool {
	return slices.Contains(r.Header.Values("Link"), v)
}

// String describes the response for failure messages.
func (r *Response) String() string {
	body := string(r.Body)
	if len(body) > 600 {
		body = body[:600] + "..."
	}
	return fmt.Sprintf("status %d, body %s", r.Status, body)
}

// Problem decodes a problem document, failing the test unless the answer
// is application/problem+json.
func (r *Response) Problem(t testing.TB) *problem.Document {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("got Content-Type %q, want application/problem+json (%s)", ct, r)
	}
	var doc problem.Document
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("decoding the problem document: %v (%s)", err, r)
	}
	return &doc
}

// JSON decodes the body into v.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding the answer: %v (%s)", err, r)
	}
}

// Want fails the test unless the answer has the given status.
func (r *Response) Want(t testing.TB, status int) *Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %s, want status %d", r, status)
	}
	return r
}
