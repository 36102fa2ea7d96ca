package server

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/acme/state"
)

// certificate downloads an issued certificate with its chain as
// application/pem-certificate-chain (RFC 8555, Section 7.4.2). The default
// chain is that of the certificate's issuer; each configured alternate
// chain (a cross-signed intermediate) is offered with a Link
// rel="alternate" to /cert/<serial>/<n>.
func (s *Server) certificate(c echo.Context) error {
	v, err := s.verifyPOST(c, byKID)
	if err != nil {
		return err
	}
	if err := requireEmpty(v); err != nil {
		return err
	}
	cert, err := s.engine.Certificate(c.Request().Context(), v.account, c.Param("serial"))
	if err != nil {
		return err
	}
	// The chain is that of the certificate's own issuer, which after a
	// rotation need not be the one signing today.
	issuer, ok := s.engine.Issuers().ByKeyID(cert.IssuerKeyID)
	if !ok {
		return fmt.Errorf("server: issuer %s of certificate %s is not configured",
			cert.IssuerKeyID, cert.Serial)
	}
	chain := issuer.ChainPEM()
	alternates := s.opts.AlternateChains[cert.IssuerKeyID]
	if alt := c.Param("alt"); alt != "" {
		n, err := strconv.Atoi(alt)
		if err != nil || n < 1 || n > len(alternates) {
			return problem.New(problem.NotFound, "no such alternate chain")
		}
		chain = alternates[n-1]
	}
	for i := range alternates {
		c.Response().Header().Add("Link",
			link(s.url("cert", cert.Serial, strconv.Itoa(i+1)), "alternate"))
	}
	var buf bytes.Buffer
	if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: cert.DER}); err != nil {
		return fmt.Errorf("server: encoding certificate: %w", err)
	}
	buf.Write(chain)
	// No Link rel="up": the body already holds the whole chain, and
	// clients such as acmez follow "up" with POST-as-GET and would append
	// the intermediate a second time (RFC 8555, Section 7.4.2 meant it for
	// formats that carry one certificate). The intermediate stays
	// downloadable with a plain GET for operators.
	return c.Blob(http.StatusOK, "application/pem-certificate-chain", buf.Bytes())
}

// revokeCert revokes a certificate (RFC 8555, Section 7.6), signed either by
// an account (kid) or by the certificate's own key (jwk).
func (s *Server) revokeCert(c echo.Context) error {
	v, err := s.verifyPOST(c, byEither)
	if err != nil {
		return err
	}
	var p revokePayload
	if err := decode(v.payload, &p); err != nil {
		return err
	}
	der, err := base64.RawURLEncoding.DecodeString(p.Certificate)
	if err != nil || len(der) == 0 {
		return problem.New(problem.Malformed, "certificate must be the base64url DER of a certificate")
	}
	reason := 0
	if p.Reason != nil {
		reason = *p.Reason
	}
	err = s.engine.Revoke(c.Request().Context(), state.RevokeRequest{
		CertificateDER: der, Reason: reason, Account: v.account, Key: v.jwk,
	})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

// renewalInfo serves the suggested renewal window of a certificate
// (RFC 9773, Section 4.2); it is a plain GET.
func (s *Server) renewalInfo(c echo.Context) error {
	info, err := s.engine.RenewalInfo(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	var out renewalInfoJSON
	out.SuggestedWindow.Start = rfc3339(info.Start)
	out.SuggestedWindow.End = rfc3339(info.End)
	out.ExplanationURL = info.ExplanationURL
	c.Response().Header().Set("Retry-After", fmt.Sprint(int(info.RetryAfter.Seconds())))
	return writeJSON(c, http.StatusOK, out)
}

// intermediate serves the certificate of any configured issuer by its hex
// key ID (intermediate.pem is the active one's), for operators and
// clients that fetch the intermediate of a certificate issued before a
// rotation.
func (s *Server) intermediate(c echo.Context) error {
	issuer, ok := s.engine.Issuers().ByKeyID(c.Param("keyid"))
	if !ok {
		return problem.New(problem.NotFound, "no intermediate with that key ID is configured")
	}
	return c.Blob(http.StatusOK, "application/x-pem-file", issuer.ChainPEM())
}
