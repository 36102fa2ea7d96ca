package server

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/ocsp"
)

// maxOCSPRequest bounds the body of a POSTed OCSP request.
const maxOCSPRequest = 10 << 10

// ocspPost answers an OCSP request sent as the body of a POST
// (RFC 6960, Appendix A.1). It is a plain request: no JWS, no nonce.
func (s *Server) ocspPost(c echo.Context) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxOCSPRequest+1))
	if err != nil || len(body) > maxOCSPRequest {
		return writeOCSP(c, ocsp.MalformedRequestErrorResponse)
	}
	return s.answerOCSP(c, body)
}

// ocspGet answers an OCSP request sent base64-encoded, then URL-encoded,
// in the path: /ocsp/<request> (RFC 6960, Appendix A.1).
func (s *Server) ocspGet(c echo.Context) error {
	raw := c.Request().URL.EscapedPath()
	i := strings.Index(raw, "/ocsp/")
	if i < 0 {
		return writeOCSP(c, ocsp.MalformedRequestErrorResponse)
	}
	enc, err := url.PathUnescape(raw[i+len("/ocsp/"):])
	if err != nil || len(enc) > 2*maxOCSPRequest {
		return writeOCSP(c, ocsp.MalformedRequestErrorResponse)
	}
	der, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		// Some clients send the URL-safe alphabet or drop the padding.
		if der, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "=")); err != nil {
			return writeOCSP(c, ocsp.MalformedRequestErrorResponse)
		}
	}
	return s.answerOCSP(c, der)
}

func (s *Server) answerOCSP(c echo.Context, der []byte) error {
	resp, err := s.engine.OCSPResponse(c.Request().Context(), der)
	if err != nil {
		return err
	}
	return writeOCSP(c, resp)
}

// writeOCSP sends a DER OCSP response with its caching header; responses
// are valid for an hour.
func writeOCSP(c echo.Context, der []byte) error {
	c.Response().Header().Set("Cache-Control", fmt.Sprintf("max-age=%d", int(time.Hour.Seconds())))
	return c.Blob(http.StatusOK, "application/ocsp-response", der)
}
