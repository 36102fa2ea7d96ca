package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// directory serves the directory object (RFC 8555, Section 7.1.1).
func (s *Server) directory(c echo.Context) error {
	d := directoryJSON{
		NewNonce:    s.url("new-nonce"),
		NewAccount:  s.url("new-account"),
		NewOrder:    s.url("new-order"),
		RevokeCert:  s.url("revoke-cert"),
		KeyChange:   s.url("key-change"),
		RenewalInfo: s.url("renewal-info"),
	}
	m := s.opts.Meta
	if m.TermsOfService != "" || m.Website != "" || len(m.CAAIdentities) > 0 ||
		m.ExternalAccountRequired || len(m.Profiles) > 0 || len(m.IssuerDomainNames) > 0 {
		d.Meta = &directoryMeta{
			TermsOfService:          m.TermsOfService,
			Website:                 m.Website,
			CAAIdentities:           m.CAAIdentities,
			ExternalAccountRequired: m.ExternalAccountRequired,
			Profiles:                m.Profiles,
			AccountHashPrefix:       m.AccountHashPrefix,
			IssuerDomainNames:       m.IssuerDomainNames,
		}
	}
	return writeJSON(c, http.StatusOK, d)
}

// newNonce answers HEAD with 200 and GET with 204; the nonce itself is in
// the Replay-Nonce header every response carries (RFC 8555, Section 7.2).
func (s *Server) newNonce(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if c.Request().Method == http.MethodHead {
		return c.NoContent(http.StatusOK)
	}
	return c.NoContent(http.StatusNoContent)
}
