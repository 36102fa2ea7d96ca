package server

import (
	"encoding/base64"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/acme/state"
)

// newOrder creates an order (RFC 8555, Section 7.4).
func (s *Server) newOrder(c echo.Context) error {
	v, err := s.verifyPOST(c, byKID)
	if err != nil {
		return err
	}
	var p newOrderPayload
	if err := decode(v.payload, &p); err != nil {
		return err
	}
	req := state.NewOrderRequest{Profile: p.Profile, Replaces: p.Replaces}
	for _, id := range p.Identifiers {
		req.Identifiers = append(req.Identifiers, state.Identifier(id))
	}
	if req.NotBefore, err = optionalTime("notBefore", p.NotBefore); err != nil {
		return err
	}
	if req.NotAfter, err = optionalTime("notAfter", p.NotAfter); err != nil {
		return err
	}
	order, err := s.engine.NewOrder(c.Request().Context(), v.account, req)
	if err != nil {
		return err
	}
	c.Set(ctxOrderID, order.ID)
	c.Response().Header().Set("Location", s.url("order", order.ID))
	return writeJSON(c, http.StatusCreated, s.orderJSON(order))
}

func optionalTime(field, value string) (*time.Time, error) {
	if value == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return nil, problem.New(problem.Malformed, "%s must be an RFC 3339 timestamp", field)
	}
	return &t, nil
}

// order fetches an order with POST-as-GET.
func (s *Server) order(c echo.Context) error {
	v, err := s.verifyPOST(c, byKID)
	if err != nil {
		return err
	}
	if err := requireEmpty(v); err != nil {
		return err
	}
	c.Set(ctxOrderID, c.Param("id"))
	order, err := s.engine.Order(c.Request().Context(), v.account, c.Param("id"))
	if err != nil {
		return err
	}
	return s.writeOrder(c, order)
}

// writeOrder sends an order; a processing order tells the client when to
// poll again (RFC 8555, Section 7.4).
func (s *Server) writeOrder(c echo.Context, order *state.Order) error {
	if order.Status == state.StatusProcessing {
		c.Response().Header().Set("Retry-After", "1")
	}
	c.Response().Header().Set("Location", s.url("order", order.ID))
	return writeJSON(c, http.StatusOK, s.orderJSON(order))
}

// finalize submits the CSR of a ready order (RFC 8555, Section 7.4). The
// response carries the order's URL in Location, which some clients poll.
func (s *Server) finalize(c echo.Context) error {
	v, err := s.verifyPOST(c, byKID)
	if err != nil {
		return err
	}
	c.Set(ctxOrderID, c.Param("id"))
	var p finalizePayload
	if err := decode(v.payload, &p); err != nil {
		return err
	}
	der, err := base64.RawURLEncoding.DecodeString(p.CSR)
	if err != nil || len(der) == 0 {
		return problem.New(problem.BadCSR, "csr must be the base64url DER of a PKCS#10 request")
	}
	order, err := s.engine.Finalize(c.Request().Context(), v.account, c.Param("id"), der)
	if err != nil {
		return err
	}
	return s.writeOrder(c, order)
}

// authorization fetches an authorization, or deactivates it when asked
// (RFC 8555, Sections 7.5 and 7.5.2).
func (s *Server) authorization(c echo.Context) error {
	v, err := s.verifyPOST(c, byKID)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var authz *state.Authorization
	if v.postAsGET() {
		authz, err = s.engine.Authorization(ctx, v.account, c.Param("id"))
	} else {
		var p authzUpdatePayload
		if err := decode(v.payload, &p); err != nil {
			return err
		}
		if p.Status != state.StatusDeactivated {
			return problem.New(problem.Malformed, "an authorization may only be updated to deactivated")
		}
		authz, err = s.engine.DeactivateAuthorization(ctx, v.account, c.Param("id"))
	}
	if err != nil {
		return err
	}
	for _, ch := range authz.Challenges {
		if ch.Status == state.StatusProcessing {
			c.Response().Header().Set("Retry-After", "1")
		}
	}
	return writeJSON(c, http.StatusOK, s.authzJSON(authz))
}

// challenge fetches a challenge (POST-as-GET) or asks the server to
// validate it (any JSON object, usually {}) (RFC 8555, Section 7.5.1).
func (s *Server) challenge(c echo.Context) error {
	v, err := s.verifyPOST(c, byKID)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var chal *state.Challenge
	var authzID string
	if v.postAsGET() {
		chal, authzID, err = s.engine.GetChallenge(ctx, v.account, c.Param("id"))
	} else {
		var p map[string]any
		if err := decode(v.payload, &p); err != nil {
			return err
		}
		chal, authzID, err = s.engine.RespondChallenge(ctx, v.account, c.Param("id"), v.payload)
	}
	if err != nil {
		return err
	}
	c.Response().Header().Add("Link", link(s.url("authz", authzID), "up"))
	if chal.Status == state.StatusProcessing {
		c.Response().Header().Set("Retry-After", "1")
	}
	return writeJSON(c, http.StatusOK, s.challengeJSON(chal))
}
