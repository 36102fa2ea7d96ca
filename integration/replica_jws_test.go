package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/acme"
)

// jwsAccount is an ACME account that can sign its own requests, so that a
// test chooses each nonce and sends each request to one replica's own
// address while the JWS url names the external URL, as a balancer would
// deliver it. ACME is the same account driven through the balancer.
type jwsAccount struct {
	Key *ecdsa.PrivateKey
	// KID is the account URL.
	KID  string
	ACME *acme.Client
	http *http.Client
}

// rawResponse is what a replica answered to a signed request.
type rawResponse struct {
	Status int
	// Problem is the problem type without the URN prefix, when the
	// response is a problem document.
	Problem string
	Body    []byte
}

// newJWSAccount registers a fresh account through the balancer.
func (c *cluster) newJWSAccount(t *testing.T) *jwsAccount {
	t.Helper()
	key := newKey(t)
	client := &acme.Client{Key: key, DirectoryURL: c.DirectoryURL, HTTPClient: c.HTTPClient(),
		UserAgent: "acmegate-integration"}
	acct, err := client.Register(t.Context(), &acme.Account{}, acme.AcceptTOS)
	if err != nil {
		t.Fatalf("Register through the balancer: %v", err)
	}
	return &jwsAccount{Key: key, KID: acct.URI, ACME: client, http: c.HTTPClient()}
}

// nonce fetches a fresh nonce from the replica at addr.
func (a *jwsAccount) nonce(ctx context.Context, addr string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "https://"+addr+"/acme/new-nonce", nil)
	if err != nil {
		return "", err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("HEAD new-nonce at %s: %w", addr, err)
	}
	resp.Body.Close()
	n := resp.Header.Get("Replay-Nonce")
	if resp.StatusCode != http.StatusOK || n == "" {
		return "", fmt.Errorf("HEAD new-nonce at %s: got status %d and nonce %q, want 200 and a nonce",
			addr, resp.StatusCode, n)
	}
	return n, nil
}

// mustNonce is [jwsAccount.nonce] failing the test on error.
func (a *jwsAccount) mustNonce(t *testing.T, addr string) string {
	t.Helper()
	n, err := a.nonce(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// post signs payload (nil for POST-as-GET) with the account's kid, nonce
// and jwsURL in the protected header, and sends it to the replica at addr
// under jwsURL's path.
func (a *jwsAccount) post(
	ctx context.Context,
	addr, jwsURL, nonce string,
	payload []byte,
) (*rawResponse, error) {
	opts := (&jose.SignerOptions{}).WithHeader("kid", a.KID).WithHeader("nonce", nonce).
		WithHeader("url", jwsURL)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: a.Key}, opts)
	if err != nil {
		return nil, fmt.Errorf("creating signer: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	// The flattened JSON form, built from the compact one: go-jose
	// leaves out an empty payload, which POST-as-GET needs present.
	compact, err := obj.CompactSerialize()
	if err != nil {
		return nil, fmt.Errorf("serializing: %w", err)
	}
	parts := strings.Split(compact, ".")
	body, err := json.Marshal(map[string]string{
		"protected": parts[0], "payload": parts[1], "signature": parts[2]})
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(jwsURL)
	if err != nil {
		return nil, err
	}
	u.Host = addr
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/jose+json")
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST %s at %s: %w", u.Path, addr, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer to POST %s at %s: %w", u.Path, addr, err)
	}
	out := &rawResponse{Status: resp.StatusCode, Body: answer}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/problem+json" {
		var doc struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(answer, &doc); err != nil {
			return nil, fmt.Errorf("decoding problem document: %w", err)
		}
		out.Problem = strings.TrimPrefix(doc.Type, problemURN)
	}
	return out, nil
}

// mustPost is [jwsAccount.post] failing the test on a transport error.
func (a *jwsAccount) mustPost(t *testing.T, addr, jwsURL, nonce string, payload []byte) *rawResponse {
	t.Helper()
	resp, err := a.post(t.Context(), addr, jwsURL, nonce, payload)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// want fails the test unless r has the status and, when not empty, the
// problem type.
func (r *rawResponse) want(t *testing.T, what string, status int, problem string) {
	t.Helper()
	if r.Status != status || r.Problem != problem {
		t.Errorf("%s: got status %d problem %q (%.200s), want status %d problem %q",
			what, r.Status, r.Problem, r.Body, status, problem)
	}
}

// readyOrder orders names through the balancer, answers every http-01
// challenge on all replicas' responders, and returns the order once ready.
func (a *jwsAccount) readyOrder(t *testing.T, c *cluster, names ...string) *acme.Order {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	c.pointAt(names...)
	order, err := a.ACME.AuthorizeOrder(ctx, acme.DomainIDs(names...))
	if err != nil {
		t.Fatalf("AuthorizeOrder(%q): %v", names, err)
	}
	for _, u := range order.AuthzURLs {
		z, err := a.ACME.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatalf("GetAuthorization: %v", err)
		}
		chal := findChallenge(t, z, challHTTP01)
		keyAuth, err := a.ACME.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			t.Fatalf("key authorization: %v", err)
		}
		for _, g := range c.Replicas {
			g.HTTP01.Set(chal.Token, keyAuth)
		}
		if _, err := a.ACME.Accept(ctx, chal); err != nil {
			t.Fatalf("Accept: %v", err)
		}
		if _, err := a.ACME.WaitAuthorization(ctx, z.URI); err != nil {
			t.Fatalf("WaitAuthorization: %v", err)
		}
	}
	order, err = a.ACME.WaitOrder(ctx, order.URI)
	if err != nil {
		t.Fatalf("WaitOrder until ready: %v", err)
	}
	if order.Status != acme.StatusReady {
		t.Fatalf("order status: got %q, want %q", order.Status, acme.StatusReady)
	}
	return order
}

// finalizePayload is the finalize request body for a DER CSR.
func finalizePayload(csr []byte) []byte {
	return fmt.Appendf(nil, `{"csr":%q}`, base64.RawURLEncoding.EncodeToString(csr))
}

// orderID is the last path segment of an order URL.
func orderID(orderURL string) string { return path.Base(orderURL) }
