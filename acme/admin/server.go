package admin

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/acmegate/acmegate/store"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }

// Revoker revokes certificates on an operator's authority and writes the
// audit event naming actor; *state.Engine implements it.
type Revoker interface {
	RevokeByOperator(ctx context.Context, serial string, reason int, actor, comment string) error
}

// Options are the dependencies of [New].
type Options struct {
	// Store is required.
	Store *store.Store
	// Revoker is required: revocations go through it.
	Revoker Revoker
	// Intermediate and Root are the gateway's issuing CA and trust anchor.
	// Client certificates must be issued by Intermediate, which Root
	// signed. Required when ClientNames is not empty.
	Intermediate *x509.Certificate
	Root         *x509.Certificate
	// ClientNames are the client certificate names accepted as operators,
	// compared without regard to case with the subject common name and
	// each DNS, email, IP and URI subject alternative name. Empty: client
	// certificates are refused and only tokens authenticate. Anyone who
	// can get a certificate for one of the names from the intermediate is
	// an operator, so the issuance policy must keep them to operators.
	ClientNames []string
	// Directories are the ACME directories EAB keys may bind accounts of;
	// default ["acme"].
	Directories []string
	// Metrics, when set, is served at /metrics to operators.
	Metrics prometheus.Gatherer
	// Pprof serves Go's profiling endpoints under /debug/pprof/ to
	// operators.
	Pprof bool
	// Clock defaults to the system clock; Rand (for EAB keys) to
	// crypto/rand.
	Clock  Clock
	Rand   io.Reader
	Logger *slog.Logger
}

// Server is the admin API. It is safe for concurrent use.
type Server struct {
	store         *store.Store
	revoker       Revoker
	intermediate  *x509.Certificate
	roots         *x509.CertPool
	intermediates *x509.CertPool
	clientNames   map[string]bool
	directories   map[string]bool
	clock         Clock
	rand          io.Reader
	log           *slog.Logger
	handler       http.Handler
}

// New checks opts and builds the routes.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Revoker == nil {
		return nil, errors.New("admin: a store and a revoker are required")
	}
	if len(opts.ClientNames) > 0 && (opts.Intermediate == nil || opts.Root == nil) {
		return nil, errors.New("admin: client names need the intermediate and root certificates")
	}
	s := &Server{store: opts.Store, revoker: opts.Revoker, intermediate: opts.Intermediate,
		clientNames: map[string]bool{}, directories: map[string]bool{},
		clock: opts.Clock, rand: opts.Rand, log: opts.Logger}
	if s.clock == nil {
		s.clock = systemClock{}
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "admin")
	if opts.Intermediate != nil && opts.Root != nil {
		s.roots, s.intermediates = x509.NewCertPool(), x509.NewCertPool()
		s.roots.AddCert(opts.Root)
		s.intermediates.AddCert(opts.Intermediate)
	}
	for _, n := range opts.ClientNames {
		s.clientNames[strings.ToLower(n)] = true
	}
	if len(opts.Directories) == 0 {
		opts.Directories = []string{"acme"}
	}
	for _, d := range opts.Directories {
		s.directories[d] = true
	}
	s.handler = s.logRequests(s.requireOperator(s.routes(opts)))
	return s, nil
}

// Handler returns the API's handler. Serve it over TLS with ClientAuth
// set to tls.RequestClientCert (or without client certificates, when only
// tokens are used); it verifies client certificates itself.
func (s *Server) Handler() http.Handler { return s.handler }

// handlerFunc is a route: it writes its answer, or returns an error that
// [Server.fail] turns into one.
type handlerFunc func(w http.ResponseWriter, r *http.Request, op *Operator) error

func (s *Server) routes(opts Options) *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(pattern string, fn handlerFunc) {
		mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := fn(w, r, OperatorFrom(r.Context())); err != nil {
				s.fail(w, r, err)
			}
		}))
	}
	handle("GET /v1/certificates", s.listCertificates)
	handle("GET /v1/certificates/{serial}", s.showCertificate)
	handle("POST /v1/certificates/{serial}/revoke", s.revokeCertificate)
	handle("POST /v1/renewals", s.pushRenewal)
	handle("GET /v1/report", s.report)
	handle("GET /v1/eab-keys", s.listEABKeys)
	handle("POST /v1/eab-keys", s.createEABKey)
	handle("DELETE /v1/eab-keys/{id}", s.revokeEABKey)
	handle("GET /v1/policy", s.showPolicy)
	handle("PUT /v1/policy", s.savePolicy)
	handle("GET /v1/audit", s.listAudit)
	handle("GET /v1/audit/verify", s.verifyAudit)
	handle("/", func(http.ResponseWriter, *http.Request, *Operator) error {
		return errorf(http.StatusNotFound, "no such resource")
	})
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Metrics, promhttp.HandlerOpts{}))
	}
	if opts.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// fail writes err as the JSON error answer; internal errors are logged
// here, once, and reach the caller only as "internal error".
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	pub, known := publicError(err)
	if !known {
		s.log.Error("admin request failed", "method", r.Method, "route", r.Pattern,
			"error", err)
	}
	writeJSON(w, pub.Status, errorBody{Error: pub.Message, Status: pub.Status})
}

// recorder remembers the status and the operator of a request for its log
// event.
type recorder struct {
	http.ResponseWriter
	status   int
	operator *Operator
	route    string
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return rw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (pprof sets
// write deadlines through it).
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// annotate tells the request log who called and which route answered.
func annotate(w http.ResponseWriter, op *Operator, route string) {
	if rw, ok := w.(*recorder); ok {
		rw.operator, rw.route = op, route
	}
}

// logRequests writes one event per request when it ends. Headers are never
// logged: the Authorization header holds a token.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &recorder{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		operator, credential := "", ""
		if rw.operator != nil {
			operator, credential = rw.operator.Label, rw.operator.Credential
		}
		route := rw.route
		if route == "" {
			route = truncate(r.URL.Path, 100)
		}
		s.log.Info("admin request", "method", r.Method, "route", route, "status", rw.status,
			"latency", time.Since(start), "operator", operator, "credential", credential,
			"remote_ip", r.RemoteAddr)
	})
}
