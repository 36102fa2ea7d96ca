package server

import (
	"io"
	"mime"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"

	"github.com/acmegate/acmegate/acme/jws"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/acme/state"
)

// keyRule says how the signer of a POST is identified (RFC 8555,
// Section 6.2).
type keyRule int

const (
	// byKID requires a kid naming an existing, valid account.
	byKID keyRule = iota
	// byJWK requires an embedded jwk (newAccount).
	byJWK
	// byEither accepts kid or jwk (revokeCert).
	byEither
)

// verified is a POST whose signature, URL and nonce have been checked.
type verified struct {
	payload []byte
	url     string
	// account is set when the request was signed with an account key.
	account *state.Account
	// jwk is set when the request carried an embedded key.
	jwk *jose.JSONWebKey
}

// postAsGET reports whether the request is a POST-as-GET (RFC 8555,
// Section 6.3): an empty payload.
func (v *verified) postAsGET() bool { return len(v.payload) == 0 }

// verifyPOST runs the checks every ACME POST must pass, in this order:
// framing (content type, size), JWS structure, url header, signer key,
// signature, and only then the nonce, so a forged request cannot burn a
// valid nonce (SECURITY-CATALOGUE B3).
func (s *Server) verifyPOST(c echo.Context, rule keyRule) (*verified, error) {
	req := c.Request()

	// 1. Framing.
	if req.Header.Get("Replay-Nonce") != "" {
		return nil, problem.New(problem.Malformed,
			"the nonce belongs in the JWS protected header, not in a request header")
	}
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != "application/jose+json" {
		return nil, problem.New(problem.UnsupportedMediaType,
			"the Content-Type must be application/jose+json (RFC 8555, Section 6.2)")
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, s.opts.MaxBodyBytes+1))
	if err != nil {
		return nil, problem.New(problem.Malformed, "the request body could not be read")
	}
	if int64(len(body)) > s.opts.MaxBodyBytes {
		return nil, problem.New(problem.PayloadTooLarge, "the request body exceeds %d bytes",
			s.opts.MaxBodyBytes)
	}

	// 2. Structure and url (RFC 8555, Section 6.4): the signed URL must be
	// exactly the one requested, under our external base URL.
	parsed, err := jws.Parse(body)
	if err != nil {
		return nil, err
	}
	want := s.base + req.URL.RequestURI()
	if parsed.Protected.URL != want {
		return nil, problem.New(problem.Malformed, "the JWS url header %q does not match the request URL %q",
			truncate(parsed.Protected.URL, 200), want)
	}

	// 3. The signer's key.
	v := &verified{url: want}
	key, err := s.signerKey(c, parsed.Protected, rule, v)
	if err != nil {
		return nil, err
	}

	// 4. Signature, then the account's rate limit, then the nonce. The
	// limit waits for the signature so that forged requests naming an
	// account cannot spend its budget, and comes before the nonce so that
	// a refused request does not burn it.
	payload, err := parsed.Verify(key)
	if err != nil {
		return nil, err
	}
	if v.account != nil {
		if err := s.accountLimiter.check(v.account.ID, "account"); err != nil {
			return nil, err
		}
	}
	if err := s.nonces.Redeem(req.Context(), parsed.Protected.Nonce); err != nil {
		return nil, err
	}
	if state.Chance(s.opts.NonceRejectRate) {
		return nil, problem.New(problem.BadNonce,
			"the nonce was refused (this directory refuses some valid nonces on purpose)")
	}
	v.payload = payload
	return v, nil
}

func (s *Server) signerKey(c echo.Context, h jws.Header, rule keyRule, v *verified) (*jose.JSONWebKey, error) {
	switch {
	case h.JWK != nil && rule == byKID:
		return nil, problem.New(problem.Malformed,
			"this resource requires a kid naming your account, not an embedded jwk")
	case h.KeyID != "" && rule == byJWK:
		return nil, problem.New(problem.Malformed,
			"this resource requires an embedded jwk, not a kid")
	case h.JWK != nil:
		if err := jws.CheckKey(h.JWK); err != nil {
			return nil, err
		}
		v.jwk = h.JWK
		return h.JWK, nil
	}
	acctID, ok := strings.CutPrefix(h.KeyID, s.url("acct")+"/")
	if !ok || acctID == "" || strings.Contains(acctID, "/") {
		return nil, problem.New(problem.Malformed, "the kid %q is not an account URL of this server",
			truncate(h.KeyID, 200))
	}
	acct, err := s.engine.Account(c.Request().Context(), acctID)
	if err != nil {
		return nil, err
	}
	v.account = acct
	c.Set(ctxAccount, acct)
	return acct.Key, nil
}

// decode decodes a JSON payload strictly into dst.
func decode(payload []byte, dst any) error {
	if len(payload) == 0 {
		return problem.New(problem.Malformed, "the request has an empty payload where JSON is required")
	}
	return jws.DecodePayload(payload, dst)
}

// requireEmpty refuses a POST-as-GET that carries a payload (RFC 8555,
// Section 6.3).
func requireEmpty(v *verified) error {
	if !v.postAsGET() {
		return problem.New(problem.Malformed, "POST-as-GET requests must have an empty payload")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
