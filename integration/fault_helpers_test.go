package integration

// Helpers of the reliability tests (crash_, fault_, abuse_ and secrets_
// files): a CA prepared once per test binary so that every gateway starts
// in about a second, and a raw ACME client that shows status codes,
// headers and problem documents that client libraries retry or hide.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/acmegate/acmegate/ca"
	"golang.org/x/crypto/acme"
)

// fastKeyIterations is the PBKDF2 count the prepared intermediate key is
// re-encrypted with. The product writes 600 000, which costs about five
// seconds per start under -race; tests that restart the gateway many times
// cannot afford that, and the iteration count is no part of what they test.
const fastKeyIterations = 10_000

var (
	preparedOnce sync.Once
	preparedDir  string // data folder made by `acmegate init`
	preparedNote string // how the intermediate key is encrypted
	preparedErr  error
)

// newDataDir returns a fresh data folder holding a CA made by `acmegate
// init` (root key elsewhere, intermediate.pass in the folder), for
// [withDataDir]. The ceremony runs once per test binary; each call copies
// its result.
func newDataDir(t *testing.T) string {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building the gateway: %v", buildErr)
	}
	preparedOnce.Do(func() {
		preparedDir, preparedNote, preparedErr = prepareCA(filepath.Join(filepath.Dir(gatewayBinary), "ca"))
	})
	if preparedErr != nil {
		t.Fatalf("preparing the CA: %v", preparedErr)
	}
	dst := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(preparedDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(preparedDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dst, e.Name()), string(raw))
	}
	t.Logf("data folder %s: %s", dst, preparedNote)
	return dst
}

// prepareCA runs `acmegate init` into dir and, when openssl is installed,
// re-encrypts the intermediate key with [fastKeyIterations]. ca documents
// that it reads keys written by `openssl pkcs8 -topk8 -v2 aes-256-cbc
// -v2prf hmacWithSHA256`, so the gateway loads the result as it loads its
// own files.
func prepareCA(dir string) (dataDir, note string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	dataDir = filepath.Join(dir, "data")
	rootPass := filepath.Join(dir, "root.pass")
	interPass := filepath.Join(dir, "intermediate.pass")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	pass := make([]byte, 24)
	if _, err := rand.Read(pass); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(rootPass, []byte("root passphrase of the reliability tests"), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(interPass, []byte(base64.RawURLEncoding.EncodeToString(pass)), 0o600); err != nil {
		return "", "", err
	}
	out, err := exec.CommandContext(ctx, gatewayBinary, "init", "--root-dir", filepath.Join(dir, "root"),
		"--data", dataDir, "--root-passphrase-file", rootPass,
		"--intermediate-passphrase-file", interPass).CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("acmegate init: %w\n%s", err, out)
	}
	raw, err := os.ReadFile(interPass)
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(dataDir, "intermediate.pass"), raw, 0o600); err != nil {
		return "", "", err
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		return dataDir, "intermediate key as written by init (openssl not found; starts are slow under -race)", nil
	}
	if err := reencryptKey(ctx, dataDir); err != nil {
		return "", "", err
	}
	return dataDir, fmt.Sprintf("intermediate key re-encrypted with %d PBKDF2 iterations", fastKeyIterations), nil
}

// reencryptKey rewrites <data>/intermediate-key.pem with fewer PBKDF2
// iterations; the plain key only passes through a pipe between two openssl
// processes. The result must load with ca.LoadEncryptedKey and match the
// intermediate certificate.
func reencryptKey(ctx context.Context, dataDir string) error {
	keyPath := filepath.Join(dataDir, "intermediate-key.pem")
	passPath := filepath.Join(dataDir, "intermediate.pass")
	tmp := keyPath + ".new"
	dec := exec.CommandContext(ctx, "openssl", "pkcs8", "-in", keyPath, "-passin", "file:"+passPath)
	enc := exec.CommandContext(ctx, "openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc",
		"-v2prf", "hmacWithSHA256", "-iter", strconv.Itoa(fastKeyIterations),
		"-passout", "file:"+passPath, "-out", tmp)
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	var decErr, encErr bytes.Buffer
	dec.Stdout, dec.Stderr = pw, &decErr
	enc.Stdin, enc.Stderr = pr, &encErr
	if err := dec.Start(); err != nil {
		pr.Close()
		pw.Close()
		return err
	}
	startErr := enc.Start()
	pw.Close()
	pr.Close()
	if err := dec.Wait(); err != nil {
		return fmt.Errorf("openssl pkcs8 (decrypt): %w: %s", err, decErr.Bytes())
	}
	if startErr != nil {
		return startErr
	}
	if err := enc.Wait(); err != nil {
		return fmt.Errorf("openssl pkcs8 (encrypt): %w: %s", err, encErr.Bytes())
	}

	pass, err := ca.ReadPassphraseFile(passPath)
	if err != nil {
		return err
	}
	key, err := ca.LoadEncryptedKey(tmp, pass)
	if err != nil {
		return fmt.Errorf("loading the re-encrypted key: %w", err)
	}
	certPEM, err := os.ReadFile(filepath.Join(dataDir, "intermediate.pem"))
	if err != nil {
		return err
	}
	cert, err := parseOneCertificate(certPEM)
	if err != nil {
		return fmt.Errorf("intermediate.pem: %w", err)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return errors.New("the re-encrypted key does not match intermediate.pem")
	}
	return os.Rename(tmp, keyPath)
}

// rawACME sends hand-made, ES256-signed ACME requests and never retries,
// so a test sees every status, header and problem document as sent.
type rawACME struct {
	t    *testing.T
	http *http.Client
	key  *ecdsa.PrivateKey
	// kid is the account URL once registered; requests use the jwk
	// before that.
	kid string
	dir struct {
		NewNonce   string `json:"newNonce"`
		NewAccount string `json:"newAccount"`
		NewOrder   string `json:"newOrder"`
	}
}

// rawReply is one answer of the gateway.
type rawReply struct {
	status  int
	header  http.Header
	body    []byte
	problem problemDoc
	took    time.Duration
}

// problemDoc is the part of a problem document the tests check.
type problemDoc struct {
	Type   string `json:"type"`
	Detail string `json:"detail"`
	Status int    `json:"status"`
}

func (r *rawReply) String() string {
	if r.problem.Type != "" {
		return fmt.Sprintf("%d %s (%q) in %v", r.status, r.problem.Type, r.problem.Detail,
			r.took.Round(time.Millisecond))
	}
	return fmt.Sprintf("%d in %v", r.status, r.took.Round(time.Millisecond))
}

// newRawACME returns a client of g with a fresh P-256 key; it reads the
// directory once, so g must be up.
func newRawACME(t *testing.T, g *gateway) *rawACME {
	t.Helper()
	c := &rawACME{t: t, http: g.HTTPClient(), key: newKey(t)}
	resp, err := c.http.Get(g.DirectoryURL)
	if err != nil {
		t.Fatalf("GET directory: %v", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&c.dir); err != nil {
		t.Fatalf("decoding the directory: %v", err)
	}
	return c
}

// register creates the account of c's key and keeps its URL as kid.
func (c *rawACME) register(ctx context.Context) {
	c.t.Helper()
	r, err := c.post(ctx, c.dir.NewAccount, map[string]any{"termsOfServiceAgreed": true})
	if err != nil {
		c.t.Fatalf("new-account: %v", err)
	}
	if r.status != http.StatusCreated || r.header.Get("Location") == "" {
		c.t.Fatalf("new-account: got %v, want 201 with a Location", r)
	}
	c.kid = r.header.Get("Location")
}

// nonce fetches a fresh nonce.
func (c *rawACME) nonce(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.dir.NewNonce, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	n := resp.Header.Get("Replay-Nonce")
	if n == "" {
		return "", fmt.Errorf("HEAD new-nonce: status %d and no Replay-Nonce", resp.StatusCode)
	}
	return n, nil
}

// post signs payload for url with a fresh nonce and sends it. A nil
// payload is a POST-as-GET; a []byte is sent as it is; anything else is
// marshalled to JSON.
func (c *rawACME) post(ctx context.Context, url string, payload any) (*rawReply, error) {
	var raw []byte
	switch p := payload.(type) {
	case nil:
	case []byte:
		raw = p
	default:
		var err error
		if raw, err = json.Marshal(p); err != nil {
			return nil, err
		}
	}
	n, err := c.nonce(ctx)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, url, c.sign(url, n, raw))
}

// sign returns a flattened JWS of payload (RFC 8555, Section 6.2).
func (c *rawACME) sign(url, nonce string, payload []byte) []byte {
	protected := map[string]any{"alg": "ES256", "nonce": nonce, "url": url}
	if c.kid != "" {
		protected["kid"] = c.kid
	} else {
		pt, err := c.key.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			c.t.Fatal(err)
		}
		protected["jwk"] = map[string]string{"kty": "EC", "crv": "P-256",
			"x": b64(pt[1:33]), "y": b64(pt[33:65])}
	}
	hdr, err := json.Marshal(protected)
	if err != nil {
		c.t.Fatal(err)
	}
	signingInput := b64(hdr) + "." + b64(payload)
	digest := sha256.Sum256([]byte(signingInput))
	r, s, err := ecdsa.Sign(rand.Reader, c.key, digest[:])
	if err != nil {
		c.t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	body, err := json.Marshal(map[string]string{
		"protected": b64(hdr), "payload": b64(payload), "signature": b64(sig)})
	if err != nil {
		c.t.Fatal(err)
	}
	return body
}

// send POSTs body as application/jose+json and reads the answer.
func (c *rawACME) send(ctx context.Context, url string, body []byte) (*rawReply, error) {
	return c.sendReader(ctx, url, bytes.NewReader(body))
}

func (c *rawACME) sendReader(ctx context.Context, url string, body io.Reader) (*rawReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/jose+json")
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	r := &rawReply{status: resp.StatusCode, header: resp.Header}
	r.body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	r.took = time.Since(start)
	if err != nil {
		return nil, err
	}
	if resp.Header.Get("Content-Type") == "application/problem+json" {
		if err := json.Unmarshal(r.body, &r.problem); err != nil {
			return nil, fmt.Errorf("status %d: broken problem document %q: %w", r.status, r.body, err)
		}
	}
	return r, nil
}

// newOrder asks for an order of the given DNS names.
func (c *rawACME) newOrder(ctx context.Context, names ...string) (*rawReply, error) {
	ids := make([]map[string]string, 0, len(names))
	for _, n := range names {
		ids = append(ids, map[string]string{"type": "dns", "value": n})
	}
	return c.post(ctx, c.dir.NewOrder, map[string]any{"identifiers": ids})
}

// wantProblemReply fails unless r is a problem document of type
// problemURN+typ with the HTTP status status (also in the document) and a
// fresh Replay-Nonce.
func wantProblemReply(t *testing.T, r *rawReply, typ string, status int) {
	t.Helper()
	if r.status != status || r.problem.Type != problemURN+typ {
		t.Errorf("got %v (body %.200q), want %d %s", r, r.body, status, problemURN+typ)
	}
	if r.problem.Status != r.status {
		t.Errorf("problem document status: got %d, want the HTTP status %d", r.problem.Status, r.status)
	}
	if r.header.Get("Replay-Nonce") == "" {
		t.Errorf("%d response without a Replay-Nonce", r.status)
	}
}

// retryAfterSeconds returns the Retry-After header of r in seconds, or 0
// when it is absent or not a number of seconds.
func retryAfterSeconds(r *rawReply) int {
	n, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil {
		return 0
	}
	return n
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// certSerial is the serial of a certificate as the store keys it: the
// lowercase hex of its big-endian bytes.
func certSerial(c *x509.Certificate) string {
	return fmt.Sprintf("%x", c.SerialNumber.Bytes())
}

// pendingHTTP01 points name at the harness, orders it with x/crypto/acme
// and returns the client, the order, its http-01 challenge and that
// challenge's key authorization, for tests that control the answer.
func pendingHTTP01(t *testing.T, ctx context.Context, g *gateway, name string) (
	*acme.Client, *acme.Order, *acme.Challenge, string) {
	t.Helper()
	pointAt(g, name)
	client := newXClient(t, ctx, g)
	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		t.Fatalf("AuthorizeOrder: %v", err)
	}
	z, err := client.GetAuthorization(ctx, order.AuthzURLs[0])
	if err != nil {
		t.Fatalf("GetAuthorization: %v", err)
	}
	chal := findChallenge(t, z, challHTTP01)
	keyAuth, err := client.HTTP01ChallengeResponse(chal.Token)
	if err != nil {
		t.Fatal(err)
	}
	return client, order, chal, keyAuth
}
