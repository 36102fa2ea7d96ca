package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// crl serves the issuer's CRL as DER (RFC 5280, Section 5), the URL that a
// profile's CRL distribution point names.
func (s *Server) crl(c echo.Context) error {
	der, generated, err := s.engine.CRL(c.Request().Context())
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Last-Modified", generated.UTC().Format(http.TimeFormat))
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int((5*time.Minute).Seconds())))
	return c.Blob(http.StatusOK, "application/pkix-crl", der)
}

// CRLHandler serves only the CRL, for a plain-HTTP listener: CRL
// distribution points are fetched over http by most relying parties.
func (s *Server) CRLHandler() http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.HTTPErrorHandler = s.handleError
	e.GET(s.opts.Prefix+"/crl", s.crl)
	return e
}
