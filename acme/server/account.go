package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/acmegate/acmegate/acme/jws"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/acme/state"
)

// newAccount creates or finds the account of the signing key (RFC 8555,
// Section 7.3).
func (s *Server) newAccount(c echo.Context) error {
	v, err := s.verifyPOST(c, byJWK)
	if err != nil {
		return err
	}
	var p newAccountPayload
	if err := decode(v.payload, &p); err != nil {
		return err
	}
	acct, created, err := s.engine.NewAccount(c.Request().Context(), v.jwk, state.NewAccountRequest{
		Contact:                p.Contact,
		TermsOfServiceAgreed:   p.TermsOfServiceAgreed,
		OnlyReturnExisting:     p.OnlyReturnExisting,
		ExternalAccountBinding: p.ExternalAccountBinding,
		URL:                    v.url,
	})
	if err != nil {
		return err
	}
	c.Set(ctxAccount, acct)
	c.Response().Header().Set("Location", s.url("acct", acct.ID))
	status := http.StatusOK
	body := s.accountJSON(acct)
	if created {
		status = http.StatusCreated
		body.ExternalAccountBinding = p.ExternalAccountBinding
	}
	return writeJSON(c, status, body)
}

// account fetches, updates or deactivates the signer's own account
// (RFC 8555, Sections 7.3.2 and 7.3.6).
func (s *Server) account(c echo.Context) error {
	v, err := s.verifyPOST(c, byKID)
	if err != nil {
		return err
	}
	if v.account.ID != c.Param("id") {
		return problem.New(problem.Unauthorized, "the kid does not match the account URL")
	}
	acct := v.account
	if !v.postAsGET() {
		var p updateAccountPayload
		if err := decode(v.payload, &p); err != nil {
			return err
		}
		acct, err = s.engine.UpdateAccount(c.Request().Context(), acct, state.UpdateAccountRequest{
			Contact: p.Contact, Status: p.Status,
		})
		if err != nil {
			return err
		}
	}
	c.Response().Header().Set("Location", s.url("acct", acct.ID))
	return writeJSON(c, http.StatusOK, s.accountJSON(acct))
}

// accountOrders lists the account's orders, a page at a time with a
// Link rel=next (RFC 8555, Section 7.1.2.1).
func (s *Server) accountOrders(c echo.Context) error {
	v, err := s.verifyPOST(c, byKID)
	if err != nil {
		return err
	}
	if err := requireEmpty(v); err != nil {
		return err
	}
	if v.account.ID != c.Param("id") {
		return problem.New(problem.Unauthorized, "the orders list belongs to another account")
	}
	ids, next, err := s.engine.Orders(c.Request().Context(), v.account, c.QueryParam("cursor"),
		s.opts.OrdersPageSize)
	if err != nil {
		return err
	}
	out := ordersListJSON{Orders: make([]string, 0, len(ids))}
	for _, id := range ids {
		out.Orders = append(out.Orders, s.url("order", id))
	}
	if next != "" {
		c.Response().Header().Add("Link",
			link(s.url("acct", v.account.ID, "orders")+"?cursor="+next, "next"))
	}
	return writeJSON(c, http.StatusOK, out)
}

// keyChange rolls the account over to a new key (RFC 8555, Section 7.3.5).
func (s *Server) keyChange(c echo.Context) error {
	v, err := s.verifyPOST(c, byKID)
	if err != nil {
		return err
	}
	newKey, err := jws.VerifyKeyChange(v.payload, v.url, s.url("acct", v.account.ID), v.account.Key)
	if err != nil {
		return err
	}
	err = s.engine.ChangeKey(c.Request().Context(), v.account, newKey)
	if pe, ok := err.(*problem.Error); ok && pe.Type == problem.Conflict && pe.Location != "" {
		pe.Location = s.url("acct", pe.Location)
	}
	if err != nil {
		return err
	}
	acct, err := s.engine.Account(c.Request().Context(), v.account.ID)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, s.accountJSON(acct))
}
