package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// challengePrefix is the path under which http-01 key authorizations are
// served (RFC 8555, Section 8.3).
const challengePrefix = "/.well-known/acme-challenge/"

// http01Responder serves key authorizations by token for every client.
type http01Responder struct {
	keyAuths sync.Map // token -> key authorization
	srv      *http.Server
	addr     string // where it listens, port resolved
}

// startHTTP01 listens on addr and serves until close.
func startHTTP01(addr string) (*http01Responder, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http-01 responder listening on %s: %w", addr, err)
	}
	r := &http01Responder{addr: ln.Addr().String()}
	r.srv = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       30 * time.Second,
	}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// ServeHTTP answers GET /.well-known/acme-challenge/<token>.
func (r *http01Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	token, ok := strings.CutPrefix(req.URL.Path, challengePrefix)
	if !ok || req.Method != http.MethodGet {
		http.NotFound(w, req)
		return
	}
	v, ok := r.keyAuths.Load(token)
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(v.(string)))
}

func (r *http01Responder) put(token, keyAuth string) { r.keyAuths.Store(token, keyAuth) }
func (r *http01Responder) remove(token string)       { r.keyAuths.Delete(token) }

func (r *http01Responder) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
}

// dnsServer answers A 127.0.0.1 for every name, over UDP and TCP, and
// NOERROR with no records for every other type, so that validators find
// the http-01 responder on loopback whatever name was ordered.
type dnsServer struct {
	servers []*dns.Server
}

// startDNS listens on addr for UDP and TCP.
func startDNS(addr string) (*dnsServer, error) {
	d := &dnsServer{}
	for _, network := range []string{"udp", "tcp"} {
		srv := &dns.Server{Addr: addr, Net: network, Handler: dns.HandlerFunc(answerLoopback)}
		started := make(chan struct{})
		failed := make(chan error, 1)
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { failed <- srv.ListenAndServe() }()
		select {
		case <-started:
		case err := <-failed:
			d.close()
			return nil, fmt.Errorf("dns server listening on %s/%s: %w", addr, network, err)
		case <-time.After(5 * time.Second):
			d.close()
			return nil, fmt.Errorf("dns server on %s/%s did not start", addr, network)
		}
		d.servers = append(d.servers, srv)
	}
	return d, nil
}

func answerLoopback(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg).SetReply(req)
	m.Authoritative = true
	for _, q := range req.Question {
		if q.Qtype != dns.TypeA {
			continue
		}
		m.Answer = append(m.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0},
			A:   net.IPv4(127, 0, 0, 1),
		})
	}
	// A write error only means the resolver went away; it will retry.
	_ = w.WriteMsg(m)
}

func (d *dnsServer) close() {
	for _, s := range d.servers {
		_ = s.Shutdown()
	}
}

// loadPool reads a PEM file of certificates into a pool.
func loadPool(path string) (*x509.CertPool, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading roots: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("no PEM certificate in %s", path)
	}
	return pool, nil
}
