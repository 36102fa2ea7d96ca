package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acmegate/acmegate/acme/nonce"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

// Prefix is the default path under which the ACME resources live.
const Prefix = "/acme"

// Meta is the directory's meta object (RFC 8555, Section 7.1.1).
type Meta struct {
	TermsOfService          string
	Website                 string
	CAAIdentities           []string
	ExternalAccountRequired bool
	// Profiles maps profile names to descriptions (ACME profiles
	// extension).
	Profiles map[string]string
	// IssuerDomainNames and AccountHashPrefix are advertised when
	// dns-persist-01 is offered; the issuer domain names are also put in
	// every dns-persist-01 challenge (draft-ietf-acme-dns-persist-02,
	// Sections 3.1, 3.2 and 4.1).
	IssuerDomainNames []string
	AccountHashPrefix string
}

// Options configure [New].
type Options struct {
	// ExternalURL is the base URL clients reach the gateway at, such as
	// "https://acme.example.internal"; every URL handed out starts with it.
	ExternalURL string
	Engine      *state.Engine
	Nonces      *nonce.Service
	Logger      *slog.Logger
	Meta        Meta
	// MaxBodyBytes bounds request bodies, checked before any parsing;
	// default 64 KiB.
	MaxBodyBytes int64
	// OrdersPageSize is the number of orders per page of an account's
	// orders list; default 100.
	OrdersPageSize int
	// IntermediatePEM and RootPEM are served for download and linked from
	// certificates.
	IntermediatePEM []byte
	RootPEM         []byte
	// Metrics registers the front end's Prometheus series; nil means a
	// private registry nobody scrapes.
	Metrics prometheus.Registerer
	// AlternateChains maps an issuer's hex key ID to further chains (PEM,
	// without the leaf) for its certificates, such as a cross-signed
	// intermediate; they are offered as alternates (RFC 8555,
	// Section 7.4.2). Check them with [CheckAlternateChain].
	AlternateChains map[string][][]byte
	// Prefix is the path of this directory's resources, "/acme" by default;
	// a second directory (such as "/staging") gets its own Server.
	Prefix string
	// NonceRejectRate is the share (0 to 1) of valid nonces refused with
	// badNonce, for client-honesty mode (RFC 8555, Section 6.5 lets a
	// server refuse any nonce; clients must retry).
	NonceRejectRate float64
	// IPRateLimit limits requests per client IP address (the TCP peer),
	// on every route; AccountRateLimit limits requests per account, once
	// the request's signature has been verified. The zero value turns a
	// limit off. Limits are kept in memory, per replica.
	IPRateLimit      RateLimit
	AccountRateLimit RateLimit
	// Now is the time source of the rate limits; nil means time.Now.
	Now func() time.Time
}

// Server is the ACME HTTP front end.
type Server struct {
	opts    Options
	base    string
	engine  *state.Engine
	nonces  *nonce.Service
	log     *slog.Logger
	echo    *echo.Echo
	metrics *metrics
	// ipLimiter and accountLimiter are nil when their limit is off.
	ipLimiter      *limiter
	accountLimiter *limiter
}

// New builds the server and its routes.
func New(opts Options) (*Server, error) {
	if opts.Engine == nil || opts.Nonces == nil {
		return nil, errors.New("server: an engine and a nonce service are required")
	}
	base := strings.TrimSuffix(opts.ExternalURL, "/")
	if !strings.HasPrefix(base, "https://") && !strings.HasPrefix(base, "http://") {
		return nil, fmt.Errorf("server: external URL %q must start with https://", opts.ExternalURL)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	if opts.Prefix == "" {
		opts.Prefix = Prefix
	}
	if opts.OrdersPageSize <= 0 {
		opts.OrdersPageSize = 100
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:   opts,
		base:   base,
		engine: opts.Engine,
		nonces: opts.Nonces,
		log:    opts.Logger.With("component", "acme"),
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s.ipLimiter = newLimiter(opts.IPRateLimit, opts.Now)
	s.accountLimiter = newLimiter(opts.AccountRateLimit, opts.Now)
	s.metrics = newMetrics(opts.Metrics)
	s.echo = s.routes()
	return s, nil
}

// Handler returns the HTTP handler of the ACME front end.
func (s *Server) Handler() http.Handler { return s.echo }

// DirectoryURL is the URL of the ACME directory.
func (s *Server) DirectoryURL() string { return s.url("directory") }

func (s *Server) url(parts ...string) string {
	return s.base + s.opts.Prefix + "/" + strings.Join(parts, "/")
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	// The per-IP limit runs after commonHeaders, so a refusal still
	// carries a fresh nonce.
	e.Use(s.requestEvent, s.recoverPanic, s.commonHeaders, s.limitByIP)

	g := e.Group(s.opts.Prefix)
	g.GET("/directory", s.directory)
	g.HEAD("/new-nonce", s.newNonce)
	g.GET("/new-nonce", s.newNonce)
	g.POST("/new-account", s.newAccount)
	g.POST("/new-order", s.newOrder)
	g.POST("/revoke-cert", s.revokeCert)
	g.POST("/key-change", s.keyChange)
	g.POST("/acct/:id", s.account)
	g.POST("/acct/:id/orders", s.accountOrders)
	g.POST("/order/:id", s.order)
	g.POST("/order/:id/finalize", s.finalize)
	g.POST("/authz/:id", s.authorization)
	g.POST("/chall/:id", s.challenge)
	g.POST("/cert/:serial", s.certificate)
	g.POST("/cert/:serial/:alt", s.certificate)
	g.GET("/renewal-info/:id", s.renewalInfo)
	g.GET("/intermediate.pem", s.pemFile(s.opts.IntermediatePEM))
	g.GET("/intermediate/:keyid", s.intermediate)
	g.GET("/root.pem", s.pemFile(s.opts.RootPEM))
	g.GET("/crl", s.crl)
	g.GET("/crl/:keyid", s.issuerCRL)
	g.POST("/ocsp", s.ocspPost)
	g.GET("/ocsp/*", s.ocspGet)

	// RFC 8555, Section 6.3: resources other than the directory and
	// new-nonce are fetched with POST-as-GET; a plain GET is refused.
	for _, p := range []string{"/new-account", "/new-order", "/revoke-cert", "/key-change",
		"/acct/:id", "/acct/:id/orders", "/order/:id", "/order/:id/finalize", "/authz/:id",
		"/chall/:id", "/cert/:serial"} {
		g.GET(p, s.methodNotAllowed)
	}
	return e
}

func (s *Server) methodNotAllowed(c echo.Context) error {
	c.Response().Header().Set("Allow", "POST")
	return problem.New(problem.MethodNotAllowed,
		"use POST-as-GET for this resource (RFC 8555, Section 6.3)")
}

// ctxKey names values stored in the echo context.
const (
	ctxAccount = "acmegate.account"
	ctxOrderID = "acmegate.order"
	ctxReqID   = "acmegate.request_id"
)

// commonHeaders adds a fresh nonce and the index link to every response,
// errors included (RFC 8555, Sections 6.5 and 7.1).
func (s *Server) commonHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		if n, err := s.nonces.Nonce(); err == nil {
			h.Set("Replay-Nonce", n)
		}
		h.Add("Link", link(s.DirectoryURL(), "index"))
		return next(c)
	}
}

func link(url, rel string) string {
	return fmt.Sprintf("<%s>;rel=%q", url, rel)
}

// recoverPanic turns a handler panic into a serverInternal answer; the
// process stays up (SECURITY-CATALOGUE A13).
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("server: panic in handler: %v", r)
			}
		}()
		return next(c)
	}
}

// requestEvent logs one event per request when it ends.
func (s *Server) requestEvent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := newRequestID()
		c.Set(ctxReqID, id)
		c.Response().Header().Set("X-Request-Id", id)
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		attrs := []any{
			"request_id", id, "method", c.Request().Method, "route", c.Path(),
			"status", c.Response().Status, "latency", time.Since(start),
			"remote_ip", c.RealIP(),
		}
		if acct, ok := c.Get(ctxAccount).(*state.Account); ok {
			attrs = append(attrs, "account_id", acct.ID)
		}
		if oid, ok := c.Get(ctxOrderID).(string); ok {
			attrs = append(attrs, "order_id", oid)
		}
		if err != nil {
			attrs = append(attrs, "problem", string(problem.From(err).Type))
		}
		s.metrics.observe(c, time.Since(start))
		level := slog.LevelInfo
		if c.Response().Status >= 500 {
			level = slog.LevelError
		}
		s.log.Log(context.Background(), level, "request", attrs...)
		return nil
	}
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// handleError writes err as a problem document. Errors that are not
// problems become serverInternal with a generic detail; the cause is
// logged with the request ID.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	pe := s.toProblem(err, c)
	doc := pe.ToDocument()
	h := c.Response().Header()
	if pe.RetryAfter > 0 {
		h.Set("Retry-After", fmt.Sprint(pe.RetryAfter))
	}
	if pe.Location != "" {
		h.Set("Location", pe.Location)
	}
	h.Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(doc.Status)
	if c.Request().Method == http.MethodHead {
		return
	}
	_ = jsonEncode(c.Response(), doc)
}

func (s *Server) toProblem(err error, c echo.Context) *problem.Error {
	var pe *problem.Error
	if errors.As(err, &pe) {
		return pe
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return problem.New(problem.NotFound, "no such resource")
		case http.StatusMethodNotAllowed:
			return problem.New(problem.MethodNotAllowed, "method not allowed on this resource")
		case http.StatusRequestEntityTooLarge:
			return problem.New(problem.PayloadTooLarge, "the request body is too large")
		}
		if he.Code < 500 {
			return problem.New(problem.Malformed, "%v", he.Message)
		}
	}
	reqID, _ := c.Get(ctxReqID).(string)
	s.log.Error("request failed", "request_id", reqID, "route", c.Path(), "error", err)
	if store.IsUnavailable(err) {
		// The database is down, unreachable or locked: the request may
		// succeed later, so say when to retry (SECURITY-CATALOGUE J6).
		return &problem.Error{Type: problem.Unavailable, RetryAfter: unavailableRetryAfter,
			Detail: "the database is unavailable; retry later"}
	}
	return problem.From(err)
}

// unavailableRetryAfter is the Retry-After, in seconds, of answers to
// requests that failed because the database was unavailable.
const unavailableRetryAfter = 5
