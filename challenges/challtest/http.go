package challtest

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// challengePath is where http-01 responses live (RFC 8555, Section 8.3).
const challengePath = "/.well-known/acme-challenge/"

// HTTPRequest is what [HTTP01Server] saw of one request.
type HTTPRequest struct {
	// Host is the Host header as received.
	Host string
	// Path is the URL path requested.
	Path string
}

// HTTP01Server answers http-01 challenges: a GET for
// /.well-known/acme-challenge/<token> returns the key authorization set for
// the token, and anything else is 404 unless a handler is registered for the
// exact path.
type HTTP01Server struct {
	ln net.Listener

	mu       sync.Mutex
	tokens   map[string]string
	handlers map[string]http.Handler
	requests []HTTPRequest
}

// NewHTTP01Server starts an http-01 responder on a random port of
// 127.0.0.1.
func NewHTTP01Server(t testing.TB) *HTTP01Server {
	t.Helper()
	return NewHTTP01ServerAt(t, "127.0.0.1:0")
}

// NewHTTP01ServerAt starts an http-01 responder listening on addr.
func NewHTTP01ServerAt(t testing.TB, addr string) *HTTP01Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("challtest: http-01 server listening on %s: %v", addr, err)
	}
	s := &HTTP01Server{
		ln:       ln,
		tokens:   make(map[string]string),
		handlers: make(map[string]http.Handler),
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	var done sync.WaitGroup
	done.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("challtest: http-01 server: %v", err)
		}
	})
	t.Cleanup(func() {
		srv.Close()
		done.Wait()
	})
	return s
}

// Addr returns the listening address as host:port.
func (s *HTTP01Server) Addr() string { return s.ln.Addr().String() }

// Port returns the listening port.
func (s *HTTP01Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Set publishes keyAuth as the response for token.
func (s *HTTP01Server) Set(token, keyAuth string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = keyAuth
}

// Delete withdraws the response for token.
func (s *HTTP01Server) Delete(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// Handle serves requests for exactly path with h, before the token table.
func (s *HTTP01Server) Handle(path string, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[path] = h
}

// SetRedirect answers requests for exactly path with a 302 to location.
func (s *HTTP01Server) SetRedirect(path, location string) {
	s.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", location)
		w.WriteHeader(http.StatusFound)
	}))
}

// Requests returns the requests received so far, in order.
func (s *HTTP01Server) Requests() []HTTPRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]HTTPRequest(nil), s.requests...)
}

// ServeHTTP implements http.Handler.
func (s *HTTP01Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, HTTPRequest{Host: r.Host, Path: r.URL.Path})
	h := s.handlers[r.URL.Path]
	keyAuth, ok := s.tokens[strings.TrimPrefix(r.URL.Path, challengePath)]
	s.mu.Unlock()

	switch {
	case h != nil:
		h.ServeHTTP(w, r)
	case ok && strings.HasPrefix(r.URL.Path, challengePath):
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.WriteString(w, keyAuth)
	default:
		http.NotFound(w, r)
	}
}
