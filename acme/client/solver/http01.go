package solver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/acmegate/acmegate/acme/client"
)

// HTTP01 serves http-01 key authorizations at
// /.well-known/acme-challenge/<token> (RFC 8555, Section 8.3). It listens
// from the first Present until Close. It is safe for concurrent use.
type HTTP01 struct {
	addr string
	acme *client.Client
	log  *slog.Logger

	mu     sync.Mutex
	ln     net.Listener
	srv    *http.Server
	tokens map[string]string
}

// NewHTTP01 returns a responder that will listen on addr (":80" for the
// validation port of RFC 8555) and answer with the key authorizations of
// acme's account key. A nil log discards messages.
func NewHTTP01(addr string, acme *client.Client, log *slog.Logger) *HTTP01 {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HTTP01{addr: addr, acme: acme, log: log, tokens: make(map[string]string)}
}

// Addr returns the listening address, or "" before the first Present.
func (h *HTTP01) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln == nil {
		return ""
	}
	return h.ln.Addr().String()
}

// Present serves the key authorization of ch's token, starting the
// listener on first use; it returns a nil payload ({}).
func (h *HTTP01) Present(
	_ context.Context,
	_ *client.Authorization,
	ch *client.Challenge,
) (any, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv == nil {
		if err := h.listen(); err != nil {
			return nil, nil, err
		}
	}
	h.tokens[ch.Token] = h.acme.KeyAuthorization(ch.Token)
	withdraw := func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.tokens, ch.Token)
	}
	return nil, withdraw, nil
}

// listen starts the server; h.mu is held.
func (h *HTTP01) listen() error {
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		return fmt.Errorf("solver: http-01 responder: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/acme-challenge/{token}", h.serveToken)
	h.ln = ln
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("http-01 responder stopped", "error", err)
		}
	}(h.srv)
	h.log.Info("http-01 responder listening", "address", ln.Addr().String())
	return nil
}

// serveToken answers one validation request.
func (h *HTTP01) serveToken(w http.ResponseWriter, req *http.Request) {
	h.mu.Lock()
	keyAuth, ok := h.tokens[req.PathValue("token")]
	h.mu.Unlock()
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, keyAuth)
}

// Close stops the listener, waiting up to five seconds for requests in
// flight.
func (h *HTTP01) Close() {
	h.mu.Lock()
	srv := h.srv
	h.srv, h.ln = nil, nil
	h.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}
