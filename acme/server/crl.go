package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// crl serves the active issuer's CRL as DER (RFC 5280, Section 5), the URL
// that a profile's CRL distribution point names.
func (s *Server) crl(c echo.Context) error {
	der, generated, err := s.engine.CRL(c.Request().Context())
	if err != nil {
		return err
	}
	return writeCRL(c, der, generated)
}

// issuerCRL serves the CRL of one configured issuer, active or not, named
// by its key ID in hex: /crl/<key ID>. Certificates of an intermediate
// that was rotated out stay revocable, and their revocations are
// published here until they expire.
func (s *Server) issuerCRL(c echo.Context) error {
	der, generated, err := s.engine.IssuerCRL(c.Request().Context(), c.Param("keyid"))
	if err != nil {
		return err
	}
	return writeCRL(c, der, generated)
}

// writeCRL sends a DER CRL with its caching headers.
func writeCRL(c echo.Context, der []byte, generated time.Time) error {
	h := c.Response().Header()
	h.Set("Last-Modified", generated.UTC().Format(http.TimeFormat))
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int((5*time.Minute).Seconds())))
	return c.Blob(http.StatusOK, "application/pkix-crl", der)
}

// CRLHandler serves only the CRLs and the OCSP responder, for a plain-HTTP
// listener: CRL distribution points and OCSP responders are fetched over
// http by most relying parties.
func (s *Server) CRLHandler() http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.HTTPErrorHandler = s.handleError
	e.GET(s.opts.Prefix+"/crl", s.crl)
	e.GET(s.opts.Prefix+"/crl/:keyid", s.issuerCRL)
	e.POST(s.opts.Prefix+"/ocsp", s.ocspPost)
	e.GET(s.opts.Prefix+"/ocsp/*", s.ocspGet)
	return e
}
