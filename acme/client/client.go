package client

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults for [Options].
const (
	DefaultHTTPTimeout   = 30 * time.Second
	DefaultPollInterval  = time.Second
	DefaultPollTimeout   = 2 * time.Minute
	DefaultMaxRetryAfter = time.Minute
	DefaultUserAgent     = "acmegate-client"
)

const (
	// maxBodyBytes bounds every response body read.
	maxBodyBytes = 2 << 20
	// maxPolls bounds the requests of one poll, whatever the timeout.
	maxPolls = 1000
	// minPollWait is the shortest wait between two polls, even when the
	// server asks for less.
	minPollWait = 100 * time.Millisecond
	// maxNonces bounds the nonces kept for later requests.
	maxNonces = 16
	// maxNonceLen bounds a nonce taken from a Replay-Nonce header.
	maxNonceLen = 256
)

// Options configures a [Client]. The zero value is usable.
type Options struct {
	// HTTPClient sends every request. Nil means a client with the system
	// roots and a DefaultHTTPTimeout timeout.
	HTTPClient *http.Client
	// UserAgent goes in every request (RFC 8555, Section 6.1); empty means
	// DefaultUserAgent.
	UserAgent string
	// PollInterval is the wait between polls when the server sends no
	// Retry-After; zero means DefaultPollInterval.
	PollInterval time.Duration
	// PollTimeout bounds each wait for an authorization or an order; zero
	// means DefaultPollTimeout.
	PollTimeout time.Duration
	// MaxRetryAfter caps the waits a Retry-After asks for while polling;
	// zero means DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
}

// Client speaks ACME to one server with one account key. It is safe for
// concurrent use.
type Client struct {
	directoryURL string
	http         *http.Client
	userAgent    string
	pollInterval time.Duration
	pollTimeout  time.Duration
	maxRetry     time.Duration

	key        crypto.Signer
	alg        jose.SignatureAlgorithm
	signingKey any
	jwk        jose.JSONWebKey
	thumbprint string

	mu         sync.Mutex
	dir        *Directory
	accountURL string
	nonces     []string
}

// New returns a client of the server whose directory is at directoryURL,
// signing with key: ECDSA P-256, P-384 or P-521, RSA of 2048 bits or
// more, Ed25519, or another crypto.Signer that go-jose can drive. It makes
// no request; the directory is read on first use. It returns an error for
// an empty URL or an unsupported key.
func New(directoryURL string, key crypto.Signer, opts Options) (*Client, error) {
	if directoryURL == "" {
		return nil, errors.New("client: no directory URL")
	}
	alg, signingKey, err := signatureAlgorithm(key)
	if err != nil {
		return nil, err
	}
	c := &Client{
		directoryURL: directoryURL,
		http:         opts.HTTPClient,
		userAgent:    opts.UserAgent,
		pollInterval: orDefault(opts.PollInterval, DefaultPollInterval),
		pollTimeout:  orDefault(opts.PollTimeout, DefaultPollTimeout),
		maxRetry:     orDefault(opts.MaxRetryAfter, DefaultMaxRetryAfter),
		key:          key,
		alg:          alg,
		signingKey:   signingKey,
		jwk:          jose.JSONWebKey{Key: key.Public()},
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	tp, err := c.jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("client: computing the account key thumbprint: %w", err)
	}
	c.thumbprint = base64.RawURLEncoding.EncodeToString(tp)
	return c, nil
}

// orDefault returns v, or def when v is not positive.
func orDefault(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// AccountURL returns the account URL, empty before an account is known.
func (c *Client) AccountURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accountURL
}

// SetAccountURL sets the account URL (the kid of signed requests) of an
// account registered earlier, instead of calling [Client.Register].
func (c *Client) SetAccountURL(url string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.accountURL = url
}

// Directory returns the server's directory, fetched on the first call and
// kept after.
func (c *Client) Directory(ctx context.Context) (*Directory, error) {
	c.mu.Lock()
	dir := c.dir
	c.mu.Unlock()
	if dir != nil {
		return dir, nil
	}
	resp, err := c.send(ctx, http.MethodGet, c.directoryURL, nil)
	if err != nil {
		return nil, fmt.Errorf("client: fetching the directory: %w", err)
	}
	dir = new(Directory)
	if err := resp.decode(dir); err != nil {
		return nil, fmt.Errorf("client: decoding the directory: %w", err)
	}
	if dir.NewNonce == "" || dir.NewAccount == "" || dir.NewOrder == "" {
		return nil, errors.New("client: the directory lacks newNonce, newAccount or newOrder")
	}
	c.mu.Lock()
	c.dir = dir
	c.mu.Unlock()
	return dir, nil
}

// response is a read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the JSON body into v.
func (r *response) decode(v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("decoding a %d response: %w", r.status, err)
	}
	return nil
}

// send makes one request, keeps the nonce of the answer, and returns the
// answer of a 2xx status or a *ProblemError for any other.
func (c *Client) send(ctx context.Context, method, url string, body []byte) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("client: building %s %s: %w", method, url, err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/jose+json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, url, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("client: reading the answer to %s %s: %w", method, url, err)
	}
	if len(data) > maxBodyBytes {
		return nil, fmt.Errorf("client: the answer to %s %s exceeds %d bytes", method, url, maxBodyBytes)
	}
	c.keepNonce(res.Header.Get("Replay-Nonce"))
	r := &response{status: res.StatusCode, header: res.Header, body: data}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return r, nil
	}
	return nil, problemOf(r, time.Now())
}

// problemOf turns an error response into a *ProblemError. A body that is
// not a problem document keeps its status and an excerpt as the detail.
func problemOf(r *response, now time.Time) *ProblemError {
	pe := &ProblemError{}
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	if mt != "application/problem+json" || json.Unmarshal(r.body, pe) != nil {
		pe = &ProblemError{Detail: excerpt(string(r.body), 200)}
	}
	pe.Status = r.status
	pe.RetryAfter = retryAfter(r.header, now)
	return pe
}

// excerpt shortens s to at most n bytes for an error message.
func excerpt(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date
// (RFC 9110, Section 10.2.3); zero when absent, invalid or past.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 32); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// keepNonce stores a nonce for a later request. Values that cannot be
// nonces (RFC 8555, Section 6.5.1: base64url) are dropped.
func (c *Client) keepNonce(nonce string) {
	if nonce == "" || len(nonce) > maxNonceLen ||
		strings.IndexFunc(nonce, func(r rune) bool { return !isBase64URL(r) }) >= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.nonces) >= maxNonces {
		c.nonces = c.nonces[1:]
	}
	c.nonces = append(c.nonces, nonce)
}

func isBase64URL(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '-' || r == '_'
}

// nonce returns a kept nonce, or a new one from newNonce (RFC 8555,
// Section 7.2).
func (c *Client) nonce(ctx context.Context) (string, error) {
	// send keeps the nonce of every answer, the newNonce one included; a
	// concurrent request may take it first, hence the bounded loop.
	for range 3 {
		if nonce := c.popNonce(); nonce != "" {
			return nonce, nil
		}
		dir, err := c.Directory(ctx)
		if err != nil {
			return "", err
		}
		if _, err := c.send(ctx, http.MethodHead, dir.NewNonce, nil); err != nil {
			return "", fmt.Errorf("client: fetching a nonce: %w", err)
		}
	}
	return "", errors.New("client: newNonce answered without a usable Replay-Nonce header")
}

// popNonce takes the most recent kept nonce, or returns "".
func (c *Client) popNonce() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.nonces)
	if n == 0 {
		return ""
	}
	nonce := c.nonces[n-1]
	c.nonces = c.nonces[:n-1]
	return nonce
}

// post signs payload for url and sends it. A request refused with
// badNonce is signed again with a fresh nonce and sent once more (RFC 8555,
// Section 6.5). The JWS carries the account's kid unless byJWK is set.
func (c *Client) post(
	ctx context.Context,
	url string,
	payload []byte,
	byJWK bool,
) (*response, error) {
	kid := ""
	if !byJWK {
		if kid = c.AccountURL(); kid == "" {
			return nil, ErrNoAccount
		}
	}
	var err error
	for attempt := range 2 {
		var nonce string
		if nonce, err = c.nonce(ctx); err != nil {
			return nil, err
		}
		var body []byte
		if body, err = c.signRequest(url, nonce, kid, payload); err != nil {
			return nil, err
		}
		var resp *response
		resp, err = c.send(ctx, http.MethodPost, url, body)
		if err == nil {
			return resp, nil
		}
		if !IsProblem(err, ProblemBadNonce) || attempt == 1 {
			break
		}
	}
	return nil, err
}

// postJSON marshals v, posts it and decodes the answer into out when out
// is not nil. A nil v is a POST-as-GET (RFC 8555, Section 6.3).
func (c *Client) postJSON(ctx context.Context, url string, v, out any) (*response, error) {
	var payload []byte
	if v != nil {
		var err error
		if payload, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("client: encoding the payload for %s: %w", url, err)
		}
	}
	resp, err := c.post(ctx, url, payload, false)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := resp.decode(out); err != nil {
			return nil, fmt.Errorf("client: %s: %w", url, err)
		}
	}
	return resp, nil
}
